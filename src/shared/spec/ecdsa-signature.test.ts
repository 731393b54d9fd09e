import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync, sign, verify } from "node:crypto";
import { DecodeError, fromHex, toHex } from "../base/index.js";
import {
  SIGNATURE_R_OFFSET,
  SIGNATURE_S_OFFSET,
  SIGNATURE_SIZE,
  derToSignatureField,
  signatureFromRS,
  signatureToDer,
  signatureToRS,
} from "./ecdsa-signature.js";

test("signature field layout: R at +0x00, S at +0x48, 72-byte little-endian, 0x200 bytes", () => {
  assert.deepEqual([SIGNATURE_R_OFFSET, SIGNATURE_S_OFFSET, SIGNATURE_SIZE], [0x00, 0x48, 0x200]);
  const f = signatureFromRS({ r: 0x0102n, s: 0x0304n });
  assert.equal(f.length, 512);
  assert.deepEqual([f[0], f[1], f[0x48], f[0x49]], [0x02, 0x01, 0x04, 0x03]);
  assert.deepEqual(signatureToRS(f), { r: 0x0102n, s: 0x0304n });
});

test("DER encoding: minimal positive INTEGERs", () => {
  // r = 0x80 needs a leading zero; s = 1.
  assert.equal(toHex(signatureToDer(signatureFromRS({ r: 0x80n, s: 1n }))), "3007020200800201" + "01");
  assert.equal(toHex(signatureToDer(signatureFromRS({ r: 0n, s: 0x7fn }))), "30060201000201" + "7f");
});

test("node:crypto P-384 signatures round-trip through the SNP field and still verify", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
  for (let i = 0; i < 20; i++) {
    const msg = new Uint8Array([i, 1, 2, 3]);
    const der = new Uint8Array(sign("sha384", msg, { key: privateKey, dsaEncoding: "der" }));
    const field = derToSignatureField(der);
    assert.deepEqual(signatureToDer(field), der);
    assert.ok(verify("sha384", msg, { key: publicKey, dsaEncoding: "der" }, signatureToDer(field)));
    // The IEEE-P1363 form is R‖S big-endian, 48 bytes each: the field holds them reversed.
    const p1363 = new Uint8Array(sign("sha384", msg, { key: privateKey, dsaEncoding: "ieee-p1363" }));
    const rs = derToSignatureField(signatureToDer(signatureFromRS({ r: BigInt("0x" + toHex(p1363.subarray(0, 48))), s: BigInt("0x" + toHex(p1363.subarray(48))) })));
    assert.ok(verify("sha384", msg, { key: publicKey, dsaEncoding: "der" }, signatureToDer(rs)));
  }
});

test("strict DER decoding rejects malformed input with DecodeError", () => {
  const bad = [
    "", // empty
    "30", // truncated
    "3100", // SET, not SEQUENCE
    "3003020101", // one INTEGER
    "30060201010201", // truncated s
    "300602010102010100", // trailing byte
    "30050200020101", // empty INTEGER
    "300702020001020101", // non-minimal r
    "3006020181020101", // negative r
    "3006020101030101", // BIT STRING instead of INTEGER
    "308106020101020101", // non-minimal long-form length
    "304e0249" + "01" + "00".repeat(72) + "020101", // 73-byte r
  ];
  for (const h of bad) assert.throws(() => derToSignatureField(fromHex(h)), DecodeError, h);
  assert.ok(derToSignatureField(fromHex("3006020101020101")));
});

test("signatureToRS checks length and the zero tail", () => {
  assert.throws(() => signatureToRS(new Uint8Array(0x1ff)), { code: "BAD_LENGTH" });
  const f = new Uint8Array(0x200);
  f[0x90] = 1;
  assert.throws(() => signatureToRS(f), { code: "SIGNATURE_TAIL_NONZERO" });
});

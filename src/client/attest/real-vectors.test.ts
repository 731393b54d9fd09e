/**
 * The five real AMD reports in ../shared/vectors verify with their certificates (through
 * the built-in roots, and through the chain file that came with them), and each is
 * rejected — with exact error codes — after one-bit changes in its signed part, its
 * signature or its VCEK/VLEK, or against another product's chain.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { fixedClock, SeededRng } from "../../shared/base/index.js";
import { ATTESTATION_REPORT_V5, SIGNED_REGION_END } from "../../shared/spec/index.js";
import { checkAttestation } from "./attest.js";
import { parseCertificate } from "./certificate.js";
import { failedCodes } from "./checks.js";
import { verifyAttestation } from "./verify.js";
import { readVector, REAL_EVIDENCE, type RealEvidence } from "./testing/vectors.js";

function run(v: RealEvidence, over: Record<string, unknown> = {}, policy = v.policy): string[] {
  const input = { report: readVector(v.report), certificate: readVector(v.certificate), keyKind: v.keyKind, clock: fixedClock(v.at), ...over };
  return failedCodes(checkAttestation(input, policy).checks);
}

function flip(b: Uint8Array, bit: number): Uint8Array {
  const c = b.slice();
  c[bit >> 3]! ^= 1 << (bit & 7);
  return c;
}

function indexOf(h: Uint8Array, n: Uint8Array): number {
  outer: for (let i = 0; i + n.length <= h.length; i++) {
    for (let j = 0; j < n.length; j++) if (h[i + j] !== n[j]) continue outer;
    return i;
  }
  return -1;
}

/** DER of the OID of an AMD extension, e.g. "3.3" → 06 0a 2b 06 01 04 01 9c 78 01 03 03. */
function amdOidDer(suffix: string): Uint8Array {
  const arcs = suffix.split(".").map(Number);
  const body = [0x2b, 0x06, 0x01, 0x04, 0x01, 0x9c, 0x78, 0x01, ...arcs];
  return new Uint8Array([0x06, body.length, ...body]);
}

const OTHER_CHAINS = {
  milan: "go-sev-guest/ask_ark_milan.pem",
  genoa: "go-sev-guest/ask_ark_genoa.pem",
  turin: "go-sev-guest/ask_ark_turin_vcek.pem",
} as const;

for (const v of REAL_EVIDENCE) {
  const signedBy = v.keyKind === "vcek" ? "VCEK_NOT_SIGNED_BY_ASK" : "VLEK_NOT_SIGNED_BY_ASVK";

  test(`${v.name}: verifies with the built-in roots and with its own chain file`, () => {
    assert.deepEqual(run(v), []);
    assert.deepEqual(run(v, { chain: readVector(v.chain) }), []);
    const r = checkAttestation(
      { report: readVector(v.report), certificate: readVector(v.certificate), keyKind: v.keyKind, clock: fixedClock(v.at) },
      v.policy,
    );
    assert.equal(r.ok, true);
    assert.equal(r.product, v.product);
    assert.equal(r.arkSource, "builtin");
  });

  test(`${v.name}: every bit flipped in a sample of the signed part breaks the signature`, () => {
    const report = readVector(v.report);
    const rng = new SeededRng(`flip/${v.name}`);
    // The first bit of every field of the table, and 40 random bits.
    const bits = new Set<number>(ATTESTATION_REPORT_V5.fields.filter((f) => f.offset < SIGNED_REGION_END).map((f) => f.offset * 8));
    for (let i = 0; i < 40; i++) bits.add(rng.int(SIGNED_REGION_END * 8));
    for (const bit of bits) {
      const codes = run(v, { report: flip(report, bit) });
      assert.ok(codes.includes("SIGNATURE_INVALID"), `bit ${bit} (byte 0x${(bit >> 3).toString(16)}): ${codes.join(",")}`);
    }
    // A field nothing else looks at: only the signature fails.
    assert.deepEqual(run(v, { report: flip(report, 0x140 * 8 + 3) }), ["SIGNATURE_INVALID"]);
    // REPORT_DATA: the signature (and the policy's REPORT_DATA binding) fail.
    const rd = report.slice(0x50, 0x90);
    assert.deepEqual(run(v, { report: flip(report, 0x50 * 8) }, { ...v.policy, reportData: rd }), ["SIGNATURE_INVALID", "REPORT_DATA_MISMATCH"]);
  });

  test(`${v.name}: a flipped bit in R, S or the zero high bytes of R is an invalid signature`, () => {
    const report = readVector(v.report);
    for (const byte of [0x2a0, 0x2a0 + 47, 0x2e8, 0x2e8 + 20, 0x2a0 + 60]) {
      assert.deepEqual(run(v, { report: flip(report, byte * 8 + 1) }), ["SIGNATURE_INVALID"], `byte 0x${byte.toString(16)}`);
    }
    // The must-be-zero tail of the signature field: the parser refuses it too.
    assert.deepEqual(run(v, { report: flip(report, 0x400 * 8) }), ["SIGNATURE_TAIL_NONZERO", "SIGNATURE_INVALID"]);
  });

  test(`${v.name}: a flipped bit in the ${v.keyKind.toUpperCase()} is caught`, () => {
    const cert = readVector(v.certificate);
    const c = parseCertificate(cert);
    const spki = indexOf(cert, c.spki);
    // The public key point: no longer on the curve; the issuer's signature fails too.
    assert.deepEqual(run(v, { certificate: flip(cert, (spki + c.spki.length - 1) * 8) }), [signedBy, "CERT_MALFORMED"]);
    // The issuer's signature value.
    assert.deepEqual(run(v, { certificate: flip(cert, (cert.length - 5) * 8) }), [signedBy]);
    // snpSPL value (INTEGER inside the extnValue OCTET STRING).
    const snp = indexOf(cert, amdOidDer("3.3"));
    assert.deepEqual(run(v, { certificate: flip(cert, (snp + 12 + 4) * 8) }), [signedBy, "TCB_EXTENSION_MISMATCH"]);
    if (v.keyKind === "vcek") {
      const hw = indexOf(cert, amdOidDer("4"));
      assert.deepEqual(run(v, { certificate: flip(cert, (hw + 11 + 2 + 3) * 8) }), [signedBy, "HWID_MISMATCH"]);
    }
  });

  test(`${v.name}: rejected against another product's chain or product`, () => {
    for (const [p, chain] of Object.entries(OTHER_CHAINS)) {
      if (p === v.product) continue;
      assert.deepEqual(run(v, { chain: readVector(chain) }), ["ARK_NOT_TRUSTED", signedBy], chain);
    }
    const other = v.product === "genoa" ? "milan" : "genoa";
    assert.deepEqual(run(v, { product: other }), ["PRODUCT_MISMATCH", signedBy]);
  });
}

test("go-sev-guest's report (DEBUG=1) fails the default policy with DEBUG_ALLOWED only", () => {
  assert.deepEqual(run(REAL_EVIDENCE[0]!, {}, {}), ["DEBUG_ALLOWED"]);
});

test("the VLEK report needs VMPL 1 and a time inside the VLEK's validity (it expired 2025-12-10)", () => {
  const v = REAL_EVIDENCE.find((e) => e.keyKind === "vlek")!;
  assert.deepEqual(run(v, {}, {}), ["VMPL_MISMATCH"]);
  const after = checkAttestation(
    { report: readVector(v.report), certificate: readVector(v.certificate), keyKind: "vlek", clock: fixedClock("2025-12-11T00:00:00Z") },
    v.policy,
  );
  assert.deepEqual(failedCodes(after.checks), ["CERT_EXPIRED"]);
  assert.equal(after.checks.find((c) => c.error?.code === "CERT_EXPIRED")?.error?.details["role"], "VLEK");
  assert.deepEqual(run(v, { clock: fixedClock("2024-12-01T00:00:00Z") }), ["CERT_NOT_YET_VALID"]);
  // A VLEK given as --vcek: subject, issuer (the ASK) and signing key all disagree; CHIP_ID is
  // zero in this report, so there is no hwID to compare.
  assert.deepEqual(run(v, { keyKind: "vcek" }), ["CERT_ROLE_MISMATCH", "VCEK_NOT_SIGNED_BY_ASK", "SIGNING_KEY_MISMATCH"]);
});

test("a VCEK report checked as VLEK names the role and signing-key mismatch", () => {
  const v = REAL_EVIDENCE[1]!;
  assert.deepEqual(run(v, { keyKind: "vlek" }), ["CERT_ROLE_MISMATCH", "VLEK_NOT_SIGNED_BY_ASVK", "SIGNING_KEY_MISMATCH"]);
});

test("one report does not verify with another chip's VCEK", () => {
  const [gsg, virtee] = REAL_EVIDENCE;
  const codes = run(gsg!, { certificate: readVector(virtee!.certificate) });
  assert.ok(codes.includes("SIGNATURE_INVALID"));
  assert.ok(codes.includes("HWID_MISMATCH"));
  assert.ok(codes.includes("TCB_EXTENSION_MISMATCH"));
});

test("the Turin VCEK (no Turin report exists) chains to the built-in Turin ARK and has fmcSPL and an 8-byte hwID", () => {
  const r = verifyAttestation({
    report: readVector("virtee-sev/report_milan.bin"),
    certificate: readVector("virtee-sev/vcek_turin.der"),
    keyKind: "vcek",
    clock: fixedClock("2025-06-01T00:00:00Z"),
  });
  assert.equal(r.product, "turin");
  const chain = r.checks.filter((c) => /^(chain|ark|ask|vcek)\./.test(c.id));
  assert.ok(chain.length >= 15);
  assert.deepEqual(chain.filter((c) => c.status !== "pass").map((c) => c.id), []);
  assert.equal(r.extensions?.fmcSpl, 0);
  assert.equal(r.extensions?.hwId?.length, 8);
  assert.equal(r.extensions?.structVersion, 1);
  // The Milan report does not match it, of course.
  assert.ok(failedCodes(r.checks).includes("SIGNATURE_INVALID"));
  assert.ok(failedCodes(r.checks).includes("HWID_MISMATCH"));
});

test("every real report parses through the chain file variants (ASK+ARK+ASVK bundles too)", () => {
  for (const v of REAL_EVIDENCE) {
    const bundle = `trustee/${v.product}_ask_ark_asvk.pem`;
    assert.deepEqual(run(v, { chain: readVector(bundle) }), [], `${v.name} with ${bundle}`);
  }
});

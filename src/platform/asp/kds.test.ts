import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SeededRng, concatBytes, fromHex } from "../../shared/base/index.js";
import { SIGNED_REGION_END, encodeTcbVersion, kdsCrlUrl, signatureToDer } from "../../shared/spec/index.js";
import { readVector, readVectorText } from "./testing/vectors.js";
import {
  KEY_USAGE,
  amdName,
  authorityKeyIdExtension,
  basicConstraintsExtension,
  crlDistributionPointExtension,
  keyIdentifier,
  keyUsageExtension,
  subjectKeyIdExtension,
  toPem,
} from "./certificate-builder.js";
import { rsaPssSha384AlgorithmId } from "./der.js";
import type { AspConfig } from "./hardware.js";
import { createSecureProcessor } from "./index.js";
import { vcekExtensions } from "./simulated-kds.js";
import { FakeHardware, TEST_EPOCH, testConfig } from "./testing/fake-hardware.js";
import { buildRequestPage, openResponsePage, reportRequest, reportResponse } from "./testing/guest-client.js";
import { launchGuest } from "./testing/launched-guest.js";

const WORK = mkdtempSync(join(tmpdir(), "seven-asp-kds-"));
const EPOCH_S = Math.floor(Date.parse(TEST_EPOCH) / 1000);
const DAY = 86400;

function openssl(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync("openssl", args, { cwd: WORK, encoding: "utf8" });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

function has(hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay).indexOf(Buffer.from(needle)) >= 0;
}

/** Writes the chain of `cfg`'s ASP into WORK/<dir>/ as DER and PEM. */
function writeChain(cfg: AspConfig, dir: string) {
  const asp = createSecureProcessor(new FakeHardware(), cfg);
  const c = asp.certificates();
  const d = join(WORK, dir);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, "ark.pem"), asp.arkPem);
  writeFileSync(join(d, "ask.pem"), toPem(c.ask));
  writeFileSync(join(d, "vcek.pem"), toPem(c.vcek));
  for (const [n, der] of [["ark", c.ark], ["ask", c.ask], ["vcek", c.vcek]] as const) writeFileSync(join(d, `${n}.der`), der);
  return { asp, c, d };
}

function verifyChain(d: string, at: number, ark = "ark.pem"): { ok: boolean; out: string } {
  return openssl(["verify", "-attime", String(at), "-CAfile", join(d, ark), "-untrusted", join(d, "ask.pem"), join(d, "vcek.pem")]);
}

test("the ARK → ASK → VCEK chain verifies with `openssl verify` (SNP.md §7.2), within its validity only", () => {
  const { d } = writeChain(testConfig(), "milan");
  const ok = verifyChain(d, EPOCH_S + DAY);
  assert.ok(ok.ok && ok.out.includes("vcek.pem: OK"), ok.out);
  const expired = verifyChain(d, EPOCH_S + 8 * 365 * DAY);
  assert.ok(!expired.ok && expired.out.includes("expired"), expired.out);
  const early = verifyChain(d, EPOCH_S - DAY);
  assert.ok(!early.ok && early.out.includes("not yet valid"), early.out);
  const noAsk = openssl(["verify", "-attime", String(EPOCH_S + DAY), "-CAfile", join(d, "ark.pem"), join(d, "vcek.pem")]);
  assert.ok(!noAsk.ok, "the VCEK does not chain to the ARK directly");
  const amdRoot = join(WORK, "amd-milan-ark.pem");
  writeFileSync(amdRoot, readVectorText("amd-trust/milan_ark.pem"));
  assert.equal(verifyChain(d, EPOCH_S + DAY, amdRoot).ok, false, "AMD's real ARK does not vouch for the simulated chain");
});

test("Genoa and Turin chains verify with openssl too", () => {
  for (const product of ["genoa", "turin"] as const) {
    const { d } = writeChain(testConfig({ product }), product);
    const r = verifyChain(d, EPOCH_S + DAY);
    assert.ok(r.ok && r.out.includes("vcek.pem: OK"), `${product}: ${r.out}`);
  }
});

test("each RSASSA-PSS signature verifies with openssl dgst (SHA-384, MGF1-SHA-384, salt 48), as SNP.md §7.2", () => {
  const { d } = writeChain(testConfig(), "milan-pss");
  for (const n of ["ark", "ask"]) {
    const r = openssl(["x509", "-in", join(d, `${n}.pem`), "-pubkey", "-noout", "-out", join(d, `${n}_pub.pem`)]);
    assert.ok(r.ok, r.out);
  }
  for (const [child, issuer] of [["ark", "ark"], ["ask", "ark"], ["vcek", "ask"], ["vcek", "ark"]] as const) {
    const der = new Uint8Array(readFileSync(join(d, `${child}.der`)));
    writeFileSync(join(d, `${child}.sig`), der.subarray(der.length - 512));
    const tbs = openssl(["asn1parse", "-inform", "DER", "-in", join(d, `${child}.der`), "-strparse", "4", "-noout", "-out", join(d, `${child}.tbs`)]);
    assert.ok(tbs.ok, tbs.out);
    const v = openssl([
      "dgst", "-sha384", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:48", "-sigopt", "rsa_mgf1_md:sha384",
      "-verify", join(d, `${issuer}_pub.pem`), "-signature", join(d, `${child}.sig`), join(d, `${child}.tbs`),
    ]);
    const expectOk = !(child === "vcek" && issuer === "ark");
    assert.equal(v.out.includes("Verified OK"), expectOk, `${issuer} → ${child}: ${v.out}`);
  }
});

test("a report verifies with openssl dgst and the VCEK's public key; one flipped bit does not (SNP.md §7.2)", () => {
  const g = launchGuest(testConfig());
  const key = g.vmpck[0]!;
  g.hw.hostWrite(g.request, buildRequestPage({ key, vmpck: 0, seqno: 1n, payload: reportRequest(new Uint8Array(64).fill(5), 0) }));
  assert.equal(g.asp.guestRequest(g.request, g.response), 0);
  const report = reportResponse(openResponsePage(g.hw.readPage(g.response), key).payload).report;
  const d = join(WORK, "report");
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, "vcek.der"), g.asp.certificates().vcek);
  writeFileSync(join(d, "signed.bin"), report.subarray(0, SIGNED_REGION_END));
  writeFileSync(join(d, "sig.der"), signatureToDer(report.subarray(0x2a0)));
  const flipped = new Uint8Array(report.subarray(0, SIGNED_REGION_END));
  flipped[0x50]! ^= 1;
  writeFileSync(join(d, "flipped.bin"), flipped);
  const pub = openssl(["x509", "-inform", "DER", "-in", join(d, "vcek.der"), "-pubkey", "-noout", "-out", join(d, "vcek_pub.pem")]);
  assert.ok(pub.ok, pub.out);
  const dgst = (f: string) => openssl(["dgst", "-sha384", "-verify", join(d, "vcek_pub.pem"), "-signature", join(d, "sig.der"), join(d, f)]);
  assert.match(dgst("signed.bin").out, /Verified OK/);
  assert.match(dgst("flipped.bin").out, /Verification failure/);
});

test("certificate profile: serials, names, validity, CA flags, issuers (node:crypto X509Certificate)", () => {
  const asp = createSecureProcessor(new FakeHardware(), testConfig());
  const c = asp.certificates();
  const ark = new X509Certificate(c.ark);
  const ask = new X509Certificate(c.ask);
  const vcek = new X509Certificate(c.vcek);
  assert.equal(ark.toString(), asp.arkPem);
  assert.equal(c.arkPem, asp.arkPem);
  const dn = (cn: string) => `OU=Engineering\nC=US\nL=Santa Clara\nST=CA\nO=Advanced Micro Devices\nCN=${cn}`;
  assert.deepEqual([ark.subject, ark.issuer], [dn("ARK-Milan"), dn("ARK-Milan")]);
  assert.deepEqual([ask.subject, ask.issuer], [dn("SEV-Milan"), dn("ARK-Milan")]);
  assert.deepEqual([vcek.subject, vcek.issuer], [dn("SEV-VCEK"), dn("SEV-Milan")]);
  assert.deepEqual([ark.serialNumber, ask.serialNumber, vcek.serialNumber], ["010000", "010001", "0"]);
  assert.deepEqual([ark.ca, ask.ca, vcek.ca], [true, true, false]);
  assert.equal(new Date(ark.validFrom).toISOString(), "2026-01-15T12:00:00.000Z");
  assert.equal(new Date(ark.validTo).toISOString(), "2051-01-15T12:00:00.000Z");
  assert.equal(new Date(ask.validTo).toISOString(), "2051-01-15T12:00:00.000Z");
  assert.equal(new Date(vcek.validTo).toISOString(), "2033-01-15T12:00:00.000Z");
  assert.ok(ark.checkIssued(ark) && ask.checkIssued(ark) && vcek.checkIssued(ask));
  assert.ok(ark.verify(ark.publicKey) && ask.verify(ark.publicKey) && vcek.verify(ask.publicKey));
  assert.equal(vcek.verify(ark.publicKey), false);
  assert.deepEqual([ark.publicKey.asymmetricKeyType, ark.publicKey.asymmetricKeyDetails?.modulusLength], ["rsa", 4096]);
  assert.equal(ark.publicKey.asymmetricKeyDetails?.publicExponent, 65537n);
  assert.equal(ask.publicKey.asymmetricKeyDetails?.modulusLength, 4096);
  assert.deepEqual([vcek.publicKey.asymmetricKeyType, vcek.publicKey.asymmetricKeyDetails?.namedCurve], ["ec", "secp384r1"]);
});

test("names, algorithm identifiers and CA extensions are byte-identical to AMD's real Milan ARK and ASK", () => {
  const amdArk = pemToDer(readVectorText("amd-trust/milan_ark.pem"));
  const amdAsk = pemToDer(readVectorText("amd-trust/milan_ask.pem"));
  assert.ok(has(amdArk, amdName("ARK-Milan")) && has(amdAsk, amdName("SEV-Milan")));
  assert.ok(has(amdArk, rsaPssSha384AlgorithmId(true)) && has(amdAsk, rsaPssSha384AlgorithmId(true)));
  assert.ok(has(readVector("trustee/e2e_vcek_genoa.der"), rsaPssSha384AlgorithmId(false)), "current VCEKs omit the PSS trailer");
  const crl = crlDistributionPointExtension(kdsCrlUrl("milan"));
  const amdArkSki = fromHex("85ac1ad143f7c8ac55d4c51d4148abd5784ad453");
  const amdAskSki = fromHex("3bc66e182ac3fd3d6264489be3b7472cb4fcbff8");
  const arkExts = (ski: Uint8Array) => concatBytes(keyUsageExtension([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign]), subjectKeyIdExtension(ski), basicConstraintsExtension(), crl);
  const askExts = (ski: Uint8Array, aki: Uint8Array) =>
    concatBytes(subjectKeyIdExtension(ski), authorityKeyIdExtension(aki), basicConstraintsExtension(0), keyUsageExtension([KEY_USAGE.keyCertSign]), crl);
  assert.ok(has(amdArk, arkExts(amdArkSki)), "ARK extensions");
  assert.ok(has(amdAsk, askExts(amdAskSki, amdArkSki)), "ASK extensions");
  // The simulated ARK/ASK carry the same blocks with their own key identifiers.
  const asp = createSecureProcessor(new FakeHardware(), testConfig());
  const c = asp.certificates();
  const ski = (der: Uint8Array) => keyIdentifier(rsaPublicKeyOf(der));
  assert.ok(has(c.ark, arkExts(ski(c.ark))));
  assert.ok(has(c.ask, askExts(ski(c.ask), ski(c.ark))));
  assert.ok(has(c.ark, amdName("ARK-Milan")) && has(c.ask, amdName("SEV-Milan")) && has(c.vcek, amdName("SEV-VCEK")));
});

test("VCEK extensions are byte-identical to real VCEKs with the same TCB and hwID (Genoa, Turin; Milan after productName)", () => {
  const genoa = readVector("trustee/e2e_vcek_genoa.der");
  const genoaHwId = fromHex(
    "371C55D6D15CB50F16DC31D39A24E300CAAABFF4431E841111429B73EC45AD67EA6E687FFAE7BF84B54A5D0E6D79B3EF6FF0BD8B4CFF94C2163AF5C5DE8718E8",
  );
  const gTcb = encodeTcbVersion({ bootloader: 10, tee: 0, snp: 23, microcode: 25 }, "genoa");
  assert.ok(has(genoa, concatBytes(...vcekExtensions("genoa", gTcb, genoaHwId))), "Genoa");
  const turin = readVector("virtee-sev/vcek_turin.der");
  const tHwId = concatBytes(fromHex("1E550A8EE5CF9F4D"), new Uint8Array(56));
  const tTcb = encodeTcbVersion({ fmc: 0, bootloader: 0, tee: 0, snp: 0, microcode: 9 }, "turin");
  assert.ok(has(turin, concatBytes(...vcekExtensions("turin", tTcb, tHwId))), "Turin");
  const milan = readVector("trustee/test-vcek.der"); // productName "Milan-B0": compare from blSPL on
  const mHwId = fromHex(
    "C38427A30D4C7AF9D96F7A15B97269825A64CB76A2352FFD5D18115D89AD473F8E8C0BCD9A5D9286612BAD4AADFB4426205A3B9E4FEA82301135A170E477524E",
  );
  const mTcb = encodeTcbVersion({ bootloader: 3, tee: 0, snp: 8, microcode: 115 }, "milan");
  assert.ok(has(milan, concatBytes(...vcekExtensions("milan", mTcb, mHwId).slice(2))), "Milan");
  assert.ok(!has(milan, concatBytes(...vcekExtensions("milan", mTcb + 1n, mHwId).slice(2))), "a different TCB does not match");
});

test("the VCEK follows the TCB: another REPORTED_TCB gives another key and certificate, same chip", () => {
  const a = createSecureProcessor(new FakeHardware(), testConfig()).certificates();
  const tcb = encodeTcbVersion({ bootloader: 3, tee: 0, snp: 21, microcode: 210 }, "milan");
  const b = createSecureProcessor(new FakeHardware(), testConfig({ tcb })).certificates();
  assert.deepEqual(b.ark, a.ark);
  assert.deepEqual(b.ask, a.ask);
  const ka = new X509Certificate(a.vcek).publicKey.export({ format: "der", type: "spki" });
  const kb = new X509Certificate(b.vcek).publicKey.export({ format: "der", type: "spki" });
  assert.notDeepEqual(ka, kb);
  assert.ok(has(b.vcek, concatBytes(...vcekExtensions("milan", tcb, new Uint8Array(64)).slice(2, 10))));
});

test("determinism: the same seed and clock give identical certificates; another seed gives another ARK", () => {
  const a = createSecureProcessor(new FakeHardware(), testConfig()).certificates();
  const b = createSecureProcessor(new FakeHardware(), { ...testConfig(), rng: new SeededRng("asp-test-seed") }).certificates();
  assert.deepEqual(b, a);
  const other = createSecureProcessor(new FakeHardware(), testConfig({}, "another kds seed"));
  assert.notDeepEqual(other.certificates().ark, a.ark);
});

function pemToDer(pem: string): Uint8Array {
  return new Uint8Array(new X509Certificate(pem).raw);
}

/** The PKCS#1 RSAPublicKey of a certificate's key (what the SKI hashes). */
function rsaPublicKeyOf(der: Uint8Array): Uint8Array {
  return new Uint8Array(new X509Certificate(der).publicKey.export({ format: "der", type: "pkcs1" }));
}

import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate, verify } from "node:crypto";
import { DecodeError, toHex } from "../base/index.js";
import {
  ATTESTATION_REPORT_V2,
  ATTESTATION_REPORT_V3,
  ATTESTATION_REPORT_V5,
  REPORT_SIZE,
  ReportDecodeError,
  SIGNED_REGION_END,
  parseAttestationReport,
  serializeAttestationReport,
  signedRegion,
} from "./attestation-report.js";
import type { AttestationReport } from "./attestation-report.js";
import { derToSignatureField, signatureToDer } from "./ecdsa-signature.js";
import { decodeSignerInfo } from "./signer-info.js";
import { decodeTcbVersion } from "./tcb-version.js";
import { REAL_REPORTS, findHwIdByScan, readVector } from "./testing/vectors.js";

// Offsets and sizes copied by hand from SNP.md §1 (not derived from the tables).
const HAND_COMMON: [string, number, number][] = [
  ["version", 0x000, 4], ["guestSvn", 0x004, 4], ["policy", 0x008, 8], ["familyId", 0x010, 16],
  ["imageId", 0x020, 16], ["vmpl", 0x030, 4], ["signatureAlgo", 0x034, 4], ["currentTcb", 0x038, 8],
  ["platformInfo", 0x040, 8], ["signerInfo", 0x048, 4], ["reserved_0x04c", 0x04c, 4], ["reportData", 0x050, 64],
  ["measurement", 0x090, 48], ["hostData", 0x0c0, 32], ["idKeyDigest", 0x0e0, 48], ["authorKeyDigest", 0x110, 48],
  ["reportId", 0x140, 32], ["reportIdMa", 0x160, 32], ["reportedTcb", 0x180, 8], ["chipId", 0x1a0, 64],
  ["committedTcb", 0x1e0, 8], ["currentBuild", 0x1e8, 1], ["currentMinor", 0x1e9, 1], ["currentMajor", 0x1ea, 1],
  ["reserved_0x1eb", 0x1eb, 1], ["committedBuild", 0x1ec, 1], ["committedMinor", 0x1ed, 1],
  ["committedMajor", 0x1ee, 1], ["reserved_0x1ef", 0x1ef, 1], ["launchTcb", 0x1f0, 8], ["signature", 0x2a0, 512],
];
const HAND_V2: [string, number, number][] = [["reserved_0x188", 0x188, 0x18], ["reserved_0x1f8", 0x1f8, 0xa8]];
const HAND_V3: [string, number, number][] = [
  ["cpuidFamId", 0x188, 1], ["cpuidModId", 0x189, 1], ["cpuidStep", 0x18a, 1], ["reserved_0x18b", 0x18b, 21],
  ["reserved_0x1f8", 0x1f8, 0xa8],
];
const HAND_V5: [string, number, number][] = [
  ["cpuidFamId", 0x188, 1], ["cpuidModId", 0x189, 1], ["cpuidStep", 0x18a, 1], ["reserved_0x18b", 0x18b, 21],
  ["launchMitVector", 0x1f8, 8], ["currentMitVector", 0x200, 8], ["reserved_0x208", 0x208, 0x98],
];

test("report tables match SNP.md §1 offsets and cover all 0x4A0 bytes", () => {
  assert.equal(REPORT_SIZE, 0x4a0);
  assert.equal(SIGNED_REGION_END, 0x2a0);
  for (const [layout, extra] of [
    [ATTESTATION_REPORT_V2, HAND_V2],
    [ATTESTATION_REPORT_V3, HAND_V3],
    [ATTESTATION_REPORT_V5, HAND_V5],
  ] as const) {
    const hand = [...HAND_COMMON, ...extra];
    assert.equal(layout.fields.length, hand.length, layout.name);
    for (const [name, off, size] of hand) {
      assert.equal(layout.field(name).offset, off, `${layout.name}.${name} offset`);
      assert.equal(layout.field(name).size, size, `${layout.name}.${name} size`);
    }
    assert.equal(hand.reduce((n, [, , s]) => n + s, 0), 0x4a0, `${layout.name} has no gaps`);
  }
});

// SNP.md §7.1, copied by hand: version, VMPL, signer, policy, platform_info, REPORTED_TCB bl/tee/snp/ucode, fw.
const EXPECTED: Record<string, { v: number; vmpl: number; signer: "vcek" | "vlek"; policy: bigint; pinfo: bigint; tcb: [number, number, number, number]; fw: [number, number, number]; product: "milan" | "genoa" }> = {
  "go-sev-guest": { v: 2, vmpl: 0, signer: "vcek", policy: 0xb0000n, pinfo: 0x1n, tcb: [2, 0, 5, 68], fw: [1, 49, 3], product: "milan" },
  "virtee-milan": { v: 2, vmpl: 0, signer: "vcek", policy: 0x30000n, pinfo: 0x1n, tcb: [3, 0, 8, 115], fw: [1, 52, 4], product: "milan" },
  "trustee-vcek": { v: 2, vmpl: 0, signer: "vcek", policy: 0x3001fn, pinfo: 0x1n, tcb: [3, 0, 8, 115], fw: [1, 52, 4], product: "milan" },
  "trustee-vlek": { v: 3, vmpl: 1, signer: "vlek", policy: 0x30000n, pinfo: 0x27n, tcb: [4, 0, 24, 217], fw: [1, 55, 29], product: "milan" },
  "trustee-e2e-genoa": { v: 3, vmpl: 0, signer: "vcek", policy: 0x30000n, pinfo: 0x25n, tcb: [10, 0, 23, 25], fw: [1, 55, 40], product: "genoa" },
};

for (const vec of REAL_REPORTS) {
  test(`real report ${vec.name}: fields of SNP.md §7.1, CHIP_ID = hwID, round-trip, signature`, () => {
    const raw = readVector(vec.report);
    const cert = readVector(vec.cert);
    const want = EXPECTED[vec.name]!;
    const r = parseAttestationReport(raw);
    assert.equal(r.version, want.v);
    assert.equal(r.vmpl, want.vmpl);
    assert.equal(decodeSignerInfo(r.signerInfo).signingKeyName, want.signer);
    assert.equal(r.policy, want.policy);
    assert.equal(r.platformInfo, want.pinfo);
    const t = decodeTcbVersion(r.reportedTcb, want.product);
    assert.deepEqual([t.bootloader, t.tee, t.snp, t.microcode], want.tcb);
    assert.deepEqual([r.currentMajor, r.currentMinor, r.currentBuild], want.fw);
    assert.equal(r.signatureAlgo, 1);
    assert.equal(toHex(r.reportIdMa), "ff".repeat(32));

    const hwId = findHwIdByScan(cert);
    if (want.signer === "vlek") {
      assert.equal(hwId, undefined);
      assert.equal(toHex(r.chipId), "00".repeat(64));
    } else {
      assert.ok(hwId, "VCEK has a hwID extension");
      assert.equal(hwId.length, 64);
      assert.equal(toHex(r.chipId), toHex(hwId));
    }

    assert.deepEqual(serializeAttestationReport(r), raw);

    const der = signatureToDer(r.signature);
    assert.deepEqual(derToSignatureField(der), r.signature);
    const key = new X509Certificate(Buffer.from(cert)).publicKey;
    assert.ok(verify("sha384", signedRegion(raw), { key, dsaEncoding: "der" }, der), "ECDSA signature verifies");
    const flipped = signedRegion(raw);
    flipped[0x50] = flipped[0x50]! ^ 1;
    assert.equal(verify("sha384", flipped, { key, dsaEncoding: "der" }, der), false, "a flipped REPORT_DATA bit fails");
  });
}

test("v3 CPUID fields of the real reports (SNP.md §7.1 / vectors README)", () => {
  const vlek = parseAttestationReport(readVector("trustee/test-vlek-report.bin"));
  assert.deepEqual([vlek.cpuidFamId, vlek.cpuidModId, vlek.cpuidStep], [0x19, 0x01, 1]);
  const genoa = parseAttestationReport(readVector("trustee/e2e_report_genoa_v3.bin"));
  assert.deepEqual([genoa.cpuidFamId, genoa.cpuidModId, genoa.cpuidStep], [0x19, 0xa0, 2]);
  const v2 = parseAttestationReport(readVector("virtee-sev/report_milan.bin"));
  assert.deepEqual([v2.cpuidFamId, v2.launchMitVector], [0, 0n]);
});

test("the go-sev-guest report does not verify with the virtee VCEK (different chips)", () => {
  const raw = readVector("go-sev-guest/attestation.bin");
  const key = new X509Certificate(Buffer.from(readVector("virtee-sev/vcek_milan.der"))).publicKey;
  const der = signatureToDer(parseAttestationReport(raw).signature);
  assert.equal(verify("sha384", signedRegion(raw), { key, dsaEncoding: "der" }, der), false);
});

function base(): Uint8Array {
  return readVector("virtee-sev/report_milan.bin");
}

function expectCode(b: Uint8Array, code: string, field: string): void {
  assert.throws(
    () => parseAttestationReport(b),
    (e: unknown) => {
      assert.ok(e instanceof ReportDecodeError && e instanceof DecodeError, String(e));
      assert.equal(e.code, code);
      assert.equal(e.details["field"], field);
      return true;
    },
  );
}

test("strict parse: length, version, MBZ and field-range errors name the field", () => {
  expectCode(base().subarray(0, 0x4a0 - 1), "BAD_LENGTH", "report");
  expectCode(new Uint8Array(0x4a1), "BAD_LENGTH", "report");
  for (const v of [0, 1, 4, 6, 0x1000002]) {
    const b = base();
    b[0] = v & 0xff;
    b[3] = v >>> 24;
    expectCode(b, "UNSUPPORTED_VERSION", "version");
  }
  const mbzCases: [number, string][] = [[0x04c, "reserved_0x04c"], [0x188, "reserved_0x188"], [0x19f, "reserved_0x188"], [0x1eb, "reserved_0x1eb"], [0x1ef, "reserved_0x1ef"], [0x1f8, "reserved_0x1f8"], [0x29f, "reserved_0x1f8"]];
  for (const [off, field] of mbzCases) {
    const b = base();
    b[off] = 0x80;
    expectCode(b, "RESERVED_NONZERO", field);
  }
  const set = (mut: (b: Uint8Array) => void): Uint8Array => {
    const b = base();
    mut(b);
    return b;
  };
  expectCode(set((b) => (b[0x34] = 2)), "BAD_SIGNATURE_ALGO", "signatureAlgo");
  expectCode(set((b) => (b[0x48] = 0x20)), "SIGNER_INFO_RESERVED", "signerInfo");
  expectCode(set((b) => (b[0x4b] = 0x80)), "SIGNER_INFO_RESERVED", "signerInfo");
  expectCode(set((b) => (b[0x0a] = 0x01)), "POLICY_BIT17_CLEAR", "policy");
  expectCode(set((b) => (b[0x0b] = 0x04)), "POLICY_RESERVED_BITS_SET", "policy");
  expectCode(set((b) => (b[0x0f] = 0x80)), "POLICY_RESERVED_BITS_SET", "policy");
  expectCode(set((b) => (b[0x30] = 4)), "BAD_VMPL", "vmpl");
  expectCode(set((b) => (b[0x2a0 + 0x90] = 1)), "SIGNATURE_TAIL_NONZERO", "signature");
  expectCode(set((b) => (b[0x4a0 - 1] = 1)), "SIGNATURE_TAIL_NONZERO", "signature");
  // Order: the version error wins over a reserved byte, the reserved byte over a bad algo.
  expectCode(set((b) => { b[0] = 9; b[0x4c] = 1; }), "UNSUPPORTED_VERSION", "version");
  expectCode(set((b) => { b[0x4c] = 1; b[0x34] = 7; }), "RESERVED_NONZERO", "reserved_0x04c");
  expectCode(set((b) => { b[0x34] = 7; b[0x30] = 9; }), "BAD_SIGNATURE_ALGO", "signatureAlgo");
});

test("version-dependent reserved ranges: v2 vs v3 vs v5", () => {
  // CPUID bytes are reserved in v2, fields in v3.
  const v2 = base();
  v2[0x189] = 0x11;
  expectCode(v2, "RESERVED_NONZERO", "reserved_0x188");
  const v3 = base();
  v3[0] = 3;
  v3[0x188] = 0x19;
  v3[0x189] = 0x11;
  v3[0x18a] = 1;
  assert.equal(parseAttestationReport(v3).cpuidModId, 0x11);
  v3[0x18b] = 1;
  expectCode(v3, "RESERVED_NONZERO", "reserved_0x18b");
  // Mitigation vectors are reserved in v3, fields in v5.
  const v3m = readVector("trustee/e2e_report_genoa_v3.bin");
  v3m[0x200] = 1;
  expectCode(v3m, "RESERVED_NONZERO", "reserved_0x1f8");
  v3m[0] = 5;
  v3m[0x1f8] = 0x03;
  const r5 = parseAttestationReport(v3m);
  assert.equal(r5.launchMitVector, 3n);
  assert.equal(r5.currentMitVector, 1n);
  assert.deepEqual(serializeAttestationReport(r5), v3m);
  v3m[0x208] = 1;
  expectCode(v3m, "RESERVED_NONZERO", "reserved_0x208");
});

test("serialize refuses fields the version lacks and round-trips a built report", () => {
  const r: AttestationReport = parseAttestationReport(base());
  assert.throws(() => serializeAttestationReport({ ...r, cpuidFamId: 0x19 }), RangeError);
  assert.throws(() => serializeAttestationReport({ ...r, version: 3, launchMitVector: 1n }), RangeError);
  assert.throws(() => serializeAttestationReport({ ...r, version: 4 }), RangeError);
  const built: AttestationReport = { ...r, version: 5, vmpl: 2, launchMitVector: 7n, currentMitVector: 9n, cpuidFamId: 0x1a, reportData: new Uint8Array(64).fill(0xab) };
  const bytes = serializeAttestationReport(built);
  assert.equal(bytes.length, 0x4a0);
  assert.deepEqual(parseAttestationReport(bytes), built);
});

test("signedRegion is a copy of the first 0x2A0 bytes", () => {
  const raw = base();
  const s = signedRegion(raw);
  assert.equal(s.length, 672);
  assert.deepEqual(s, raw.subarray(0, 672));
  s[0] = 0xee;
  assert.equal(raw[0], 2);
  assert.throws(() => signedRegion(raw.subarray(0, 100)), DecodeError);
});

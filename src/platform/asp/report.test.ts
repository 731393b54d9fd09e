import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate, verify } from "node:crypto";
import { SeededRng, toHex } from "../../shared/base/index.js";
import {
  SIGNED_REGION_END,
  decodeSignerInfo,
  decodeTcbVersion,
  encodeTcbVersion,
  parseAttestationReport,
  signatureToDer,
} from "../../shared/spec/index.js";
import type { AttestationReport } from "../../shared/spec/index.js";
import { hwIdOf } from "./testing/vectors.js";
import { SEV_RET } from "./firmware-status.js";
import type { AspConfig } from "./hardware.js";
import { testConfig } from "./testing/fake-hardware.js";
import { buildRequestPage, openResponsePage, reportRequest, reportResponse } from "./testing/guest-client.js";
import { launchGuest } from "./testing/launched-guest.js";
import type { LaunchedGuest } from "./testing/launched-guest.js";

const DATA = new Uint8Array(64).map((_, i) => i * 3);

function rawReport(g: LaunchedGuest, seqno = 1n, vmpl = 0, data = DATA): Uint8Array {
  const key = g.vmpck[0]!;
  g.hw.hostWrite(g.request, buildRequestPage({ key, vmpck: 0, seqno, payload: reportRequest(data, vmpl) }));
  assert.equal(g.asp.guestRequest(g.request, g.response), SEV_RET.SUCCESS);
  const body = reportResponse(openResponsePage(g.hw.readPage(g.response), key).payload);
  assert.equal(body.status, 0);
  return body.report;
}

function reportOf(cfg: AspConfig): { g: LaunchedGuest; raw: Uint8Array; r: AttestationReport } {
  const g = launchGuest(cfg, { finish: () => ({ hostData: new Uint8Array(32).fill(0xc0) }) });
  const raw = rawReport(g);
  return { g, raw, r: parseAttestationReport(raw) };
}

test("a Milan report (v3, defaults): every field as SNP.md §1 lays it out", () => {
  const { g, r } = reportOf(testConfig());
  assert.equal(r.version, 3);
  assert.equal(r.guestSvn, 0);
  assert.equal(r.policy, 0x30000n);
  assert.equal(r.vmpl, 0);
  assert.equal(r.signatureAlgo, 1);
  const tcb = encodeTcbVersion({ bootloader: 3, tee: 0, snp: 20, microcode: 209 }, "milan");
  assert.equal(tcb, 0xd114_0000_0000_0003n);
  for (const t of [r.currentTcb, r.reportedTcb, r.committedTcb, r.launchTcb]) assert.equal(t, tcb);
  assert.deepEqual(decodeTcbVersion(r.reportedTcb, "milan"), { bootloader: 3, tee: 0, snp: 20, microcode: 209 });
  assert.equal(r.platformInfo, 0x25n);
  assert.deepEqual(decodeSignerInfo(r.signerInfo), { authorKeyEn: false, maskChipKey: false, signingKey: 0, signingKeyName: "vcek" });
  assert.deepEqual(r.reportData, DATA);
  assert.deepEqual(r.measurement, g.asp.launchDigest);
  assert.equal(toHex(r.hostData), "c0".repeat(32));
  assert.equal(toHex(r.reportIdMa), "ff".repeat(32));
  assert.ok(!r.reportId.every((b) => b === 0), "REPORT_ID is random");
  assert.deepEqual([r.cpuidFamId, r.cpuidModId, r.cpuidStep], [0x19, 0x01, 0x01]);
  assert.equal(r.chipId.length, 64);
  assert.ok(r.chipId.some((b) => b !== 0));
  assert.deepEqual([r.currentMajor, r.currentMinor, r.currentBuild], [1, 55, 21]);
  assert.deepEqual([r.committedMajor, r.committedMinor, r.committedBuild], [1, 55, 21]);
  assert.equal(r.launchMitVector, 0n);
});

test("REPORT_ID is fixed for the guest's life and differs between guests of different seeds", () => {
  const { g, r } = reportOf(testConfig());
  const again = parseAttestationReport(rawReport(g, 3n, 1));
  assert.deepEqual(again.reportId, r.reportId);
  const other = reportOf(testConfig({}, "another seed")).r;
  assert.notDeepEqual(other.reportId, r.reportId);
  assert.notDeepEqual(other.chipId, r.chipId);
});

test("Genoa and Turin report their CPUID and TCB layouts; Turin's CHIP_ID uses 8 bytes", () => {
  const genoa = reportOf(testConfig({ product: "genoa" })).r;
  assert.deepEqual([genoa.cpuidFamId, genoa.cpuidModId, genoa.cpuidStep], [0x19, 0x11, 0x01]);
  assert.deepEqual(decodeTcbVersion(genoa.reportedTcb, "genoa"), { bootloader: 10, tee: 0, snp: 23, microcode: 84 });
  const turin = reportOf(testConfig({ product: "turin" })).r;
  assert.deepEqual([turin.cpuidFamId, turin.cpuidModId, turin.cpuidStep], [0x1a, 0x02, 0x00]);
  assert.deepEqual(decodeTcbVersion(turin.reportedTcb, "turin"), { fmc: 1, bootloader: 1, tee: 1, snp: 4, microcode: 72 });
  assert.ok(turin.chipId.subarray(0, 8).some((b) => b !== 0));
  assert.ok(turin.chipId.subarray(8).every((b) => b === 0));
});

test("report versions 2 and 5 use their own tables (v2: no CPUID, no ALIAS_CHECK_COMPLETE)", () => {
  const v2 = reportOf(testConfig({ reportVersion: 2 })).r;
  assert.equal(v2.version, 2);
  assert.deepEqual([v2.cpuidFamId, v2.cpuidModId, v2.cpuidStep], [0, 0, 0]);
  assert.equal(v2.platformInfo, 0x05n);
  const v5 = reportOf(testConfig({ reportVersion: 5 })).r;
  assert.equal(v5.version, 5);
  assert.deepEqual([v5.cpuidFamId, v5.launchMitVector, v5.currentMitVector], [0x19, 0n, 0n]);
});

test("configured TCB and firmware version, and MASK_CHIP_ID, show in the report", () => {
  const tcb = encodeTcbVersion({ bootloader: 4, tee: 1, snp: 22, microcode: 217 }, "milan");
  const { r } = reportOf(testConfig({ tcb, firmware: { major: 1, minor: 57, build: 3 }, maskChipId: true }));
  assert.equal(r.reportedTcb, tcb);
  assert.equal(r.launchTcb, tcb);
  assert.deepEqual([r.currentMajor, r.currentMinor, r.currentBuild], [1, 57, 3]);
  assert.ok(r.chipId.every((b) => b === 0));
});

test("the report verifies with the VCEK of certificates(): ECDSA P-384/SHA-384 over 0x000–0x29F, hwID = CHIP_ID", () => {
  const { g, raw, r } = reportOf(testConfig());
  const vcek = new X509Certificate(g.asp.certificates().vcek);
  const sig = signatureToDer(raw.subarray(0x2a0));
  assert.ok(verify("sha384", raw.subarray(0, SIGNED_REGION_END), { key: vcek.publicKey, dsaEncoding: "der" }, sig));
  const flipped = new Uint8Array(raw);
  flipped[0x50]! ^= 1;
  assert.equal(verify("sha384", flipped.subarray(0, SIGNED_REGION_END), { key: vcek.publicKey, dsaEncoding: "der" }, sig), false);
  assert.deepEqual(hwIdOf(g.asp.certificates().vcek), r.chipId);
  assert.ok(raw.subarray(0x2a0 + 0x90).every((b) => b === 0), "signature tail is zero");
});

test("MASK_CHIP_ID zeroes CHIP_ID in reports but the VCEK still names the chip", () => {
  const masked = reportOf(testConfig({ maskChipId: true }));
  const plain = reportOf(testConfig());
  assert.ok(masked.r.chipId.every((b) => b === 0));
  assert.deepEqual(hwIdOf(masked.g.asp.certificates().vcek), plain.r.chipId);
});

test("determinism: the same seed and request give byte-identical reports; RFC 6979 signatures", () => {
  const a = reportOf(testConfig()).raw;
  const b = reportOf(testConfig()).raw;
  assert.deepEqual(a, b);
  const c = reportOf(testConfig({ rng: new SeededRng("asp-test-seed") })).raw;
  assert.deepEqual(a, c);
  const d = reportOf(testConfig({}, "seed two")).raw;
  assert.notDeepEqual(a.subarray(0x2a0), d.subarray(0x2a0));
});

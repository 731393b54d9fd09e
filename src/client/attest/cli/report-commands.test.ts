import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toHex } from "../../../shared/base/index.js";
import { REAL_EVIDENCE, readVector, VECTORS_DIR } from "../testing/vectors.js";
import { buildAttestation } from "../testing/index.js";
import { EXIT, parseMinTcb, reportShow, reportVerify, type ReportVerifyOptions } from "./report-commands.js";

const dir = mkdtempSync(join(tmpdir(), "seven-attest-"));
function tmp(name: string, data: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

function optsFor(v: (typeof REAL_EVIDENCE)[number]): ReportVerifyOptions {
  return {
    report: VECTORS_DIR + v.report,
    ...(v.keyKind === "vcek" ? { vcek: VECTORS_DIR + v.certificate } : { vlek: VECTORS_DIR + v.certificate }),
    at: v.at,
    ...(v.policy.vmpl !== undefined ? { vmpl: String(v.policy.vmpl) } : {}),
    ...(v.policy.allowDebug === true ? { allowDebug: true } : {}),
  };
}

for (const v of REAL_EVIDENCE) {
  test(`seven report verify: ${v.name} → exit 0, and exit 1 naming the check after a bit flip`, async () => {
    const ok = await reportVerify(optsFor(v));
    assert.equal(ok.exitCode, EXIT.OK, ok.text);
    assert.match(ok.text, /^OK: /);
    assert.equal((ok.json as { ok: boolean }).ok, true);
    const withChain = await reportVerify({ ...optsFor(v), chain: VECTORS_DIR + v.chain });
    assert.equal(withChain.exitCode, EXIT.OK, withChain.text);

    const bad = readVector(v.report);
    bad[0x60]! ^= 0x10;
    const r = await reportVerify({ ...optsFor(v), report: tmp(`flip-${v.keyKind}-${v.product}.bin`, bad) });
    assert.equal(r.exitCode, EXIT.FAILED);
    const lines = r.text.split("\n");
    assert.match(lines[0]!, /^FAILED: 1 of \d+ checks failed$/);
    assert.match(lines[1]!, /^\s+SIGNATURE_INVALID\s+report\.signature: /);
  });
}

test("seven report verify: policy options (report data, measurement, min TCB) fail one line each", async () => {
  const v = REAL_EVIDENCE[1]!; // virtee: REPORTED_TCB bl=3 tee=0 snp=8 ucode=115
  const rep = readVector(v.report);
  const good = await reportVerify({
    ...optsFor(v),
    reportData: toHex(rep.subarray(0x50, 0x90)),
    measurement: toHex(rep.subarray(0x90, 0xc0)),
    minTcb: "bl=3,tee=0,snp=8,ucode=115",
  });
  assert.equal(good.exitCode, EXIT.OK, good.text);
  assert.doesNotMatch(good.text, /not checked.*MEASUREMENT/);
  const bad = await reportVerify({ ...optsFor(v), reportData: "00".repeat(64), measurement: "11".repeat(48), minTcb: "snp=9", vmpl: 2 });
  assert.equal(bad.exitCode, EXIT.FAILED);
  const codes = bad.text.split("\n").slice(1).map((l) => l.trim().split(/\s+/)[0]);
  assert.deepEqual(codes, ["VMPL_MISMATCH", "MEASUREMENT_MISMATCH", "REPORT_DATA_MISMATCH", "TCB_TOO_LOW", "TCB_TOO_LOW", "TCB_TOO_LOW"]);
  const json = bad.json as { ok: boolean; failed: Array<{ code: string; id: string }> };
  assert.equal(json.ok, false);
  assert.deepEqual(json.failed.map((f) => f.code), codes);
});

test("seven report verify: another product's chain, --product, the VLEK's expiry", async () => {
  const v = REAL_EVIDENCE[2]!;
  const r = await reportVerify({ ...optsFor(v), chain: VECTORS_DIR + "go-sev-guest/ask_ark_turin_vcek.pem" });
  assert.equal(r.exitCode, EXIT.FAILED);
  assert.match(r.text, /ARK_NOT_TRUSTED/);
  assert.match(r.text, /VCEK_NOT_SIGNED_BY_ASK/);
  const p = await reportVerify({ ...optsFor(v), product: "genoa" });
  assert.match(p.text, /PRODUCT_MISMATCH/);
  const vlek = REAL_EVIDENCE.find((e) => e.keyKind === "vlek")!;
  const late = await reportVerify({ ...optsFor(vlek), at: "2026-01-01" });
  assert.equal(late.exitCode, EXIT.FAILED);
  assert.match(late.text, /CERT_EXPIRED\s+vlek\.validity/);
});

test("seven report verify: the builder's evidence passes only with --trust-root", async () => {
  const ev = buildAttestation({ now: new Date("2025-03-01T00:00:00Z") });
  const base = { report: tmp("sim.bin", ev.report), vcek: tmp("sim-vcek.der", ev.leaf), chain: tmp("sim-chain.pem", ev.chainPem), at: "2025-03-01" };
  const without = await reportVerify(base);
  assert.equal(without.exitCode, EXIT.FAILED);
  assert.match(without.text, /ARK_NOT_TRUSTED/);
  const withRoot = await reportVerify({ ...base, trustRoot: [tmp("sim-ark.der", ev.ark)] });
  assert.equal(withRoot.exitCode, EXIT.OK, withRoot.text);
  assert.match(withRoot.text, /passed explicitly/);
});

test("seven report verify: usage errors exit 2", async () => {
  const v = REAL_EVIDENCE[1]!;
  const o = optsFor(v);
  const cases: ReportVerifyOptions[] = [
    { report: o.report },
    { ...o, vlek: VECTORS_DIR + v.certificate },
    { ...o, report: join(dir, "missing.bin") },
    { ...o, at: "yesterday-ish" },
    { ...o, vmpl: "4" },
    { ...o, product: "rome" },
    { ...o, measurement: "abc" },
    { ...o, reportData: "00" },
    { ...o, minTcb: "speed=9" },
  ];
  for (const c of cases) {
    const r = await reportVerify(c);
    assert.equal(r.exitCode, EXIT.USAGE, JSON.stringify(c));
    assert.match(r.text, /^error: /);
  }
});

test("--min-tcb: names or a raw TCB_VERSION in the product's layout", () => {
  assert.deepEqual(parseMinTcb("bl=3, tee=0,snp=8,ucode=115", "milan"), { bootloader: 3, tee: 0, snp: 8, microcode: 115 });
  assert.deepEqual(parseMinTcb("0x7308000000000003", "milan"), { bootloader: 3, tee: 0, snp: 8, microcode: 115 });
  assert.deepEqual(parseMinTcb("0x0900000005000301", "turin"), { fmc: 1, bootloader: 3, tee: 0, snp: 5, microcode: 9 });
});

test("seven report show: every field, decoded; JSON; a malformed report exits 1 naming the field", async () => {
  const r = await reportShow(VECTORS_DIR + "trustee/e2e_report_genoa_v3.bin");
  assert.equal(r.exitCode, EXIT.OK);
  for (const f of [
    "VERSION", "GUEST_SVN", "POLICY", "FAMILY_ID", "IMAGE_ID", "VMPL", "SIGNATURE_ALGO", "CURRENT_TCB", "PLATFORM_INFO",
    "SIGNER_INFO", "REPORT_DATA", "MEASUREMENT", "HOST_DATA", "ID_KEY_DIGEST", "AUTHOR_KEY_DIGEST", "REPORT_ID",
    "REPORT_ID_MA", "REPORTED_TCB", "CPUID", "CHIP_ID", "COMMITTED_TCB", "CURRENT_FIRMWARE", "COMMITTED_FIRMWARE", "LAUNCH_TCB",
    "SIGNATURE.R", "SIGNATURE.S",
  ]) {
    assert.match(r.text, new RegExp(`^  ${f.replace(".", "\\.")} `, "m"), f);
  }
  assert.match(r.text, /REPORTED_TCB\s+0x[0-9a-f]{16}\s+bl=10 tee=0 snp=23 ucode=25/);
  assert.match(r.text, /CURRENT_FIRMWARE\s+1\.55\.40/);
  assert.match(r.text, /SIGNING_KEY=0 \(vcek\)/);
  const j = (await reportShow(VECTORS_DIR + "go-sev-guest/attestation.bin", { json: true })).json as {
    report: { policy: { debug: boolean }; reportedTcb: { parts: { microcode: number } }; vmpl: number };
  };
  assert.equal(j.report.policy.debug, true);
  assert.equal(j.report.reportedTcb.parts.microcode, 68);
  const bad = readVector("virtee-sev/report_milan.bin");
  bad[0x1eb] = 1;
  const m = await reportShow(tmp("reserved.bin", bad));
  assert.equal(m.exitCode, EXIT.FAILED);
  assert.match(m.text, /RESERVED_NONZERO/);
  assert.equal((m.json as { error: { details: { field: string } } }).error.details.field, "reserved_0x1eb");
  assert.equal((await reportShow(join(dir, "missing.bin"))).exitCode, EXIT.USAGE);
});

/**
 * Negative cases built with the evidence builder: each test changes ONE thing in an
 * otherwise valid chain + report and asserts the exact list of failed checks.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { fixedClock } from "../../shared/base/index.js";
import { encodeSignerInfo, encodeTcbVersion, SIGNING_KEY } from "../../shared/spec/index.js";
import { checkAttestation, verifyAndValidate, AttestationRejectedError, type AttestationResult } from "./attest.js";
import { failedCodes } from "./checks.js";
import type { AttestationPolicy } from "./validate.js";
import {
  ASK_EXTENSIONS,
  basicConstraints,
  buildAttestation,
  keyUsage,
  KU,
  testKeys,
  type AttestationOverrides,
} from "./testing/index.js";

function codes(o: AttestationOverrides, policy: AttestationPolicy = {}, extra = {}): string[] {
  return failedCodes(checkAttestation(buildAttestation(o).input(extra), policy).checks);
}

function result(o: AttestationOverrides, policy: AttestationPolicy = {}, extra = {}): AttestationResult {
  return checkAttestation(buildAttestation(o).input(extra), policy);
}

test("the builder's evidence verifies (VCEK and VLEK, Milan, Genoa, Turin)", () => {
  for (const product of ["milan", "genoa", "turin"] as const) {
    for (const keyKind of ["vcek", "vlek"] as const) {
      const r = result({ product, keyKind });
      assert.deepEqual(failedCodes(r.checks), [], `${product} ${keyKind}`);
      assert.equal(r.ok, true);
      assert.equal(r.arkSource, "explicit");
    }
  }
});

test("the simulated-style root is trusted only when passed explicitly", () => {
  assert.deepEqual(codes({}, {}, { trustRoots: [] }), ["ARK_NOT_TRUSTED"]);
  // Without the chain file the built-in (real AMD) ASK is used: it did not sign our VCEK.
  assert.deepEqual(codes({}, {}, { chain: undefined }), ["VCEK_NOT_SIGNED_BY_ASK"]);
});

test("an untrusted root in the chain file is refused even though the chain is internally valid", () => {
  const ev = buildAttestation();
  const other = buildAttestation({ ark: { key: testKeys().otherArk } });
  assert.deepEqual(failedCodes(checkAttestation(ev.input({ trustRoots: [other.ark] }), {}).checks), ["ARK_NOT_TRUSTED"]);
});

// ---- validation -----------------------------------------------------------------------

test("wrong VMPL → VMPL_MISMATCH", () => {
  assert.deepEqual(codes({ report: { vmpl: 1 } }), ["VMPL_MISMATCH"]);
  assert.deepEqual(codes({ report: { vmpl: 1 } }, { vmpl: 1 }), []);
  assert.deepEqual(codes({}, { vmpl: 2 }), ["VMPL_MISMATCH"]);
});

test("debug policy → DEBUG_ALLOWED unless allowed", () => {
  assert.deepEqual(codes({ report: { policy: 0xb0000n } }), ["DEBUG_ALLOWED"]);
  assert.deepEqual(codes({ report: { policy: 0xb0000n } }, { allowDebug: true }), []);
});

test("migration agent → MIGRATION_AGENT_ALLOWED unless allowed", () => {
  assert.deepEqual(codes({ report: { policy: 0x70000n } }), ["MIGRATION_AGENT_ALLOWED"]);
  assert.deepEqual(codes({ report: { policy: 0x70000n } }, { allowMigrationAgent: true }), []);
});

test("wrong measurement / report data / host data / ID digests → their own codes", () => {
  const ev = buildAttestation();
  const good = {
    measurement: ev.fields.measurement,
    reportData: ev.fields.reportData,
    hostData: ev.fields.hostData,
    idKeyDigest: ev.fields.idKeyDigest,
    familyId: ev.fields.familyId,
    imageId: ev.fields.imageId,
    chipId: ev.fields.chipId,
  } satisfies AttestationPolicy;
  assert.deepEqual(failedCodes(checkAttestation(ev.input(), good).checks), []);
  const bad = (k: keyof typeof good): Uint8Array => {
    const b = good[k].slice();
    b[b.length - 1]! ^= 0x80;
    return b;
  };
  const expect: Array<[keyof typeof good, string]> = [
    ["measurement", "MEASUREMENT_MISMATCH"],
    ["reportData", "REPORT_DATA_MISMATCH"],
    ["hostData", "HOST_DATA_MISMATCH"],
    ["idKeyDigest", "ID_KEY_DIGEST_MISMATCH"],
    ["familyId", "FAMILY_ID_MISMATCH"],
    ["imageId", "IMAGE_ID_MISMATCH"],
    ["chipId", "CHIP_ID_MISMATCH"],
  ];
  for (const [k, code] of expect) {
    assert.deepEqual(failedCodes(checkAttestation(ev.input(), { ...good, [k]: bad(k) }).checks), [code], k);
  }
});

test("author key: digest mismatch and AUTHOR_KEY_EN required", () => {
  const digest = new Uint8Array(48).fill(9);
  const withAuthor = { report: { authorKeyDigest: digest, signerInfo: encodeSignerInfo({ signingKey: SIGNING_KEY.VCEK, authorKeyEn: true }) } };
  assert.deepEqual(codes(withAuthor, { authorKeyDigest: digest }), []);
  assert.deepEqual(codes(withAuthor, { authorKeyDigest: new Uint8Array(48) }), ["AUTHOR_KEY_DIGEST_MISMATCH"]);
  assert.deepEqual(codes({}, { requireAuthorKey: true }), ["AUTHOR_KEY_REQUIRED"]);
});

test("TCB below minimum → TCB_TOO_LOW naming the component", () => {
  // Default Milan TCB: bl 3, tee 0, snp 8, ucode 115.
  assert.deepEqual(codes({}, { minTcb: { bootloader: 3, snp: 8, microcode: 115 } }), []);
  const r = result({}, { minTcb: { snp: 9 } });
  assert.deepEqual(failedCodes(r.checks), ["TCB_TOO_LOW", "TCB_TOO_LOW", "TCB_TOO_LOW"]);
  const first = r.checks.find((c) => c.status === "fail")!;
  assert.equal(first.id, "policy.min-tcb.reported");
  assert.equal(first.error?.details["component"], "snp");
  // Only COMMITTED_TCB low.
  const low = encodeTcbVersion({ bootloader: 3, tee: 0, snp: 7, microcode: 115 }, "milan");
  const r2 = result({ report: { committedTcb: low } }, { minTcb: { snp: 8 } });
  assert.deepEqual(r2.checks.filter((c) => c.status === "fail").map((c) => c.id), ["policy.min-tcb.committed"]);
  // Turin's FMC.
  assert.deepEqual(codes({ product: "turin" }, { minTcb: { fmc: 2 } }), ["TCB_TOO_LOW", "TCB_TOO_LOW", "TCB_TOO_LOW"]);
  assert.deepEqual(codes({}, { minLaunchTcb: { microcode: 116 } }), ["TCB_TOO_LOW"]);
});

test("products, firmware, report version, guest SVN, SMT", () => {
  assert.deepEqual(codes({}, { allowedProducts: ["genoa", "turin"] }), ["PRODUCT_NOT_ALLOWED"]);
  assert.deepEqual(codes({}, { allowedProducts: ["milan"] }), []);
  // Builder firmware is 1.55.40.
  assert.deepEqual(codes({}, { minFirmware: { major: 1, minor: 55, build: 40 } }), []);
  assert.deepEqual(codes({}, { minFirmware: { major: 1, minor: 55, build: 41 } }), ["FIRMWARE_TOO_OLD"]);
  assert.deepEqual(codes({}, { minFirmware: { major: 1, minor: 56 } }), ["FIRMWARE_TOO_OLD"]);
  assert.deepEqual(codes({ report: { committedMinor: 54 } }, { minFirmware: { major: 1, minor: 55 } }), ["FIRMWARE_TOO_OLD"]);
  assert.deepEqual(codes({}, { reportVersions: [2] }), ["VERSION_NOT_ALLOWED"]);
  assert.deepEqual(codes({ report: { version: 2, cpuidFamId: 0, cpuidModId: 0, cpuidStep: 0 } }), []);
  assert.deepEqual(codes({ report: { version: 5 } }), []);
  assert.deepEqual(codes({}, { minGuestSvn: 2 }), ["GUEST_SVN_TOO_LOW"]);
  assert.deepEqual(codes({}, { requireSmtDisabled: true }), ["SMT_ENABLED"]);
  assert.deepEqual(codes({ report: { platformInfo: 0n } }, { requireSmtDisabled: true }), []);
});

test("a malformed policy is reported, not ignored", () => {
  assert.deepEqual(codes({}, { measurement: new Uint8Array(47) }), ["POLICY_INVALID", "MEASUREMENT_MISMATCH"]);
  assert.deepEqual(codes({}, { vmpl: 4 }), ["POLICY_INVALID", "VMPL_MISMATCH"]);
});

// ---- report ↔ certificate ------------------------------------------------------------

test("VCEK SPL ≠ REPORTED_TCB → TCB_EXTENSION_MISMATCH with the component", () => {
  for (const [field, component] of [["blSpl", "bootloader"], ["teeSpl", "tee"], ["snpSpl", "snp"], ["ucodeSpl", "microcode"]] as const) {
    const r = result({ leaf: { amd: { [field]: 200 } } });
    assert.deepEqual(failedCodes(r.checks), ["TCB_EXTENSION_MISMATCH"], field);
    assert.equal(r.checks.find((c) => c.status === "fail")?.error?.details["component"], component);
  }
  const turin = result({ product: "turin", leaf: { amd: { fmcSpl: 7 } } });
  assert.deepEqual(failedCodes(turin.checks), ["TCB_EXTENSION_MISMATCH"]);
  assert.equal(turin.checks.find((c) => c.status === "fail")?.id, "report.tcb.fmc");
  // Missing fmcSPL on Turin, a reserved SPL set, a VLEK's SPL.
  assert.deepEqual(codes({ product: "turin", leaf: { omit: ["fmcSpl"] } }), ["TCB_EXTENSION_MISMATCH"]);
  assert.deepEqual(codes({ leaf: { amd: { reservedSpls: { spl4: 1, spl5: 0, spl6: 0, spl7: 0 } } } }), ["TCB_EXTENSION_MISMATCH"]);
  assert.deepEqual(codes({ keyKind: "vlek", leaf: { amd: { snpSpl: 1 } } }), ["TCB_EXTENSION_MISMATCH"]);
  // Or the report's REPORTED_TCB changed instead.
  assert.deepEqual(codes({ report: { reportedTcb: encodeTcbVersion({ bootloader: 3, tee: 0, snp: 9, microcode: 115 }, "milan") } }), ["TCB_EXTENSION_MISMATCH"]);
  assert.deepEqual(codes({ report: { reportedTcb: encodeTcbVersion({ bootloader: 3, tee: 0, snp: 8, microcode: 115 }, "milan") | 0x100_0000n } }), ["TCB_EXTENSION_MISMATCH"]);
});

test("hwID ≠ CHIP_ID → HWID_MISMATCH; skipped for VLEK and all-zero CHIP_ID", () => {
  const hw = new Uint8Array(64).fill(0x77);
  assert.deepEqual(codes({ leaf: { amd: { hwId: hw } } }), ["HWID_MISMATCH"]);
  assert.deepEqual(codes({ leaf: { omit: ["hwId"] } }), ["HWID_MISMATCH"]);
  assert.deepEqual(codes({ leaf: { amd: { hwId: hw.subarray(0, 8) } } }), ["HWID_MISMATCH"]);
  // Turin: 8-byte hwID vs CHIP_ID[0..8].
  assert.deepEqual(codes({ product: "turin", leaf: { amd: { hwId: hw.subarray(0, 8) } } }), ["HWID_MISMATCH"]);
  assert.deepEqual(codes({ product: "turin", leaf: { amd: { hwId: hw } } }), ["HWID_MISMATCH"]);
  const masked = result({ report: { chipId: new Uint8Array(64) } });
  assert.deepEqual(failedCodes(masked.checks), []);
  assert.equal(masked.checks.find((c) => c.id === "report.hwid")?.status, "skip");
  const vlek = result({ keyKind: "vlek" });
  assert.equal(vlek.checks.find((c) => c.id === "report.hwid")?.status, "skip");
});

test("signer info: SIGNING_KEY must match the key kind; MASK_CHIP_KEY means unsigned", () => {
  assert.deepEqual(codes({ report: { signerInfo: encodeSignerInfo({ signingKey: SIGNING_KEY.VLEK }) } }), ["SIGNING_KEY_MISMATCH"]);
  assert.deepEqual(codes({ keyKind: "vlek", report: { signerInfo: encodeSignerInfo({ signingKey: SIGNING_KEY.VCEK }) } }), ["SIGNING_KEY_MISMATCH"]);
  assert.deepEqual(codes({ report: { signerInfo: encodeSignerInfo({ signingKey: SIGNING_KEY.NONE }) } }), ["SIGNING_KEY_MISMATCH"]);
  // MASK_CHIP_KEY with a (for the test) valid signature: refused for the bit alone.
  assert.deepEqual(codes({ report: { signerInfo: encodeSignerInfo({ signingKey: 0, maskChipKey: true }) } }), ["MASK_CHIP_KEY_SET"]);
  // As the firmware makes it: MASK_CHIP_KEY and an all-zero signature.
  assert.deepEqual(codes({ report: { signerInfo: encodeSignerInfo({ signingKey: 0, maskChipKey: true }) }, signature: "zero" }), [
    "MASK_CHIP_KEY_SET",
    "SIGNATURE_INVALID",
  ]);
});

test("report signature: other key, zero, tampered after signing", () => {
  assert.deepEqual(codes({ signature: "other-key" }), ["SIGNATURE_INVALID"]);
  assert.deepEqual(codes({ signature: "zero" }), ["SIGNATURE_INVALID"]);
  assert.deepEqual(codes({ afterSign: (raw) => void (raw[0x90]! ^= 1) }), ["SIGNATURE_INVALID"]);
});

test("non-zero reserved bytes → the parser's RESERVED_NONZERO (even when signed)", () => {
  const r = result({ beforeSign: (raw) => void (raw[0x04c] = 1) });
  assert.deepEqual(failedCodes(r.checks), ["RESERVED_NONZERO"]);
  assert.equal(r.checks[0]?.error?.details["field"], "reserved_0x04c");
  assert.deepEqual(codes({ beforeSign: (raw) => void (raw[0x208] = 1) }), ["RESERVED_NONZERO"]);
  assert.deepEqual(codes({ beforeSign: (raw) => void (raw[0x48]! |= 0x20) }), ["SIGNER_INFO_RESERVED"]);
});

// ---- the chain ------------------------------------------------------------------------

test("ASK not signed by the ARK → CHAIN_ASK_NOT_SIGNED_BY_ARK (ASVK: CHAIN_ASVK_NOT_SIGNED_BY_ARK)", () => {
  assert.deepEqual(codes({ intermediate: { signedBy: "other-ark" } }), ["CHAIN_ASK_NOT_SIGNED_BY_ARK"]);
  assert.deepEqual(codes({ intermediate: { signedBy: "self" } }), ["CHAIN_ASK_NOT_SIGNED_BY_ARK"]);
  assert.deepEqual(codes({ keyKind: "vlek", intermediate: { signedBy: "other-ark" } }), ["CHAIN_ASVK_NOT_SIGNED_BY_ARK"]);
  // Signed by the ARK, but naming another issuer.
  assert.deepEqual(codes({ intermediate: { issuerCn: "ARK-Genoa" } }), ["CHAIN_ASK_NOT_SIGNED_BY_ARK"]);
});

test("VCEK signed by the ARK directly → VCEK_NOT_SIGNED_BY_ASK", () => {
  assert.deepEqual(codes({ leaf: { signedBy: "ark" } }), ["VCEK_NOT_SIGNED_BY_ASK"]);
  // A chain file with only the ARK: the built-in (real) ASK is tried, and fits neither.
  const ev = buildAttestation({ leaf: { signedBy: "ark", issuerCn: "ARK-Milan" } });
  const chainOnlyArk = ev.chainPem.slice(ev.chainPem.indexOf("-----BEGIN", 10));
  assert.deepEqual(failedCodes(checkAttestation(ev.input({ chain: chainOnlyArk }), {}).checks), [
    "CHAIN_ASK_NOT_SIGNED_BY_ARK",
    "VCEK_NOT_SIGNED_BY_ASK",
  ]);
  assert.deepEqual(codes({ keyKind: "vlek", leaf: { signedBy: "ark" } }), ["VLEK_NOT_SIGNED_BY_ASVK"]);
});

test("ARK not self-signed → ARK_NOT_SELF_SIGNED", () => {
  assert.deepEqual(codes({ ark: { signedBy: "other-ark" } }), ["ARK_NOT_SELF_SIGNED"]);
});

test("expired / not yet valid certificates → CERT_EXPIRED / CERT_NOT_YET_VALID with the role", () => {
  for (const role of ["ark", "intermediate", "leaf"] as const) {
    const exp = result({ [role]: { notAfter: new Date("2024-12-31T00:00:00Z") } });
    assert.deepEqual(failedCodes(exp.checks), ["CERT_EXPIRED"], role);
    const nyv = result({ [role]: { notBefore: new Date("2025-01-02T00:00:00Z") } });
    assert.deepEqual(failedCodes(nyv.checks), ["CERT_NOT_YET_VALID"], role);
  }
  const r = result({ leaf: { notAfter: new Date("2024-12-31T00:00:00Z") } });
  assert.equal(r.checks.find((c) => c.status === "fail")?.error?.details["role"], "VCEK");
  // The clock is injected: the same evidence is fine earlier.
  assert.deepEqual(codes({ leaf: { notAfter: new Date("2024-12-31T00:00:00Z") } }, {}, { clock: fixedClock("2024-06-01") }), []);
});

test("wrong signature algorithm → WRONG_SIGNATURE_ALGORITHM (and the signature is not tried)", () => {
  const cases = [
    { kind: "pkcs1" },
    { kind: "pss", salt: 32 },
    { kind: "pss", hash: "sha256" },
    { kind: "pss", mgfHash: "sha256" },
  ] as const;
  for (const scheme of cases) {
    for (const role of ["ark", "intermediate", "leaf"] as const) {
      assert.deepEqual(codes({ [role]: { scheme } }), ["WRONG_SIGNATURE_ALGORITHM"], `${role} ${JSON.stringify(scheme)}`);
    }
  }
  // The inner and outer AlgorithmIdentifier must agree.
  assert.deepEqual(codes({ leaf: { tbsScheme: { kind: "pss", explicitTrailer: true } } }), ["WRONG_SIGNATURE_ALGORITHM"]);
  // An explicit trailerField 1 (as AMD's ARKs have) is fine.
  assert.deepEqual(codes({ ark: { scheme: { kind: "pss", explicitTrailer: true } } }), []);
});

test("CA flags as AMD issues them: CERT_NOT_CA, CERT_KEY_USAGE_INVALID, LEAF_IS_CA", () => {
  assert.deepEqual(codes({ intermediate: { extensions: [keyUsage([KU.KEY_CERT_SIGN])] } }), ["CERT_NOT_CA"]);
  assert.deepEqual(codes({ intermediate: { extensions: [basicConstraints(false), keyUsage([KU.KEY_CERT_SIGN])] } }), ["CERT_NOT_CA"]);
  assert.deepEqual(codes({ intermediate: { extensions: [basicConstraints(true, 0, false), keyUsage([KU.KEY_CERT_SIGN])] } }), ["CERT_NOT_CA"]);
  assert.deepEqual(codes({ ark: { extensions: [basicConstraints(true), keyUsage([KU.CRL_SIGN])] } }), ["CERT_KEY_USAGE_INVALID"]);
  assert.deepEqual(codes({ intermediate: { extensions: [basicConstraints(true, 0)] } }), ["CERT_KEY_USAGE_INVALID"]);
  assert.deepEqual(
    codes({ intermediate: { extensions: [...ASK_EXTENSIONS, { oid: "1.2.3.4", critical: true, value: new Uint8Array([5, 0]) }] } }),
    ["CERT_UNKNOWN_CRITICAL_EXTENSION"],
  );
  assert.deepEqual(codes({ leaf: { extra: [basicConstraints(true)] } }), ["LEAF_IS_CA"]);
  assert.deepEqual(codes({ leaf: { extra: [keyUsage([KU.KEY_CERT_SIGN])] } }), ["CERT_KEY_USAGE_INVALID"]);
  assert.deepEqual(codes({ leaf: { extra: [{ oid: "1.2.3.4", critical: true, value: new Uint8Array([5, 0]) }] } }), ["CERT_UNKNOWN_CRITICAL_EXTENSION"]);
});

test("key types: RSA CAs, P-384 leaf → WRONG_KEY_TYPE", () => {
  const k = testKeys();
  // A P-256 leaf: refused for its key type; the report signature is then not tried.
  assert.deepEqual(codes({ leaf: { key: k.p256 } }), ["WRONG_KEY_TYPE"]);
  // An EC "ASK" cannot have made an RSA-PSS signature.
  assert.deepEqual(codes({ intermediate: { key: k.vlek } }), ["WRONG_KEY_TYPE", "VCEK_NOT_SIGNED_BY_ASK"]);
});

test("AMD extensions: malformed or missing → AMD_EXTENSION_INVALID; product checks", () => {
  assert.deepEqual(codes({ leaf: { omit: ["snpSpl"] } }), ["AMD_EXTENSION_INVALID"]);
  assert.deepEqual(codes({ leaf: { omit: ["productName"] } }), ["AMD_EXTENSION_INVALID"]);
  assert.deepEqual(codes({ leaf: { amd: { productName: "Siena" } } }), ["PRODUCT_UNKNOWN"]);
  assert.deepEqual(codes({ leaf: { amd: { productName: "Milan-B1" } } }), []);
  // Asking for Genoa: the chain file still verifies the VCEK, but the product differs.
  assert.deepEqual(codes({}, {}, { product: "genoa" }), ["PRODUCT_MISMATCH"]);
  assert.deepEqual(codes({ leaf: { cn: "SEV-VLEK" } }), ["CERT_ROLE_MISMATCH"]);
});

test("verifyAndValidate returns the trusted report or throws every failure", () => {
  const ok = verifyAndValidate(buildAttestation().input(), {});
  assert.equal(ok.report.vmpl, 0);
  assert.equal(ok.product, "milan");
  assert.equal(ok.arkSource, "explicit");
  assert.throws(
    () => verifyAndValidate(buildAttestation({ report: { vmpl: 2, policy: 0xb0000n } }).input(), {}),
    (e: unknown) => e instanceof AttestationRejectedError && e.code === "ATTESTATION_REJECTED" && e.codes.join() === "VMPL_MISMATCH,DEBUG_ALLOWED",
  );
});

/**
 * ATTESTATION_REPORT — SNP.md §1 (SNP ABI §7.3 Table 21/22; go-sev-guest `abi.ReportToProto`,
 * virtee `AttestationReport`, coconut `pld_report.rs`). 0x4A0 bytes, signed region 0x000–0x29F.
 *
 * Three tables, one per supported VERSION, sharing every row except two ranges:
 *   0x188–0x19F  v2: reserved (MBZ); v3, v5: CPUID_FAM_ID/MOD_ID/STEP at 0x188–0x18A, MBZ after
 *   0x1F8–0x29F  v2, v3: reserved (MBZ); v5: LAUNCH_MIT_VECTOR 0x1F8, CURRENT_MIT_VECTOR 0x200, MBZ after
 * VERSION 4 (virtee treats it like 3) and ≥ 6 are rejected: the client accepts 2, 3 and 5 only.
 *
 * `parseAttestationReport` is strict, in this order: length, version, must-be-zero ranges,
 * field ranges. It throws only `ReportDecodeError` (a DecodeError). `serializeAttestationReport`
 * writes whatever it is given (so tests can build malformed reports) except that it refuses
 * values the chosen version has no room for.
 */
import { DecodeError, readU32 } from "../base/index.js";
import { bytes, defineLayout, mbz, u8, u32, u64f } from "./layout.js";
import type { Parsed } from "./layout.js";
import { SIGNATURE_ALGO_ECDSA_P384_SHA384, SIGNATURE_RS_END, SIGNATURE_SIZE } from "./ecdsa-signature.js";
import { validatePolicyBits } from "./guest-policy.js";
import { SIGNER_INFO_RESERVED_MASK } from "./signer-info.js";

export const REPORT_SIZE = 0x4a0;
/** The signature covers bytes [0, SIGNED_REGION_END). */
export const SIGNED_REGION_END = 0x2a0;
export const SIGNATURE_OFFSET = 0x2a0;
export const SUPPORTED_REPORT_VERSIONS = [2, 3, 5] as const;
export type ReportVersion = (typeof SUPPORTED_REPORT_VERSIONS)[number];
/** Highest VMPL a report can name. */
export const REPORT_MAX_VMPL = 3;

const HEAD = [
  u32("version", 0x000, "2, 3 or 5 here"),
  u32("guestSvn", 0x004, "from the ID block"),
  u64f("policy", 0x008, "guest policy §1.2"),
  bytes("familyId", 0x010, 16, "from the ID block"),
  bytes("imageId", 0x020, 16, "from the ID block"),
  u32("vmpl", 0x030, "VMPL from MSG_REPORT_REQ"),
  u32("signatureAlgo", 0x034, "1 = ECDSA P-384 with SHA-384"),
  u64f("currentTcb", 0x038, "TCB_VERSION §1.4"),
  u64f("platformInfo", 0x040, "§1.3"),
  u32("signerInfo", 0x048, "AUTHOR_KEY_EN, MASK_CHIP_KEY, SIGNING_KEY; 31:5 MBZ"),
  mbz("reserved_0x04c", 0x04c, 4),
  bytes("reportData", 0x050, 64, "guest-supplied"),
  bytes("measurement", 0x090, 48, "launch digest §3"),
  bytes("hostData", 0x0c0, 32, "from SNP_LAUNCH_FINISH"),
  bytes("idKeyDigest", 0x0e0, 48, "SHA-384 of the ID key struct"),
  bytes("authorKeyDigest", 0x110, 48, "SHA-384 of the author key struct"),
  bytes("reportId", 0x140, 32),
  bytes("reportIdMa", 0x160, 32, "all 0xFF if no migration agent"),
  u64f("reportedTcb", 0x180, "TCB the VCEK was derived from"),
] as const;

const CPUID_V2 = [mbz("reserved_0x188", 0x188, 24, "v2: 0x188–0x19F all MBZ")] as const;
const CPUID_V3 = [
  u8("cpuidFamId", 0x188, "v3+: extended family + family"),
  u8("cpuidModId", 0x189, "v3+: extended model + model"),
  u8("cpuidStep", 0x18a, "v3+: stepping"),
  mbz("reserved_0x18b", 0x18b, 21),
] as const;

const MIDDLE = [
  bytes("chipId", 0x1a0, 64, "= VCEK hwID (Turin: first 8 bytes), zero if masked"),
  u64f("committedTcb", 0x1e0),
  u8("currentBuild", 0x1e8),
  u8("currentMinor", 0x1e9),
  u8("currentMajor", 0x1ea),
  mbz("reserved_0x1eb", 0x1eb, 1),
  u8("committedBuild", 0x1ec),
  u8("committedMinor", 0x1ed),
  u8("committedMajor", 0x1ee),
  mbz("reserved_0x1ef", 0x1ef, 1),
  u64f("launchTcb", 0x1f0, "CURRENT_TCB at launch"),
] as const;

const MIT_PRE_V5 = [mbz("reserved_0x1f8", 0x1f8, 0xa8, "v2/v3: 0x1F8–0x29F MBZ")] as const;
const MIT_V5 = [
  u64f("launchMitVector", 0x1f8, "v5+"),
  u64f("currentMitVector", 0x200, "v5+"),
  mbz("reserved_0x208", 0x208, 0x98),
] as const;

const TAIL = [bytes("signature", SIGNATURE_OFFSET, SIGNATURE_SIZE, "R, S 72-byte LE; +0x90..+0x200 MBZ")] as const;

const SOURCE = "SNP.md §1; SNP ABI Table 21/22; go-sev-guest abi.go";

export const ATTESTATION_REPORT_V2 = defineLayout({
  name: "ATTESTATION_REPORT_V2",
  size: REPORT_SIZE,
  source: SOURCE,
  fields: [...HEAD, ...CPUID_V2, ...MIDDLE, ...MIT_PRE_V5, ...TAIL],
});
export const ATTESTATION_REPORT_V3 = defineLayout({
  name: "ATTESTATION_REPORT_V3",
  size: REPORT_SIZE,
  source: SOURCE,
  fields: [...HEAD, ...CPUID_V3, ...MIDDLE, ...MIT_PRE_V5, ...TAIL],
});
export const ATTESTATION_REPORT_V5 = defineLayout({
  name: "ATTESTATION_REPORT_V5",
  size: REPORT_SIZE,
  source: SOURCE,
  fields: [...HEAD, ...CPUID_V3, ...MIDDLE, ...MIT_V5, ...TAIL],
});

type AnyReportLayout = typeof ATTESTATION_REPORT_V2 | typeof ATTESTATION_REPORT_V3 | typeof ATTESTATION_REPORT_V5;

/**
 * A parsed report: every field of the v5 table. Fields a version lacks are zero
 * (cpuid* for v2; *MitVector for v2/v3). `signerInfo` is raw (see `decodeSignerInfo`),
 * TCB words are raw u64 (see `decodeTcbVersion`), `signature` is the 0x200-byte field.
 */
export interface AttestationReport {
  version: number;
  guestSvn: number;
  policy: bigint;
  familyId: Uint8Array;
  imageId: Uint8Array;
  vmpl: number;
  signatureAlgo: number;
  currentTcb: bigint;
  platformInfo: bigint;
  signerInfo: number;
  reportData: Uint8Array;
  measurement: Uint8Array;
  hostData: Uint8Array;
  idKeyDigest: Uint8Array;
  authorKeyDigest: Uint8Array;
  reportId: Uint8Array;
  reportIdMa: Uint8Array;
  reportedTcb: bigint;
  cpuidFamId: number;
  cpuidModId: number;
  cpuidStep: number;
  chipId: Uint8Array;
  committedTcb: bigint;
  currentBuild: number;
  currentMinor: number;
  currentMajor: number;
  committedBuild: number;
  committedMinor: number;
  committedMajor: number;
  launchTcb: bigint;
  launchMitVector: bigint;
  currentMitVector: bigint;
  signature: Uint8Array;
}

// Compile-time proof that the interface is exactly the v5 table's parsed object.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _interfaceMatchesTable: Same<AttestationReport, Parsed<typeof ATTESTATION_REPORT_V5.fields>> = true;
void _interfaceMatchesTable;

export type ReportErrorCode =
  | "BAD_LENGTH"
  | "UNSUPPORTED_VERSION"
  | "RESERVED_NONZERO"
  | "BAD_SIGNATURE_ALGO"
  | "SIGNER_INFO_RESERVED"
  | "POLICY_BIT17_CLEAR"
  | "POLICY_RESERVED_BITS_SET"
  | "BAD_VMPL"
  | "SIGNATURE_TAIL_NONZERO";

/** The only error `parseAttestationReport` throws. `details.field` names the table row. */
export class ReportDecodeError extends DecodeError {
  declare readonly code: ReportErrorCode;
  constructor(code: ReportErrorCode, message: string, details: { field: string } & Record<string, unknown>) {
    super(code, `ATTESTATION_REPORT: ${message}`, details);
  }
}

export function isSupportedReportVersion(v: number): v is ReportVersion {
  return (SUPPORTED_REPORT_VERSIONS as readonly number[]).includes(v);
}

/** The table for a version (RangeError for an unsupported one). */
export function reportLayout(version: number): AnyReportLayout {
  switch (version) {
    case 2:
      return ATTESTATION_REPORT_V2;
    case 3:
      return ATTESTATION_REPORT_V3;
    case 5:
      return ATTESTATION_REPORT_V5;
    default:
      throw new RangeError(`no ATTESTATION_REPORT layout for version ${version}`);
  }
}

const ABSENT_DEFAULTS = { cpuidFamId: 0, cpuidModId: 0, cpuidStep: 0, launchMitVector: 0n, currentMitVector: 0n } as const;

/** Strict parse of an untrusted report: length, version, MBZ ranges, field ranges. */
export function parseAttestationReport(data: Uint8Array): AttestationReport {
  if (data.length !== REPORT_SIZE) {
    throw new ReportDecodeError("BAD_LENGTH", `${data.length} bytes, need ${REPORT_SIZE}`, {
      field: "report",
      expected: REPORT_SIZE,
      actual: data.length,
    });
  }
  const version = readU32(data, 0);
  if (!isSupportedReportVersion(version)) {
    throw new ReportDecodeError("UNSUPPORTED_VERSION", `version ${version} (supported: ${SUPPORTED_REPORT_VERSIONS.join(", ")})`, {
      field: "version",
      value: version,
    });
  }
  const layout = reportLayout(version);
  for (const f of layout.fields) {
    if (f.type !== "mbz") continue;
    for (let i = f.offset; i < f.offset + f.size; i++) {
      if (data[i] !== 0) {
        throw new ReportDecodeError("RESERVED_NONZERO", `reserved byte 0x${i.toString(16)} (${f.name}) is not zero`, {
          field: f.name,
          offset: i,
          version,
        });
      }
    }
  }
  const report: AttestationReport = { ...ABSENT_DEFAULTS, ...layout.parse(data, 0, { strict: false }) };
  checkFieldRanges(report);
  return report;
}

function checkFieldRanges(r: AttestationReport): void {
  if (r.signatureAlgo !== SIGNATURE_ALGO_ECDSA_P384_SHA384) {
    throw new ReportDecodeError("BAD_SIGNATURE_ALGO", `SIGNATURE_ALGO ${r.signatureAlgo}, need 1 (ECDSA P-384/SHA-384)`, {
      field: "signatureAlgo",
      value: r.signatureAlgo,
    });
  }
  if ((r.signerInfo & SIGNER_INFO_RESERVED_MASK) !== 0) {
    throw new ReportDecodeError("SIGNER_INFO_RESERVED", `signer info bits 31:5 set (0x${r.signerInfo.toString(16)})`, {
      field: "signerInfo",
      value: r.signerInfo,
    });
  }
  const issue = validatePolicyBits(r.policy)[0];
  if (issue !== undefined) {
    throw new ReportDecodeError(issue.code, `POLICY 0x${r.policy.toString(16)}: ${issue.code}`, {
      field: "policy",
      value: r.policy,
      mask: issue.mask,
    });
  }
  if (r.vmpl > REPORT_MAX_VMPL) {
    throw new ReportDecodeError("BAD_VMPL", `VMPL ${r.vmpl} > ${REPORT_MAX_VMPL}`, { field: "vmpl", value: r.vmpl });
  }
  for (let i = SIGNATURE_RS_END; i < SIGNATURE_SIZE; i++) {
    if (r.signature[i] !== 0) {
      throw new ReportDecodeError("SIGNATURE_TAIL_NONZERO", `SIGNATURE byte +0x${i.toString(16)} is not zero`, {
        field: "signature",
        offset: SIGNATURE_OFFSET + i,
      });
    }
  }
}

/**
 * Writes a report with the table of `report.version`. RangeError if the version is not
 * 2/3/5, a field has the wrong type/size, or a field the version lacks is non-zero.
 * Does not validate policy, VMPL etc. (parse does), so malformed reports can be built.
 */
export function serializeAttestationReport(report: AttestationReport): Uint8Array {
  const layout = reportLayout(report.version);
  const present = new Set<string>(layout.fields.map((f) => f.name));
  for (const [k, zero] of Object.entries(ABSENT_DEFAULTS)) {
    if (!present.has(k) && report[k as keyof typeof ABSENT_DEFAULTS] !== zero) {
      throw new RangeError(`ATTESTATION_REPORT v${report.version} has no ${k}; it must be 0`);
    }
  }
  return layout.serialize(report);
}

/** The signed bytes [0x000, 0x2A0) of a raw report (a copy). */
export function signedRegion(data: Uint8Array): Uint8Array {
  if (data.length !== REPORT_SIZE) {
    throw new ReportDecodeError("BAD_LENGTH", `${data.length} bytes, need ${REPORT_SIZE}`, {
      field: "report",
      expected: REPORT_SIZE,
      actual: data.length,
    });
  }
  return data.slice(0, SIGNED_REGION_END);
}

/**
 * A report decoded for people and machines: every field, with the policy bits, TCB parts
 * (in the product's layout), signer info and platform info spelled out. Used by
 * `seven report show` and the verify summary.
 */
import { hex64, toHex } from "../../shared/base/index.js";
import {
  decodeGuestPolicy,
  decodePlatformInfo,
  decodeSignerInfo,
  decodeTcbVersion,
  type AttestationReport,
  type TcbVersion,
} from "../../shared/spec/index.js";
import { PRODUCT_DISPLAY, type SnpProduct } from "./product.js";

export type TcbLayoutName = "milan/genoa" | "turin";

/**
 * The TCB layout to decode with: the product when known, else from CPUID_FAM_ID
 * (v3+: family 0x1A is Turin); v2 reports carry no CPUID and are read as Milan/Genoa.
 */
export function productForTcb(report: AttestationReport, product?: SnpProduct): SnpProduct {
  if (product !== undefined) return product;
  return report.version >= 3 && report.cpuidFamId === 0x1a ? "turin" : "milan";
}

export interface TcbView {
  readonly raw: string;
  readonly parts: TcbVersion;
}

function tcbView(v: bigint, product: SnpProduct): TcbView {
  return { raw: hex64(v), parts: decodeTcbVersion(v, product) };
}

export function formatTcbParts(t: TcbVersion): string {
  return `${t.fmc !== undefined ? `fmc=${t.fmc} ` : ""}bl=${t.bootloader} tee=${t.tee} snp=${t.snp} ucode=${t.microcode}`;
}

/** Every field, decoded; JSON-safe (bigints as 0x strings, bytes as hex). */
export function reportView(r: AttestationReport, product?: SnpProduct): Record<string, unknown> {
  const p = productForTcb(r, product);
  const policy = decodeGuestPolicy(r.policy);
  const signer = decodeSignerInfo(r.signerInfo);
  const platform = decodePlatformInfo(r.platformInfo);
  return {
    version: r.version,
    guestSvn: r.guestSvn,
    policy: { raw: hex64(r.policy), ...policy },
    familyId: toHex(r.familyId),
    imageId: toHex(r.imageId),
    vmpl: r.vmpl,
    signatureAlgo: r.signatureAlgo,
    currentTcb: tcbView(r.currentTcb, p),
    platformInfo: { raw: hex64(r.platformInfo), ...platform },
    signerInfo: { raw: `0x${r.signerInfo.toString(16)}`, ...signer },
    reportData: toHex(r.reportData),
    measurement: toHex(r.measurement),
    hostData: toHex(r.hostData),
    idKeyDigest: toHex(r.idKeyDigest),
    authorKeyDigest: toHex(r.authorKeyDigest),
    reportId: toHex(r.reportId),
    reportIdMa: toHex(r.reportIdMa),
    reportedTcb: tcbView(r.reportedTcb, p),
    cpuid: r.version >= 3 ? { family: r.cpuidFamId, model: r.cpuidModId, stepping: r.cpuidStep } : null,
    chipId: toHex(r.chipId),
    committedTcb: tcbView(r.committedTcb, p),
    currentFirmware: `${r.currentMajor}.${r.currentMinor}.${r.currentBuild}`,
    committedFirmware: `${r.committedMajor}.${r.committedMinor}.${r.committedBuild}`,
    launchTcb: tcbView(r.launchTcb, p),
    launchMitVector: r.version >= 5 ? hex64(r.launchMitVector) : null,
    currentMitVector: r.version >= 5 ? hex64(r.currentMitVector) : null,
    signature: { r: toHex(r.signature.subarray(0, 72).slice().reverse()), s: toHex(r.signature.subarray(72, 144).slice().reverse()) },
    tcbLayout: p === "turin" ? "turin" : "milan/genoa",
    tcbLayoutFrom: product !== undefined ? `product ${PRODUCT_DISPLAY[product]}` : r.version >= 3 ? "CPUID_FAM_ID" : "default (v2 report has no CPUID)",
  };
}

const flags = (o: Readonly<Record<string, unknown>>, skip: readonly string[] = []): string =>
  Object.entries(o)
    .filter(([k, v]) => typeof v === "boolean" && !skip.includes(k))
    .map(([k, v]) => `${k}=${v ? 1 : 0}`)
    .join(" ");

/** Human-readable lines, one per field. */
export function reportText(r: AttestationReport, product?: SnpProduct): string {
  const p = productForTcb(r, product);
  const policy = decodeGuestPolicy(r.policy);
  const signer = decodeSignerInfo(r.signerInfo);
  const platform = decodePlatformInfo(r.platformInfo);
  const tcb = (v: bigint): string => `${hex64(v)}  ${formatTcbParts(decodeTcbVersion(v, p))}`;
  const rows: Array<[string, string]> = [
    ["VERSION", String(r.version)],
    ["GUEST_SVN", String(r.guestSvn)],
    ["POLICY", `${hex64(r.policy)}  ABI>=${policy.abiMajor}.${policy.abiMinor} ${flags(policy as unknown as Record<string, unknown>)}`],
    ["FAMILY_ID", toHex(r.familyId)],
    ["IMAGE_ID", toHex(r.imageId)],
    ["VMPL", String(r.vmpl)],
    ["SIGNATURE_ALGO", `${r.signatureAlgo}${r.signatureAlgo === 1 ? " (ECDSA P-384 with SHA-384)" : ""}`],
    ["CURRENT_TCB", tcb(r.currentTcb)],
    ["PLATFORM_INFO", `${hex64(r.platformInfo)}  ${flags(platform as unknown as Record<string, unknown>)}`],
    ["SIGNER_INFO", `0x${r.signerInfo.toString(16)}  SIGNING_KEY=${signer.signingKey} (${signer.signingKeyName}) MASK_CHIP_KEY=${signer.maskChipKey ? 1 : 0} AUTHOR_KEY_EN=${signer.authorKeyEn ? 1 : 0}`],
    ["REPORT_DATA", toHex(r.reportData)],
    ["MEASUREMENT", toHex(r.measurement)],
    ["HOST_DATA", toHex(r.hostData)],
    ["ID_KEY_DIGEST", toHex(r.idKeyDigest)],
    ["AUTHOR_KEY_DIGEST", toHex(r.authorKeyDigest)],
    ["REPORT_ID", toHex(r.reportId)],
    ["REPORT_ID_MA", toHex(r.reportIdMa)],
    ["REPORTED_TCB", tcb(r.reportedTcb)],
  ];
  if (r.version >= 3) rows.push(["CPUID", `family 0x${r.cpuidFamId.toString(16)} model 0x${r.cpuidModId.toString(16)} stepping ${r.cpuidStep}`]);
  rows.push(
    ["CHIP_ID", toHex(r.chipId)],
    ["COMMITTED_TCB", tcb(r.committedTcb)],
    ["CURRENT_FIRMWARE", `${r.currentMajor}.${r.currentMinor}.${r.currentBuild}`],
    ["COMMITTED_FIRMWARE", `${r.committedMajor}.${r.committedMinor}.${r.committedBuild}`],
    ["LAUNCH_TCB", tcb(r.launchTcb)],
  );
  if (r.version >= 5) rows.push(["LAUNCH_MIT_VECTOR", hex64(r.launchMitVector)], ["CURRENT_MIT_VECTOR", hex64(r.currentMitVector)]);
  rows.push(
    ["SIGNATURE.R", toHex(r.signature.subarray(0, 72).slice().reverse())],
    ["SIGNATURE.S", toHex(r.signature.subarray(72, 144).slice().reverse())],
  );
  const layout = p === "turin" ? "Turin" : "Milan/Genoa";
  const width = Math.max(...rows.map(([k]) => k.length));
  return [
    `ATTESTATION_REPORT version ${r.version} (TCB parts in the ${layout} layout)`,
    ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
  ].join("\n");
}

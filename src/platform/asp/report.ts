/**
 * ATTESTATION_REPORT generation — SNP.md §1: the real 0x4A0-byte layout (shared/spec
 * attestation-report.ts, VERSION 2, 3 or 5), signed with the VCEK: ECDSA P-384/SHA-384
 * over bytes 0x000–0x29F, R and S as 72-byte little-endian integers at 0x2A0 / 0x2E8.
 * Signatures are RFC 6979 deterministic, so the same inputs give the same bytes.
 */
import {
  REPORT_SIZE,
  SIGNATURE_ALGO_ECDSA_P384_SHA384,
  SIGNED_REGION_END,
  SIGNING_KEY,
  encodeSignerInfo,
  serializeAttestationReport,
  signatureFromRS,
} from "../../shared/spec/index.js";
import type { AttestationReport, ReportVersion } from "../../shared/spec/index.js";
import { signP384 } from "./ecdsa-p384.js";
import type { GuestContext } from "./guest-context.js";
import type { FirmwareVersion, ProductInfo } from "./products.js";

export interface ReportPlatform {
  readonly product: ProductInfo;
  readonly version: ReportVersion;
  /** CURRENT = REPORTED = COMMITTED TCB (the model has no TCB rollback or pending update). */
  readonly tcb: bigint;
  readonly firmware: FirmwareVersion;
  readonly platformInfo: bigint;
  /** CHIP_ID as reported: 64 bytes (Turin: 8 used, rest zero), all zero when MASK_CHIP_ID. */
  readonly reportedChipId: Uint8Array;
}

export interface ReportRequest {
  readonly reportData: Uint8Array;
  readonly vmpl: number;
}

/** The unsigned report fields for the running guest `ctx`. */
export function reportFields(ctx: GuestContext, p: ReportPlatform, req: ReportRequest): AttestationReport {
  const v3 = p.version >= 3;
  return {
    version: p.version,
    guestSvn: ctx.guestSvn,
    policy: ctx.policy,
    familyId: new Uint8Array(ctx.familyId),
    imageId: new Uint8Array(ctx.imageId),
    vmpl: req.vmpl,
    signatureAlgo: SIGNATURE_ALGO_ECDSA_P384_SHA384,
    currentTcb: p.tcb,
    platformInfo: p.platformInfo,
    signerInfo: encodeSignerInfo({ authorKeyEn: ctx.authorKeyEn, maskChipKey: false, signingKey: SIGNING_KEY.VCEK }),
    reportData: new Uint8Array(req.reportData),
    measurement: new Uint8Array(ctx.digest),
    hostData: new Uint8Array(ctx.hostData),
    idKeyDigest: new Uint8Array(ctx.idKeyDigest),
    authorKeyDigest: new Uint8Array(ctx.authorKeyDigest),
    reportId: new Uint8Array(ctx.reportId),
    reportIdMa: new Uint8Array(32).fill(0xff),
    reportedTcb: p.tcb,
    cpuidFamId: v3 ? p.product.cpuid.family : 0,
    cpuidModId: v3 ? p.product.cpuid.model : 0,
    cpuidStep: v3 ? p.product.cpuid.stepping : 0,
    chipId: new Uint8Array(p.reportedChipId),
    committedTcb: p.tcb,
    currentBuild: p.firmware.build,
    currentMinor: p.firmware.minor,
    currentMajor: p.firmware.major,
    committedBuild: p.firmware.build,
    committedMinor: p.firmware.minor,
    committedMajor: p.firmware.major,
    launchTcb: ctx.launchTcb,
    launchMitVector: 0n,
    currentMitVector: 0n,
    signature: new Uint8Array(0x200),
  };
}

/** Serializes `fields` and signs bytes [0, 0x2A0) with the VCEK secret scalar. */
export function signReport(fields: AttestationReport, vcekSecret: Uint8Array): Uint8Array {
  const raw = serializeAttestationReport({ ...fields, signature: new Uint8Array(0x200) });
  if (raw.length !== REPORT_SIZE) throw new RangeError("report serialization has the wrong size");
  const sig = signatureFromRS(signP384(raw.subarray(0, SIGNED_REGION_END), vcekSecret));
  raw.set(sig, SIGNED_REGION_END);
  return raw;
}

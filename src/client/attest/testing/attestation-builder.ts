/**
 * A builder for attestation evidence (go-sev-guest testing/fake_certs.go style): it makes
 * a valid ARK → ASK → VCEK (or ARK → ASVK → VLEK) chain and a report signed by the leaf,
 * all of which verify with the ARK passed as a trust root; each override changes ONE
 * thing, so a negative test shows exactly one failing check.
 *
 *   const ev = buildAttestation({ report: { vmpl: 1 } });
 *   checkAttestation(ev.input(), {})   // → VMPL_MISMATCH only
 */
import { sign } from "node:crypto";
import { fixedClock, type Clock } from "../../../shared/base/index.js";
import {
  derToSignatureField,
  encodeSignerInfo,
  encodeTcbVersion,
  serializeAttestationReport,
  SIGNATURE_OFFSET,
  SIGNED_REGION_END,
  SIGNING_KEY,
  type AttestationReport,
  type TcbVersion,
} from "../../../shared/spec/index.js";
import type { KeyKind } from "../chain.js";
import type { SnpProduct } from "../product.js";
import { PRODUCT_DISPLAY } from "../product.js";
import type { VerifyInput } from "../verify.js";
import { toPem } from "../certificate.js";
import {
  amdExtensions,
  ARK_EXTENSIONS,
  ASK_EXTENSIONS,
  issueCertificate,
  testKeys,
  type AmdLeafFields,
  type ExtensionSpec,
  type KeyPair,
  type SignatureScheme,
} from "./cert-builder.js";

export interface CertOverrides {
  readonly cn?: string;
  readonly issuerCn?: string;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  readonly scheme?: SignatureScheme;
  readonly tbsScheme?: SignatureScheme;
  /** Replaces the extensions entirely. */
  readonly extensions?: readonly ExtensionSpec[];
  /** The subject's key pair (default: the fixture key for that role). */
  readonly key?: KeyPair;
  /** Who signs: the normal issuer, or another key. */
  readonly signedBy?: "issuer" | "ark" | "other-ark" | "self";
}

export interface LeafOverrides extends CertOverrides {
  /** Changes to the AMD extension values (default: consistent with the report). */
  readonly amd?: Partial<AmdLeafFields>;
  /** AMD extensions to leave out, by field name. */
  readonly omit?: readonly (keyof AmdLeafFields)[];
  /** Extra extensions appended after AMD's. */
  readonly extra?: readonly ExtensionSpec[];
}

export interface AttestationOverrides {
  readonly product?: SnpProduct;
  readonly keyKind?: KeyKind;
  /** REPORTED_TCB and the leaf's SPLs (default per product). */
  readonly tcb?: TcbVersion;
  /** CHIP_ID (64 bytes) and, from it, the VCEK hwID. */
  readonly chipId?: Uint8Array;
  /** Report fields, applied last (e.g. { vmpl: 1 }, { reportedTcb: … }). */
  readonly report?: Partial<AttestationReport>;
  readonly ark?: CertOverrides;
  /** The ASK (VCEK case) or ASVK (VLEK case). */
  readonly intermediate?: CertOverrides;
  readonly leaf?: LeafOverrides;
  /** Change the serialized bytes before signing (e.g. set a reserved byte). */
  readonly beforeSign?: (raw: Uint8Array) => void;
  /** "zero": leave SIGNATURE all zero (an unsigned report); "other-key": sign with another P-384 key. */
  readonly signature?: "valid" | "zero" | "other-key";
  /** Change the bytes after signing. */
  readonly afterSign?: (raw: Uint8Array) => void;
  /** The verification time (default 2025-01-01). */
  readonly now?: Date;
}

export interface BuiltAttestation {
  readonly product: SnpProduct;
  readonly keyKind: KeyKind;
  readonly report: Uint8Array;
  readonly fields: AttestationReport;
  readonly leaf: Uint8Array;
  readonly intermediate: Uint8Array;
  readonly ark: Uint8Array;
  /** PEM bundle: intermediate then ARK (the KDS cert_chain order). */
  readonly chainPem: string;
  readonly clock: Clock;
  /** Verify input that passes: chain + this ARK as an explicit trust root + the fixed clock. */
  input(extra?: Partial<VerifyInput>): VerifyInput;
}

export const DEFAULT_NOW = new Date("2025-01-01T00:00:00Z");

export function defaultTcb(product: SnpProduct): TcbVersion {
  return product === "turin" ? { fmc: 1, bootloader: 3, tee: 0, snp: 5, microcode: 9 } : { bootloader: 3, tee: 0, snp: 8, microcode: 115 };
}

export function defaultChipId(product: SnpProduct): Uint8Array {
  const c = new Uint8Array(64);
  const n = product === "turin" ? 8 : 64;
  for (let i = 0; i < n; i++) c[i] = (i * 7 + 0x31) & 0xff;
  return c;
}

const fill = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v);

export function defaultReport(product: SnpProduct, keyKind: KeyKind, tcb: TcbVersion, chipId: Uint8Array): AttestationReport {
  const t = encodeTcbVersion(tcb, product);
  return {
    version: 3,
    guestSvn: 1,
    policy: 0x30000n,
    familyId: fill(16, 0),
    imageId: fill(16, 0),
    vmpl: 0,
    signatureAlgo: 1,
    currentTcb: t,
    platformInfo: 0x1n,
    signerInfo: encodeSignerInfo({ signingKey: keyKind === "vcek" ? SIGNING_KEY.VCEK : SIGNING_KEY.VLEK }),
    reportData: fill(64, 0x5d),
    measurement: fill(48, 0xa7),
    hostData: fill(32, 0),
    idKeyDigest: fill(48, 0),
    authorKeyDigest: fill(48, 0),
    reportId: fill(32, 0x42),
    reportIdMa: fill(32, 0xff),
    reportedTcb: t,
    cpuidFamId: product === "turin" ? 0x1a : 0x19,
    cpuidModId: product === "genoa" ? 0x11 : product === "turin" ? 0x02 : 0x01,
    cpuidStep: 1,
    chipId: keyKind === "vlek" ? fill(64, 0) : chipId,
    committedTcb: t,
    currentBuild: 40,
    currentMinor: 55,
    currentMajor: 1,
    committedBuild: 40,
    committedMinor: 55,
    committedMajor: 1,
    launchTcb: t,
    launchMitVector: 0n,
    currentMitVector: 0n,
    signature: fill(0x200, 0),
  };
}

/** Builds evidence that verifies; apply at most one override per negative test. */
export function buildAttestation(o: AttestationOverrides = {}): BuiltAttestation {
  const product = o.product ?? "milan";
  const keyKind = o.keyKind ?? "vcek";
  const k = testKeys();
  const name = PRODUCT_DISPLAY[product];
  const now = o.now ?? DEFAULT_NOW;
  const tcb = o.tcb ?? defaultTcb(product);
  const chipId = o.chipId ?? defaultChipId(product);
  const caFrom = new Date("2020-01-01T00:00:00Z");
  const caTo = new Date("2045-01-01T00:00:00Z");

  const arkCn = o.ark?.cn ?? `ARK-${name}`;
  const arkKey = o.ark?.key ?? k.ark;
  const signerKey = (by: CertOverrides["signedBy"], normal: KeyPair, self: KeyPair): KeyPair =>
    by === "ark" ? k.ark : by === "other-ark" ? k.otherArk : by === "self" ? self : normal;
  const ark = issueCertificate({
    subjectCn: arkCn,
    issuerCn: o.ark?.issuerCn ?? arkCn,
    serial: 0x10000n,
    notBefore: o.ark?.notBefore ?? caFrom,
    notAfter: o.ark?.notAfter ?? caTo,
    publicKey: arkKey.publicKey,
    extensions: o.ark?.extensions ?? ARK_EXTENSIONS,
    signingKey: signerKey(o.ark?.signedBy, arkKey, arkKey).privateKey,
    ...(o.ark?.scheme ? { scheme: o.ark.scheme } : {}),
    ...(o.ark?.tbsScheme ? { tbsScheme: o.ark.tbsScheme } : {}),
  });

  const im = o.intermediate;
  const imCn = im?.cn ?? (keyKind === "vcek" ? `SEV-${name}` : `SEV-VLEK-${name}`);
  const imKey = im?.key ?? (keyKind === "vcek" ? k.ask : k.asvk);
  const intermediate = issueCertificate({
    subjectCn: imCn,
    issuerCn: im?.issuerCn ?? arkCn,
    serial: 0x10001n,
    notBefore: im?.notBefore ?? caFrom,
    notAfter: im?.notAfter ?? caTo,
    publicKey: imKey.publicKey,
    extensions: im?.extensions ?? ASK_EXTENSIONS,
    signingKey: signerKey(im?.signedBy, arkKey, imKey).privateKey,
    ...(im?.scheme ? { scheme: im.scheme } : {}),
    ...(im?.tbsScheme ? { tbsScheme: im.tbsScheme } : {}),
  });

  const lf = o.leaf;
  const leafKey = lf?.key ?? (keyKind === "vcek" ? k.vcek : k.vlek);
  const fields: AmdLeafFields = {
    structVersion: product === "turin" ? 1 : 0,
    productName: name,
    blSpl: tcb.bootloader,
    teeSpl: tcb.tee,
    snpSpl: tcb.snp,
    ucodeSpl: tcb.microcode,
    ...(product === "turin" ? { fmcSpl: tcb.fmc ?? 0 } : {}),
    ...(keyKind === "vcek" ? { hwId: product === "turin" ? chipId.slice(0, 8) : chipId.slice() } : { cspId: "CN=test-csp.example" }),
    ...lf?.amd,
  };
  const kept = Object.fromEntries(Object.entries(fields).filter(([key]) => !(lf?.omit ?? []).includes(key as keyof AmdLeafFields))) as AmdLeafFields;
  const leaf = issueCertificate({
    subjectCn: lf?.cn ?? (keyKind === "vcek" ? "SEV-VCEK" : "SEV-VLEK"),
    issuerCn: lf?.issuerCn ?? imCn,
    serial: 0n,
    notBefore: lf?.notBefore ?? new Date("2024-01-01T00:00:00Z"),
    notAfter: lf?.notAfter ?? new Date("2031-01-01T00:00:00Z"),
    publicKey: leafKey.publicKey,
    extensions: lf?.extensions ?? [...amdExtensions(kept), ...(lf?.extra ?? [])],
    signingKey: signerKey(lf?.signedBy, imKey, leafKey).privateKey,
    ...(lf?.scheme ? { scheme: lf.scheme } : {}),
    ...(lf?.tbsScheme ? { tbsScheme: lf.tbsScheme } : {}),
  });

  const report: AttestationReport = { ...defaultReport(product, keyKind, tcb, chipId), ...o.report };
  const raw = serializeAttestationReport(report);
  o.beforeSign?.(raw);
  const sigMode = o.signature ?? "valid";
  if (sigMode !== "zero") {
    // "other-key": a valid P-384 signature by a key that is not the leaf's.
    const key = sigMode === "other-key" ? (leafKey === k.vcek ? k.vlek : k.vcek) : leafKey;
    const der = sign("sha384", raw.subarray(0, SIGNED_REGION_END), { key: key.privateKey, dsaEncoding: "der" });
    raw.set(derToSignatureField(new Uint8Array(der)), SIGNATURE_OFFSET);
  }
  o.afterSign?.(raw);

  const clock = fixedClock(now);
  const chainPem = toPem(intermediate) + toPem(ark);
  return {
    product,
    keyKind,
    report: raw,
    fields: report,
    leaf,
    intermediate,
    ark,
    chainPem,
    clock,
    input: (extra = {}) => ({ report: raw, keyKind, certificate: leaf, chain: chainPem, trustRoots: [ark], clock, ...extra }),
  };
}


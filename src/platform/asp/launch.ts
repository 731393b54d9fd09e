/**
 * SNP_LAUNCH_START / SNP_LAUNCH_UPDATE / SNP_LAUNCH_FINISH — SNP.md §3.
 *
 * LAUNCH_UPDATE reads the page's plaintext (the hypervisor wrote it while the page was
 * still its own), extends the launch digest with the PAGE_INFO chaining of §3.2/§3.3
 * (shared/spec page-info.ts), applies the page type's firmware action (ZERO: zero-fill,
 * SECRETS: write the secrets page, CPUID: check the table, VMSA: check the save area) and
 * then makes the RMP transition (assigned, validated, pre-granted VMPL1–3 masks, VMSA flag).
 * LAUNCH_FINISH checks the optional ID block (§3.5) and records HOST_DATA.
 *
 * Failures: a command in the wrong phase → PlatformError("LAUNCH_STATE"); a bad address →
 * "BAD_GPA"; malformed arguments → "BAD_ARGUMENT"; what the firmware itself rejects →
 * "ASP_ERROR" with `details.status` a SEV_RET code. A failed command changes nothing.
 */
import { bytesEqual, isAllZero, isPageAligned, PAGE_SIZE, readU32, readU8, readU64 } from "../../shared/base/index.js";
import type { Gpa, SeededRng } from "../../shared/base/index.js";
import {
  ECDSA_PUBLIC_KEY_SIZE,
  GUEST_POLICY,
  ID_KEY_ALGO_ECDSA_P384_SHA384,
  RMP_PERM_ALL,
  SEV_FEATURES,
  VMSA,
  getBits,
  initialLaunchDigest,
  keyStructDigest,
  launchDigestExtend,
  parseEcdsaPublicKeyStruct,
  parseIdAuth,
  parseIdBlock,
  validatePolicyBits,
} from "../../shared/spec/index.js";
import type { LaunchUpdate } from "../api.js";
import { PlatformError } from "../fault.js";
import { verifyP384Field } from "./ecdsa-p384.js";
import { SEV_RET } from "./firmware-status.js";
import type { SevRet } from "./firmware-status.js";
import type { GuestContext } from "./guest-context.js";
import type { AspHardware } from "./hardware.js";
import type { FirmwareVersion } from "./products.js";
import { buildSecretsPage } from "./secrets.js";

export interface LaunchEnv {
  readonly hw: AspHardware;
  readonly firmware: FirmwareVersion;
  readonly currentTcb: bigint;
  /** CPUID(1).EAX for the secrets page. */
  readonly cpuidSignature: number;
  /** Source of the guest's VMPCKs and REPORT_ID (drawn at LAUNCH_START). */
  readonly guestRng: SeededRng;
}

/** Maximum CPUID function entries in the CPUID page (SNP ABI CPUID table). */
export const CPUID_MAX_ENTRIES = 64;

export function aspError(status: SevRet, message: string, details: Record<string, unknown> = {}): PlatformError {
  return new PlatformError("ASP_ERROR", message, { status, ...details });
}

function requirePhase(ctx: GuestContext, want: GuestContext["phase"], command: string): void {
  if (ctx.phase !== want) {
    throw new PlatformError("LAUNCH_STATE", `${command} needs guest state "${want}", it is "${ctx.phase}"`, {
      command,
      state: ctx.phase,
      expected: want,
    });
  }
}

export function launchStart(ctx: GuestContext, env: LaunchEnv, p: { policy: bigint; gosvw?: Uint8Array }): void {
  requirePhase(ctx, "none", "SNP_LAUNCH_START");
  if (typeof p.policy !== "bigint" || p.policy < 0n || p.policy >= 1n << 64n) {
    throw new PlatformError("BAD_ARGUMENT", "policy must be a u64", { policy: p.policy });
  }
  const issue = validatePolicyBits(p.policy)[0];
  if (issue !== undefined) {
    throw aspError(SEV_RET.POLICY_FAILURE, `guest policy 0x${p.policy.toString(16)}: ${issue.code}`, { policy: p.policy, reason: issue.code });
  }
  const major = Number(getBits(p.policy, GUEST_POLICY.ABI_MAJOR));
  const minor = Number(getBits(p.policy, GUEST_POLICY.ABI_MINOR));
  const fw = env.firmware;
  if (major > fw.major || (major === fw.major && minor > fw.minor)) {
    throw aspError(SEV_RET.POLICY_FAILURE, `policy needs ABI ${major}.${minor}, firmware is ${fw.major}.${fw.minor}`, {
      policy: p.policy,
      reason: "ABI_VERSION",
    });
  }
  const gosvw = p.gosvw ?? new Uint8Array(16);
  if (gosvw.length !== 16) throw new PlatformError("BAD_ARGUMENT", "GOSVW must be 16 bytes", { length: gosvw.length });

  ctx.phase = "launching";
  ctx.policy = p.policy;
  ctx.gosvw = new Uint8Array(gosvw);
  ctx.digest = initialLaunchDigest();
  ctx.vmpck = [0, 1, 2, 3].map(() => env.guestRng.bytes(32));
  ctx.nextSeqno = [1n, 1n, 1n, 1n];
  ctx.reportId = env.guestRng.bytes(32);
  ctx.launchTcb = env.currentTcb;
}

export function launchUpdate(ctx: GuestContext, env: LaunchEnv, u: LaunchUpdate): Uint8Array {
  requirePhase(ctx, "launching", "SNP_LAUNCH_UPDATE");
  const hw = env.hw;
  const gpa = u.gpa;
  if (typeof gpa !== "bigint" || gpa < 0n || !isPageAligned(gpa) || gpa + BigInt(PAGE_SIZE) > hw.memoryBytes) {
    throw new PlatformError("BAD_GPA", `LAUNCH_UPDATE GPA 0x${String(gpa.toString(16))} is not a page inside guest memory`, { gpa });
  }
  const perms = u.vmplPerms ?? ([0, 0, 0] as const);
  if (perms.length !== 3 || perms.some((x) => !Number.isInteger(x) || x < 0 || (x & ~RMP_PERM_ALL) !== 0)) {
    throw new PlatformError("BAD_ARGUMENT", "vmplPerms must be three permission masks (bits 4:0)", { vmplPerms: perms });
  }
  if (u.type === "vmsa" && perms.some((x) => x !== 0)) {
    throw aspError(SEV_RET.INVALID_PARAM, "a VMSA page cannot pre-grant VMPL1–3 permissions", { gpa, vmplPerms: perms });
  }
  if (hw.rmpGet(gpa).assigned) {
    throw aspError(SEV_RET.INVALID_PAGE_STATE, `page 0x${gpa.toString(16)} is not hypervisor-owned`, { gpa });
  }

  let contents: Uint8Array | undefined;
  let write: Uint8Array | undefined;
  switch (u.type) {
    case "normal":
      contents = hw.readPage(gpa);
      break;
    case "vmsa":
      contents = hw.readPage(gpa);
      checkVmsa(contents, gpa);
      break;
    case "zero":
      write = new Uint8Array(PAGE_SIZE);
      break;
    case "secrets":
      write = buildSecretsPage({ fms: env.cpuidSignature, gosvw: ctx.gosvw, vmpck: ctx.vmpck });
      break;
    case "cpuid":
      checkCpuidTable(hw.readPage(gpa), gpa);
      break;
    case "unmeasured":
      break;
    default:
      throw new PlatformError("BAD_ARGUMENT", `unknown page type ${String(u.type)}`, { type: u.type });
  }
  const digest = launchDigestExtend(ctx.digest, {
    type: u.type,
    gpa,
    vmplPerms: [perms[0]!, perms[1]!, perms[2]!],
    ...(contents === undefined ? {} : { contents }),
  });
  if (write !== undefined) hw.writePage(gpa, write);
  hw.rmpLaunchAssign(gpa, { vmplPerms: [perms[0]!, perms[1]!, perms[2]!], vmsa: u.type === "vmsa" });
  ctx.digest = digest;
  return new Uint8Array(digest);
}

/** The firmware refuses a VMSA whose VMPL field is not 0–3 or that does not enable SNP. */
function checkVmsa(page: Uint8Array, gpa: Gpa): void {
  const vmpl = readU8(page, VMSA.offsetOf("vmpl"));
  const features = readU64(page, VMSA.offsetOf("sev_features"));
  if (vmpl > 3 || (features & SEV_FEATURES.SNP_ACTIVE) === 0n) {
    throw aspError(SEV_RET.INVALID_PARAM, `VMSA at 0x${gpa.toString(16)}: VMPL ${vmpl}, SEV_FEATURES 0x${features.toString(16)}`, {
      gpa,
      vmpl,
      sevFeatures: features,
    });
  }
}

/** CPUID page: COUNT u32 @0 (≤ 64 entries of 0x30 bytes from 0x10). The model accepts the values. */
function checkCpuidTable(page: Uint8Array, gpa: Gpa): void {
  const count = readU32(page, 0);
  if (count > CPUID_MAX_ENTRIES) {
    throw aspError(SEV_RET.INVALID_PARAM, `CPUID table at 0x${gpa.toString(16)} has ${count} entries (max ${CPUID_MAX_ENTRIES})`, { gpa, count });
  }
}

export function launchFinish(ctx: GuestContext, p: { hostData?: Uint8Array; idBlock?: Uint8Array; idAuth?: Uint8Array }): void {
  requirePhase(ctx, "launching", "SNP_LAUNCH_FINISH");
  const hostData = p.hostData ?? new Uint8Array(32);
  if (hostData.length !== 32) throw new PlatformError("BAD_ARGUMENT", "HOST_DATA must be 32 bytes", { length: hostData.length });
  if ((p.idBlock === undefined) !== (p.idAuth === undefined)) {
    throw new PlatformError("BAD_ARGUMENT", "an ID block needs its ID_AUTH structure and vice versa");
  }
  const id = p.idBlock !== undefined && p.idAuth !== undefined ? checkIdBlock(ctx, p.idBlock, p.idAuth) : undefined;

  ctx.hostData = new Uint8Array(hostData);
  if (id !== undefined) {
    ctx.familyId = id.familyId;
    ctx.imageId = id.imageId;
    ctx.guestSvn = id.guestSvn;
    ctx.idKeyDigest = id.idKeyDigest;
    ctx.authorKeyDigest = id.authorKeyDigest;
    ctx.authorKeyEn = id.authorKeyEn;
  }
  ctx.phase = "running";
}

interface IdResult {
  familyId: Uint8Array;
  imageId: Uint8Array;
  guestSvn: number;
  idKeyDigest: Uint8Array;
  authorKeyDigest: Uint8Array;
  authorKeyEn: boolean;
}

/**
 * ID block checks, in order: structure, ID key algorithm, ID-block signature with the ID
 * key, author key (present ⇔ its struct is non-zero; then AUTH_KEY_ALGO must be 1 and it
 * must have signed the ID key struct), LD == launch digest, POLICY == launch policy.
 */
function checkIdBlock(ctx: GuestContext, idBlockBytes: Uint8Array, idAuthBytes: Uint8Array): IdResult {
  let block;
  let auth;
  try {
    block = parseIdBlock(idBlockBytes);
    auth = parseIdAuth(idAuthBytes);
  } catch (e) {
    throw aspError(SEV_RET.INVALID_PARAM, `malformed ID block / ID_AUTH: ${(e as Error).message}`, { cause: (e as { code?: unknown }).code });
  }
  if (auth.idKeyAlgo !== ID_KEY_ALGO_ECDSA_P384_SHA384) {
    throw aspError(SEV_RET.INVALID_PARAM, `ID_KEY_ALGO ${auth.idKeyAlgo} is not ECDSA P-384/SHA-384`, { idKeyAlgo: auth.idKeyAlgo });
  }
  const idKey = keyPoint(auth.idKey, "ID key");
  if (!verifyP384Field(idBlockBytes, auth.idBlockSig, idKey)) {
    throw aspError(SEV_RET.BAD_SIGNATURE, "ID block signature does not verify with the ID key", { field: "idBlockSig" });
  }
  const authorKeyEn = !isAllZero(auth.authorKey);
  if (authorKeyEn) {
    if (auth.authKeyAlgo !== ID_KEY_ALGO_ECDSA_P384_SHA384) {
      throw aspError(SEV_RET.INVALID_PARAM, `AUTH_KEY_ALGO ${auth.authKeyAlgo} is not ECDSA P-384/SHA-384`, { authKeyAlgo: auth.authKeyAlgo });
    }
    const authorKey = keyPoint(auth.authorKey, "author key");
    if (!verifyP384Field(auth.idKey, auth.idKeySig, authorKey)) {
      throw aspError(SEV_RET.BAD_SIGNATURE, "ID key signature does not verify with the author key", { field: "idKeySig" });
    }
  }
  if (!bytesEqual(block.ld, ctx.digest)) {
    throw aspError(SEV_RET.BAD_MEASUREMENT, "ID block LD differs from the launch digest", { field: "ld" });
  }
  if (block.policy !== ctx.policy) {
    throw aspError(SEV_RET.POLICY_FAILURE, `ID block policy 0x${block.policy.toString(16)} differs from the launch policy`, {
      field: "policy",
      idBlockPolicy: block.policy,
      launchPolicy: ctx.policy,
    });
  }
  return {
    familyId: block.familyId,
    imageId: block.imageId,
    guestSvn: block.guestSvn,
    idKeyDigest: keyStructDigest(auth.idKey),
    authorKeyDigest: authorKeyEn ? keyStructDigest(auth.authorKey) : new Uint8Array(48),
    authorKeyEn,
  };
}

function keyPoint(struct: Uint8Array, what: string) {
  if (struct.length !== ECDSA_PUBLIC_KEY_SIZE) throw aspError(SEV_RET.INVALID_PARAM, `${what} struct has the wrong size`);
  try {
    return parseEcdsaPublicKeyStruct(struct);
  } catch (e) {
    throw aspError(SEV_RET.INVALID_PARAM, `${what}: ${(e as Error).message}`, { field: what });
  }
}

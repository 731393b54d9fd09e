/**
 * Validate: does what a (verified) report says satisfy the owner's policy? One explicit
 * policy object; every field has a documented default, every failure its own code.
 * VMPL defaults to 0 (the agent's reports must come from VMPL0) and DEBUG is refused
 * unless `allowDebug`. Byte fields are compared only when given — but callers binding a
 * session must pass `reportData` (see DESIGN.md "Attestation bound to the channel").
 *
 * TCB minimums are component-wise (each SPL ≥ its minimum) and apply to REPORTED_TCB
 * (what the VCEK/VLEK certifies), CURRENT_TCB and COMMITTED_TCB, as go-sev-guest's
 * MinimumTCB does; `minLaunchTcb` applies to LAUNCH_TCB. `minFirmware` applies to the
 * current and the committed firmware version.
 */
import { bytesEqual, toHex } from "../../shared/base/index.js";
import {
  decodeGuestPolicy,
  decodePlatformInfo,
  decodeSignerInfo,
  decodeTcbVersion,
  type AttestationReport,
  type TcbComponent,
  type TcbVersion,
} from "../../shared/spec/index.js";
import { CheckList, type Check } from "./checks.js";
import { AttestError } from "./errors.js";
import { PRODUCT_DISPLAY, type SnpProduct } from "./product.js";

export type TcbMinimum = Partial<Record<TcbComponent, number>>;

export interface FirmwareVersion {
  readonly major: number;
  readonly minor: number;
  readonly build?: number;
}

export interface AttestationPolicy {
  /** Required VMPL field (default 0). */
  readonly vmpl?: number;
  /** Accept POLICY.DEBUG = 1 (default false). */
  readonly allowDebug?: boolean;
  /** Accept POLICY.MIGRATE_MA = 1 (default false). */
  readonly allowMigrationAgent?: boolean;
  /** Refuse PLATFORM_INFO.SMT_EN = 1 (default false: SMT accepted). */
  readonly requireSmtDisabled?: boolean;
  /** Expected MEASUREMENT (48 bytes). */
  readonly measurement?: Uint8Array;
  /** Expected REPORT_DATA (64 bytes). */
  readonly reportData?: Uint8Array;
  /** Expected HOST_DATA (32 bytes). */
  readonly hostData?: Uint8Array;
  /** Expected ID_KEY_DIGEST (48 bytes). */
  readonly idKeyDigest?: Uint8Array;
  /** Expected AUTHOR_KEY_DIGEST (48 bytes); implies AUTHOR_KEY_EN = 1. */
  readonly authorKeyDigest?: Uint8Array;
  /** Require signer info AUTHOR_KEY_EN = 1 (default false). */
  readonly requireAuthorKey?: boolean;
  /** Expected FAMILY_ID / IMAGE_ID (16 bytes each). */
  readonly familyId?: Uint8Array;
  readonly imageId?: Uint8Array;
  /** Expected CHIP_ID (64 bytes): pin one machine. */
  readonly chipId?: Uint8Array;
  /** Component-wise minimum of REPORTED_TCB, CURRENT_TCB and COMMITTED_TCB. */
  readonly minTcb?: TcbMinimum;
  /** Component-wise minimum of LAUNCH_TCB. */
  readonly minLaunchTcb?: TcbMinimum;
  /** Products accepted (default: any). */
  readonly allowedProducts?: readonly SnpProduct[];
  /** Minimum current and committed firmware version. */
  readonly minFirmware?: FirmwareVersion;
  /** Report versions accepted (default [2, 3, 5]). */
  readonly reportVersions?: readonly number[];
  /** Minimum GUEST_SVN (default: any). */
  readonly minGuestSvn?: number;
}

export const DEFAULT_REPORT_VERSIONS: readonly number[] = [2, 3, 5];

const SIZES = {
  measurement: 48,
  reportData: 64,
  hostData: 32,
  idKeyDigest: 48,
  authorKeyDigest: 48,
  familyId: 16,
  imageId: 16,
  chipId: 64,
} as const;

type ByteField = keyof typeof SIZES;

const BYTE_CHECKS: ReadonlyArray<readonly [ByteField, string, "MEASUREMENT_MISMATCH" | "REPORT_DATA_MISMATCH" | "HOST_DATA_MISMATCH" | "ID_KEY_DIGEST_MISMATCH" | "AUTHOR_KEY_DIGEST_MISMATCH" | "FAMILY_ID_MISMATCH" | "IMAGE_ID_MISMATCH" | "CHIP_ID_MISMATCH"]> = [
  ["measurement", "MEASUREMENT", "MEASUREMENT_MISMATCH"],
  ["reportData", "REPORT_DATA", "REPORT_DATA_MISMATCH"],
  ["hostData", "HOST_DATA", "HOST_DATA_MISMATCH"],
  ["idKeyDigest", "ID_KEY_DIGEST", "ID_KEY_DIGEST_MISMATCH"],
  ["authorKeyDigest", "AUTHOR_KEY_DIGEST", "AUTHOR_KEY_DIGEST_MISMATCH"],
  ["familyId", "FAMILY_ID", "FAMILY_ID_MISMATCH"],
  ["imageId", "IMAGE_ID", "IMAGE_ID_MISMATCH"],
  ["chipId", "CHIP_ID", "CHIP_ID_MISMATCH"],
];

const TCB_COMPONENTS: readonly TcbComponent[] = ["bootloader", "tee", "snp", "microcode", "fmc"];

/**
 * Checks `report` against `policy`. `product` (from verification: the certificate's
 * product) decides the TCB layout; checks that need it are failed when it is unknown.
 */
export function validateReport(report: AttestationReport, policy: AttestationPolicy, product: SnpProduct | undefined): Check[] {
  const list = new CheckList("validate");
  checkPolicyShape(list, policy);

  const vmpl = policy.vmpl ?? 0;
  list.record(
    "policy.vmpl",
    `VMPL is ${vmpl}`,
    report.vmpl === vmpl ? undefined : new AttestError("VMPL_MISMATCH", `report VMPL is ${report.vmpl}, policy requires ${vmpl}`, { expected: vmpl, actual: report.vmpl }),
  );

  const gp = decodeGuestPolicy(report.policy);
  const allowDebug = policy.allowDebug ?? false;
  list.record(
    "policy.debug",
    allowDebug ? "guest POLICY.DEBUG (allowed by policy)" : "guest POLICY.DEBUG is 0",
    gp.debug && !allowDebug ? new AttestError("DEBUG_ALLOWED", "guest policy allows debugging (DEBUG = 1): the host can decrypt guest memory", { policy: report.policy }) : undefined,
  );
  const allowMa = policy.allowMigrationAgent ?? false;
  list.record(
    "policy.migrate-ma",
    allowMa ? "guest POLICY.MIGRATE_MA (allowed by policy)" : "guest POLICY.MIGRATE_MA is 0",
    gp.migrateMa && !allowMa ? new AttestError("MIGRATION_AGENT_ALLOWED", "guest policy allows a migration agent (MIGRATE_MA = 1)", { policy: report.policy }) : undefined,
  );
  if (policy.requireSmtDisabled === true) {
    const smt = decodePlatformInfo(report.platformInfo).smtEn;
    list.record("policy.smt", "PLATFORM_INFO.SMT_EN is 0", smt ? new AttestError("SMT_ENABLED", "SMT is enabled on the platform (PLATFORM_INFO.SMT_EN = 1)", {}) : undefined);
  }

  for (const [key, field, code] of BYTE_CHECKS) {
    const want = policy[key];
    if (want === undefined) continue;
    const got = report[key];
    list.record(
      `policy.${key}`,
      `${field} is as expected`,
      bytesEqual(want, got) ? undefined : new AttestError(code, `${field} is ${toHex(got)}, expected ${toHex(want)}`, { field, expected: toHex(want), actual: toHex(got) }),
    );
  }
  if (policy.requireAuthorKey === true || policy.authorKeyDigest !== undefined) {
    list.record(
      "policy.author-key-en",
      "signer info AUTHOR_KEY_EN is 1",
      decodeSignerInfo(report.signerInfo).authorKeyEn ? undefined : new AttestError("AUTHOR_KEY_REQUIRED", "AUTHOR_KEY_EN is 0: no author key signed the ID key", {}),
    );
  }

  const versions = policy.reportVersions ?? DEFAULT_REPORT_VERSIONS;
  list.record(
    "policy.report-version",
    `report VERSION is one of ${versions.join(", ")}`,
    versions.includes(report.version) ? undefined : new AttestError("VERSION_NOT_ALLOWED", `report VERSION ${report.version} is not one of ${versions.join(", ")}`, { version: report.version, allowed: [...versions] }),
  );

  if (policy.allowedProducts !== undefined) {
    const allowed = policy.allowedProducts;
    list.record(
      "policy.product",
      `product is one of ${allowed.map((p) => PRODUCT_DISPLAY[p]).join(", ")}`,
      product !== undefined && allowed.includes(product)
        ? undefined
        : new AttestError("PRODUCT_NOT_ALLOWED", `product ${product === undefined ? "unknown" : PRODUCT_DISPLAY[product]} is not allowed`, { product, allowed: [...allowed] }),
    );
  }

  if (policy.minTcb !== undefined) {
    for (const [which, value] of [["reported", report.reportedTcb], ["current", report.currentTcb], ["committed", report.committedTcb]] as const) {
      checkTcb(list, `policy.min-tcb.${which}`, `${which.toUpperCase()}_TCB`, value, policy.minTcb, product);
    }
  }
  if (policy.minLaunchTcb !== undefined) checkTcb(list, "policy.min-tcb.launch", "LAUNCH_TCB", report.launchTcb, policy.minLaunchTcb, product);

  if (policy.minFirmware !== undefined) {
    const min = policy.minFirmware;
    const low: string[] = [];
    for (const [which, fw] of [
      ["current", { major: report.currentMajor, minor: report.currentMinor, build: report.currentBuild }],
      ["committed", { major: report.committedMajor, minor: report.committedMinor, build: report.committedBuild }],
    ] as const) {
      if (compareFirmware(fw, min) < 0) low.push(`${which} ${formatFirmware(fw)}`);
    }
    list.record(
      "policy.min-firmware",
      `firmware is at least ${formatFirmware(min)}`,
      low.length === 0 ? undefined : new AttestError("FIRMWARE_TOO_OLD", `firmware below ${formatFirmware(min)}: ${low.join(", ")}`, { minimum: formatFirmware(min), found: low }),
    );
  }

  if (policy.minGuestSvn !== undefined) {
    const min = policy.minGuestSvn;
    list.record(
      "policy.guest-svn",
      `GUEST_SVN is at least ${min}`,
      report.guestSvn >= min ? undefined : new AttestError("GUEST_SVN_TOO_LOW", `GUEST_SVN ${report.guestSvn} < ${min}`, { minimum: min, actual: report.guestSvn }),
    );
  }
  return [...list.checks];
}

function checkTcb(list: CheckList, id: string, field: string, value: bigint, min: TcbMinimum, product: SnpProduct | undefined): void {
  const title = `${field} ≥ ${formatTcb(min)}`;
  if (product === undefined) {
    list.fail(id, title, new AttestError("TCB_TOO_LOW", `${field} cannot be decoded: unknown product`, { field }));
    return;
  }
  const tcb: TcbVersion = decodeTcbVersion(value, product);
  const low: Array<{ component: TcbComponent; minimum: number; actual: number }> = [];
  for (const c of TCB_COMPONENTS) {
    const m = min[c];
    if (m === undefined) continue;
    const actual = tcb[c] ?? 0;
    if (actual < m) low.push({ component: c, minimum: m, actual });
  }
  list.record(
    id,
    title,
    low.length === 0
      ? undefined
      : new AttestError("TCB_TOO_LOW", `${field} below minimum: ${low.map((l) => `${l.component} ${l.actual} < ${l.minimum}`).join(", ")}`, {
          field,
          component: low[0]!.component,
          components: low,
        }),
  );
}

function checkPolicyShape(list: CheckList, policy: AttestationPolicy): void {
  const bad: string[] = [];
  for (const [k, n] of Object.entries(SIZES) as Array<[ByteField, number]>) {
    const v = policy[k];
    if (v !== undefined && v.length !== n) bad.push(`${k} is ${v.length} bytes, need ${n}`);
  }
  if (policy.vmpl !== undefined && !(Number.isInteger(policy.vmpl) && policy.vmpl >= 0 && policy.vmpl <= 3)) bad.push(`vmpl ${policy.vmpl} is not 0–3`);
  for (const [name, t] of [["minTcb", policy.minTcb], ["minLaunchTcb", policy.minLaunchTcb]] as const) {
    for (const [c, v] of Object.entries(t ?? {})) {
      if (!TCB_COMPONENTS.includes(c as TcbComponent) || !Number.isInteger(v) || v < 0 || v > 255) bad.push(`${name}.${c} = ${String(v)}`);
    }
  }
  if (bad.length > 0) list.fail("policy.shape", "policy is well-formed", new AttestError("POLICY_INVALID", `invalid policy: ${bad.join("; ")}`, { problems: bad }));
}

export function compareFirmware(a: FirmwareVersion, b: FirmwareVersion): number {
  return a.major - b.major || a.minor - b.minor || (a.build ?? 0) - (b.build ?? 0);
}

export function formatFirmware(f: FirmwareVersion): string {
  return f.build === undefined ? `${f.major}.${f.minor}` : `${f.major}.${f.minor}.${f.build}`;
}

export function formatTcb(t: TcbMinimum): string {
  return TCB_COMPONENTS.filter((c) => t[c] !== undefined)
    .map((c) => `${c}=${t[c]}`)
    .join(",");
}

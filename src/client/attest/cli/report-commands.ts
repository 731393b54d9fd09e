/**
 * `seven report show` and `seven report verify` as plain async functions: parsed options
 * in, `{exitCode, text, json}` out, so the commander wiring (src/app) is one line each.
 *
 * Exit codes: 0 everything holds; 1 the evidence failed (a check failed / the report does
 * not parse); 2 usage or input problem (missing file, bad hex, bad date, both or neither
 * of --vcek/--vlek).
 */
import { readFile } from "node:fs/promises";
import { fixedClock, fromHex, jsonSafe, systemClock, toHex, hex64, isSevenError } from "../../../shared/base/index.js";
import { decodeGuestPolicy, decodeTcbVersion, type TcbComponent } from "../../../shared/spec/index.js";
import { readAmdExtensions } from "../amd-extensions.js";
import { checkAttestation } from "../attest.js";
import { checkToJson, failed } from "../checks.js";
import { parseOneCertificate, tryParseReport } from "../parse.js";
import { parseProduct, PRODUCT_DISPLAY, productFromName, type SnpProduct } from "../product.js";
import { formatTcbParts, reportText, reportView } from "../report-view.js";
import type { AttestationPolicy, TcbMinimum } from "../validate.js";

export interface CommandResult {
  readonly exitCode: number;
  /** What to print for people (no trailing newline). */
  readonly text: string;
  /** What to print with --json. */
  readonly json: unknown;
}

export const EXIT = { OK: 0, FAILED: 1, USAGE: 2 } as const;

class UsageError extends Error {}

function usage(message: string): CommandResult {
  return { exitCode: EXIT.USAGE, text: `error: ${message}`, json: { ok: false, error: { code: "USAGE", message } } };
}

async function readInput(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e: unknown) {
    throw new UsageError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

// ---- report show ---------------------------------------------------------------------

export interface ReportShowOptions {
  readonly json?: boolean;
  /** TCB layout to decode with (default: from CPUID_FAM_ID, Milan/Genoa for v2). */
  readonly product?: string;
}

export async function reportShow(file: string, opts: ReportShowOptions = {}): Promise<CommandResult> {
  try {
    const product = opts.product === undefined ? undefined : productOrThrow(opts.product);
    const bytes = await readInput(file, "report");
    const parsed = tryParseReport(bytes);
    if (!parsed.ok) {
      const e = parsed.error;
      return {
        exitCode: EXIT.FAILED,
        text: `${file}: not a valid ATTESTATION_REPORT: ${e.code}: ${e.message}`,
        json: { ok: false, error: e.toJSON() },
      };
    }
    return { exitCode: EXIT.OK, text: reportText(parsed.value, product), json: { ok: true, report: reportView(parsed.value, product) } };
  } catch (e: unknown) {
    if (e instanceof UsageError) return usage(e.message);
    throw e;
  }
}

// ---- report verify -------------------------------------------------------------------

export interface ReportVerifyOptions {
  readonly report: string;
  readonly vcek?: string;
  readonly vlek?: string;
  readonly chain?: string;
  readonly product?: string;
  readonly trustRoot?: readonly string[];
  readonly vmpl?: number | string;
  readonly allowDebug?: boolean;
  /** Hex. */
  readonly measurement?: string;
  readonly reportData?: string;
  readonly hostData?: string;
  /** "bl=3,tee=0,snp=8,ucode=115[,fmc=1]" (also bootloader=, microcode=) or a raw TCB_VERSION "0x…". */
  readonly minTcb?: string;
  /** ISO date for the certificate validity checks (default: now). */
  readonly at?: string;
  readonly json?: boolean;
}

export async function reportVerify(opts: ReportVerifyOptions): Promise<CommandResult> {
  try {
    return await verifyCommand(opts);
  } catch (e: unknown) {
    if (e instanceof UsageError) return usage(e.message);
    throw e;
  }
}

async function verifyCommand(opts: ReportVerifyOptions): Promise<CommandResult> {
  if ((opts.vcek === undefined) === (opts.vlek === undefined)) throw new UsageError("give exactly one of --vcek FILE or --vlek FILE");
  const keyKind = opts.vcek !== undefined ? "vcek" : "vlek";
  const product = opts.product === undefined ? undefined : productOrThrow(opts.product);
  const clock = opts.at === undefined ? systemClock : clockAt(opts.at);
  const report = await readInput(opts.report, "report");
  const certificate = await readInput((opts.vcek ?? opts.vlek)!, keyKind.toUpperCase());
  const chain = opts.chain === undefined ? undefined : await readInput(opts.chain, "chain");
  const trustRoots = await Promise.all((opts.trustRoot ?? []).map((f) => readInput(f, "trust root")));

  const policy: {
    -readonly [K in keyof AttestationPolicy]: AttestationPolicy[K];
  } = {};
  if (opts.vmpl !== undefined) policy.vmpl = vmplOrThrow(opts.vmpl);
  if (opts.allowDebug === true) policy.allowDebug = true;
  if (opts.measurement !== undefined) policy.measurement = hexOrThrow(opts.measurement, "--measurement", 48);
  if (opts.reportData !== undefined) policy.reportData = hexOrThrow(opts.reportData, "--report-data", 64);
  if (opts.hostData !== undefined) policy.hostData = hexOrThrow(opts.hostData, "--host-data", 32);
  if (opts.minTcb !== undefined) policy.minTcb = minTcbOrThrow(opts.minTcb, product ?? productOfCert(certificate));

  const r = checkAttestation(
    {
      report,
      keyKind,
      certificate,
      ...(chain !== undefined ? { chain } : {}),
      ...(product !== undefined ? { product } : {}),
      trustRoots,
      clock,
    },
    policy,
  );
  const failures = failed(r.checks);
  const notChecked = [
    ...(policy.measurement ? [] : ["MEASUREMENT"]),
    ...(policy.reportData ? [] : ["REPORT_DATA"]),
    ...(policy.hostData ? [] : ["HOST_DATA"]),
    ...(policy.minTcb ? [] : ["minimum TCB"]),
  ];
  const json = {
    ok: r.ok,
    product: r.product ?? null,
    keyKind,
    ark: r.arkFingerprint ? { sha256: r.arkFingerprint, source: r.arkSource ?? "untrusted" } : null,
    failed: failures.map(checkToJson),
    checks: r.checks.map(checkToJson),
    notChecked,
    report: r.report ? reportView(r.report, r.product) : null,
  };
  if (!r.ok) {
    const lines = failures.map((c) => `  ${(c.error?.code ?? "FAILED").padEnd(28)} ${c.id}: ${c.error?.message ?? c.title}`);
    return {
      exitCode: EXIT.FAILED,
      text: [`FAILED: ${failures.length} of ${r.checks.length} checks failed`, ...lines].join("\n"),
      json: jsonSafe(json),
    };
  }
  const rep = r.report!;
  const p = r.product!;
  const gp = decodeGuestPolicy(rep.policy);
  const text = [
    `OK: attestation report verified and validated (${r.checks.filter((c) => c.status === "pass").length} checks passed)`,
    `  signer     ${keyKind.toUpperCase()} "${r.extensions?.productName ?? "?"}" → ${PRODUCT_DISPLAY[p]} chain, ARK ${r.arkSource === "builtin" ? "built in (AMD)" : "passed explicitly"} sha256 ${r.arkFingerprint}`,
    `  report     version ${rep.version}, VMPL ${rep.vmpl}, policy ${hex64(rep.policy)} (DEBUG=${gp.debug ? 1 : 0}, MIGRATE_MA=${gp.migrateMa ? 1 : 0}, SMT=${gp.smt ? 1 : 0})`,
    `  tcb        reported ${formatTcbParts(decodeTcbVersion(rep.reportedTcb, p))}, firmware ${rep.currentMajor}.${rep.currentMinor}.${rep.currentBuild}`,
    `  measurement ${toHex(rep.measurement)}`,
    `  report_data ${toHex(rep.reportData)}`,
    ...(notChecked.length > 0 ? [`  not checked (no expected value given): ${notChecked.join(", ")}`] : []),
  ].join("\n");
  return { exitCode: EXIT.OK, text, json: jsonSafe(json) };
}

// ---- option parsing ------------------------------------------------------------------

function productOrThrow(s: string): SnpProduct {
  const p = parseProduct(s);
  if (p === undefined) throw new UsageError(`unknown product "${s}" (milan, genoa, turin)`);
  return p;
}

function clockAt(s: string): ReturnType<typeof fixedClock> {
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new UsageError(`--at: "${s}" is not an ISO date`);
  return fixedClock(t);
}

function vmplOrThrow(v: number | string): number {
  const n = typeof v === "number" ? v : /^\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 3) throw new UsageError(`--vmpl: ${String(v)} is not 0–3`);
  return n;
}

function hexOrThrow(s: string, flag: string, size: number): Uint8Array {
  let b: Uint8Array;
  try {
    b = fromHex(s, flag);
  } catch (e: unknown) {
    throw new UsageError(isSevenError(e) ? e.message : `${flag}: bad hex`);
  }
  if (b.length !== size) throw new UsageError(`${flag}: ${b.length} bytes, need ${size}`);
  return b;
}

const TCB_NAMES: Readonly<Record<string, TcbComponent>> = {
  bl: "bootloader",
  bootloader: "bootloader",
  tee: "tee",
  snp: "snp",
  ucode: "microcode",
  microcode: "microcode",
  fmc: "fmc",
};

/** "bl=3,tee=0,snp=8,ucode=115" or a raw TCB_VERSION ("0x…", decoded in the product's layout). */
export function parseMinTcb(s: string, product: SnpProduct | undefined): TcbMinimum {
  const t = s.trim();
  if (/^0x[0-9a-f]+$/i.test(t)) {
    const v = BigInt(t);
    if (v >= 1n << 64n) throw new UsageError(`--min-tcb: ${s} is not a u64`);
    if (product === undefined) throw new UsageError("--min-tcb as a raw TCB_VERSION needs the product (--product or a readable certificate)");
    const parts = decodeTcbVersion(v, product);
    return { ...parts };
  }
  const out: Partial<Record<TcbComponent, number>> = {};
  for (const item of t.split(",")) {
    const m = /^\s*([a-z]+)\s*=\s*(\d{1,3})\s*$/i.exec(item);
    const comp = m ? TCB_NAMES[m[1]!.toLowerCase()] : undefined;
    const n = m ? Number(m[2]) : NaN;
    if (!m || comp === undefined || n > 255) throw new UsageError(`--min-tcb: "${item}" is not NAME=0..255 (bl, tee, snp, ucode, fmc)`);
    out[comp] = n;
  }
  return out;
}

function minTcbOrThrow(s: string, product: SnpProduct | undefined): TcbMinimum {
  return parseMinTcb(s, product);
}

function productOfCert(der: Uint8Array): SnpProduct | undefined {
  try {
    return productFromName(readAmdExtensions(parseOneCertificate(der)).productName);
  } catch {
    return undefined;
  }
}

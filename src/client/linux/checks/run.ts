/** The check registry and `runChecks`: all checks (or the named ones), with per-check status. */
import { VmiError, type VcpuRegisters } from "../../vmi/index.js";
import { isSevenError } from "../../../shared/base/index.js";
import { LinuxError } from "../errors.js";
import type { LinuxKernel } from "../kernel.js";
import type { BaselineStore } from "./baseline.js";
import type { IntegrityCheck, CheckContext, Finding } from "./check.js";
import { type CodeMap, buildCodeMap } from "./code-map.js";
import { idt, syscallMsrs } from "./cpu.js";
import { keyboardNotifiers, netfilterHooks, syscallTable, ttyLdisc } from "./kernel-hooks.js";
import { kernelText } from "./kernel-text.js";
import { hiddenModules } from "./modules.js";
import { procFops, tcpSeqOps } from "./proc-fs.js";
import { openFiles, processVmas } from "./process-memory.js";
import { credentials, hiddenProcesses } from "./processes.js";

/** The eleven RDMI policies in order, then IDT, syscall MSRs and kernel text. */
export const ALL_CHECKS: readonly IntegrityCheck[] = [
  hiddenProcesses, credentials, procFops, netfilterHooks, ttyLdisc, syscallTable, processVmas, keyboardNotifiers, hiddenModules, tcpSeqOps, openFiles,
  idt, syscallMsrs, kernelText,
];

export interface CheckResult {
  readonly check: string;
  readonly version: string;
  readonly status: "clean" | "findings" | "skipped" | "error";
  readonly findings: number;
  readonly note?: string;
  readonly error?: { readonly code: string; readonly message: string };
  readonly ms: number;
}

export interface ChecksReport {
  /** No findings and no check failed. */
  readonly clean: boolean;
  readonly findings: readonly Finding[];
  readonly checks: readonly CheckResult[];
  readonly ms: number;
}

export interface RunChecksOptions {
  /** Where the kernel-text baseline lives (absent: that check is skipped). */
  readonly baseline?: BaselineStore;
  /** The registry to choose from (default ALL_CHECKS). */
  readonly registry?: readonly IntegrityCheck[];
}

/** The checks with these names (all when none given); unknown names fail together. */
export function selectChecks(names: readonly string[] | undefined, registry: readonly IntegrityCheck[] = ALL_CHECKS): IntegrityCheck[] {
  if (names === undefined || names.length === 0) return [...registry];
  const unknown = names.filter((n) => !registry.some((c) => c.name === n));
  if (unknown.length > 0) {
    throw new LinuxError("UNKNOWN_CHECK", `no check named ${unknown.join(", ")} (known: ${registry.map((c) => c.name).join(", ")})`, { names: unknown });
  }
  return registry.filter((c) => names.includes(c.name));
}

export async function runChecks(k: LinuxKernel, names?: readonly string[], opts: RunChecksOptions = {}): Promise<ChecksReport> {
  const t0 = performance.now();
  const checks = selectChecks(names, opts.registry);
  let code: Promise<CodeMap> | undefined;
  let regs: Promise<readonly VcpuRegisters[] | undefined> | undefined;
  const ctx: CheckContext = {
    kernel: k,
    code: () => (code ??= buildCodeMap(k)),
    registers: () =>
      (regs ??= k.vmi.driver.capabilities.registers
        ? k.vmi.vcpuRegisters().catch((e: unknown) => {
            if (e instanceof VmiError) return undefined;
            throw e;
          })
        : Promise.resolve(undefined)),
    baseline: opts.baseline,
  };
  const findings: Finding[] = [];
  const statuses: CheckResult[] = [];
  for (const c of checks) {
    const t = performance.now();
    try {
      const out = await c.run(ctx);
      findings.push(...out.findings);
      const status = out.skipped !== undefined ? "skipped" : out.findings.length > 0 ? "findings" : "clean";
      const note = out.skipped ?? out.note;
      statuses.push({ check: c.name, version: c.version, status, findings: out.findings.length, ...(note !== undefined ? { note } : {}), ms: performance.now() - t });
    } catch (e) {
      if (!isSevenError(e)) throw e;
      statuses.push({ check: c.name, version: c.version, status: "error", findings: 0, error: { code: e.code, message: e.message }, ms: performance.now() - t });
    }
  }
  return { clean: findings.length === 0 && statuses.every((s) => s.status !== "error"), findings, checks: statuses, ms: performance.now() - t0 };
}

/**
 * Whether a check failed on its walk (a WALK_* error): on a live guest, possibly a pause
 * that landed mid-update rather than a broken structure, so worth running again.
 */
export function walkFailed(c: CheckResult): boolean {
  return c.status === "error" && c.error !== undefined && c.error.code.startsWith("WALK_");
}

/**
 * `first` with the checks run again in `again` replacing theirs (results, findings), in
 * `first`'s order; each rerun check's note says so. Times add up.
 */
export function mergeRerun(first: ChecksReport, again: ChecksReport): ChecksReport {
  const rerun = new Map(again.checks.map((c) => [c.check, c]));
  const checks = first.checks.map((c) => {
    const r = rerun.get(c.check);
    if (r === undefined) return c;
    const note = `run again after ${c.error?.code ?? c.status} on a paused live guest${r.note !== undefined ? `; ${r.note}` : ""}`;
    return { ...r, note, ms: c.ms + r.ms };
  });
  const order = new Map(checks.map((c, i) => [c.check, i]));
  const findings = [...first.findings.filter((f) => !rerun.has(f.check)), ...again.findings].sort((a, b) => order.get(a.check)! - order.get(b.check)!);
  return { clean: findings.length === 0 && checks.every((c) => c.status !== "error"), findings, checks, ms: first.ms + again.ms };
}

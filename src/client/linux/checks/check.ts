/**
 * Integrity checks: each small and versioned, declaring its requirement tables, returning
 * findings. A finding names the check, the object, a severity and what is wrong; a clean
 * system yields none. A check that cannot run on this target (no registers, no baseline
 * store) says why and is "skipped"; one whose walk fails is an "error" (not clean: we
 * could not vouch for that part of the kernel).
 */
import type { VcpuRegisters } from "../../vmi/index.js";
import type { LinuxKernel } from "../kernel.js";
import type { AnyRequirements } from "../requirements.js";
import type { CodeMap } from "./code-map.js";
import type { BaselineStore } from "./baseline.js";

export type Severity = "high" | "medium" | "low";

export interface Finding {
  readonly severity: Severity;
  /** The check that found it. */
  readonly check: string;
  /** What is wrong ("sys_call_table[59]", "pid 4242 (evil)", "module rootkit"). */
  readonly object: string;
  readonly detail: string;
  /** The address concerned, when there is one. */
  readonly address?: bigint;
}

export interface CheckContext {
  readonly kernel: LinuxKernel;
  /** Kernel and module text (built once per run). */
  code(): Promise<CodeMap>;
  /** vCPU registers, or undefined when the driver has none. */
  registers(): Promise<readonly VcpuRegisters[] | undefined>;
  readonly baseline: BaselineStore | undefined;
}

export interface CheckOutcome {
  readonly findings: readonly Finding[];
  /** Set when the check could not run here; findings are then empty. */
  readonly skipped?: string;
  /** What the check looked at ("451 entries", "baseline recorded"). */
  readonly note?: string;
}

export interface IntegrityCheck {
  readonly name: string;
  readonly version: string;
  readonly description: string;
  /** The RDMI policy number (1–11) this check implements, if any. */
  readonly policy?: number;
  readonly requirements: readonly AnyRequirements[];
  run(ctx: CheckContext): Promise<CheckOutcome>;
}

/** A finding builder bound to one check. */
export function finder(check: string): (severity: Severity, object: string, detail: string, address?: bigint) => Finding {
  return (severity, object, detail, address) => (address === undefined ? { severity, check, object, detail } : { severity, check, object, detail, address });
}

export const hex = (v: bigint): string => "0x" + v.toString(16);

/** Types of the rootkit / attack scenarios (shared by the registry and the scenarios). */
import { GuestError } from "../errors.js";
import type { Kernel } from "../model/kernel.js";
import type { AdminOp, Workload } from "../workload/workload.js";

export interface RootkitRequest {
  readonly name: string;
  readonly arg?: string;
}

/** One observation of an attack step: a result code, a fault, or data that came back. */
export interface Outcome {
  readonly step: string;
  readonly result: "rc" | "fault" | "ok" | "gave-up";
  readonly rc?: number;
  readonly fault?: { readonly kind: string; readonly vector: number; readonly errorCode: string; readonly gpa: string | null; readonly va: string | null };
  readonly attempts: number;
  readonly note?: string;
}

export interface ScenarioRecord {
  readonly name: string;
  readonly arg?: string;
  status: "pending" | "active" | "failed";
  readonly outcomes: Outcome[];
  /** Human-readable list of what the scenario changed. */
  changes?: string[];
  error?: string;
}

export interface ScenarioCtx {
  readonly k: Kernel;
  readonly w: Workload;
  readonly rec: ScenarioRecord;
  readonly arg: string | undefined;
}

export interface Scenario {
  readonly name: string;
  readonly kind: "rootkit" | "attack";
  readonly summary: string;
  /** Throws BAD_ROOTKIT_ARG for an argument it cannot use. */
  validate(arg: string | undefined): void;
  ops(ctx: ScenarioCtx): AdminOp[];
}

export function badArg(name: string, arg: string | undefined, why: string): GuestError {
  return new GuestError("BAD_ROOTKIT_ARG", `--rootkit ${name}${arg === undefined ? "" : "=" + arg}: ${why}`, { name, arg });
}


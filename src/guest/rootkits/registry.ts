/**
 * Scenario names (`--rootkit NAME[=ARG]`): rootkits that change the kernel the way real
 * ones do, and attacks of the (compromised) guest on the VMPL0 agent. Each scenario runs
 * as guest instructions on a vCPU (vCPU 0 unless it must touch every vCPU) between time
 * slices, with the task-list lock held, and records what it changed or observed.
 */
import { GuestError } from "../errors.js";
import type { Kernel } from "../model/kernel.js";
import type { AdminOp, Workload } from "../workload/workload.js";
import { ROOTKITS } from "./scenarios.js";
import type { RootkitRequest, Scenario, ScenarioRecord } from "./types.js";
export type { RootkitRequest, Outcome, Scenario, ScenarioRecord, ScenarioCtx } from "./types.js";
export { badArg } from "./types.js";
import { ATTACKS } from "../attacks/agent-attacks.js";

export const SCENARIOS: ReadonlyMap<string, Scenario> = new Map([...ROOTKITS, ...ATTACKS].map((s) => [s.name, s]));

export function scenarioNames(): string[] {
  return [...SCENARIOS.keys()];
}

/** Parses "NAME" / "NAME=ARG" (or request objects) and validates them. */
export function parseRootkitSpecs(specs: readonly (RootkitRequest | string)[]): RootkitRequest[] {
  return specs.map((s) => {
    let r: RootkitRequest;
    if (typeof s === "string") {
      const eq = s.indexOf("=");
      r = eq < 0 ? { name: s.trim() } : { name: s.slice(0, eq).trim(), arg: s.slice(eq + 1).trim() };
    } else r = s;
    const sc = SCENARIOS.get(r.name);
    if (sc === undefined) {
      throw new GuestError("UNKNOWN_ROOTKIT", `unknown rootkit scenario "${r.name}" (known: ${scenarioNames().join(", ")})`, { name: r.name, known: scenarioNames() });
    }
    sc.validate(r.arg);
    return r;
  });
}

/** The admin operations of one scenario; the record turns active when the last one ran. */
export function rootkitOps(k: Kernel, w: Workload, req: RootkitRequest, rec: ScenarioRecord): AdminOp[] {
  const sc = SCENARIOS.get(req.name)!;
  const ops = sc.ops({ k, w, rec, arg: req.arg });
  let left = ops.length;
  return ops.map((op) => ({
    ...(op.cpu !== undefined ? { cpu: op.cpu } : {}),
    name: op.name,
    *run(v) {
      try {
        yield* op.run(v);
      } catch (e) {
        if (e instanceof GuestError || e instanceof RangeError) {
          rec.status = "failed";
          rec.error = e.message;
          return;
        }
        throw e;
      }
      left--;
      if (left === 0 && rec.status === "pending") rec.status = "active";
    },
  }));
}

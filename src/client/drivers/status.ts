/**
 * Agent status codes (seven.proto `Status`) as the VMI library's errors, so a range the
 * agent refused looks like a range an image does not back.
 */
import { v1 } from "../../shared/protocol/index.js";
import { VmiError, badArgument, invalidAddress, unsupported } from "../vmi/index.js";

export function statusName(s: v1.Status): string {
  const n = v1.Status[s];
  return n === undefined ? `STATUS_${s}` : `STATUS_${n}`;
}

export interface StatusContext {
  readonly driver: string;
  /** What was asked ("readPhys", "translate", ...). */
  readonly op: string;
  /** The address the entry was about (range start), when there is one. */
  readonly addr?: bigint;
  readonly layer?: "physical" | "virtual";
  readonly dtb?: bigint;
  /** The agent's fault_addr, when it gave one. */
  readonly faultAddr?: bigint;
  readonly detail?: string;
}

/** A non-OK status as a VmiError (per-range errors and whole-request errors alike). */
export function statusError(status: v1.Status, ctx: StatusContext): VmiError {
  const at = ctx.faultAddr !== undefined && ctx.faultAddr !== 0n ? ctx.faultAddr : ctx.addr;
  const extra = { status: statusName(status), driver: ctx.driver, op: ctx.op, ...(ctx.detail ? { agentDetail: ctx.detail } : {}) };
  switch (status) {
    case v1.Status.OUT_OF_RANGE:
      return invalidAddress(ctx.layer ?? "physical", at ?? 0n, extra);
    case v1.Status.PAGE_FAULT:
      return new VmiError("PAGE_FAULT", `page fault at VA 0x${(at ?? 0n).toString(16)}${ctx.dtb !== undefined ? ` (dtb 0x${ctx.dtb.toString(16)})` : ""}`, {
        layer: "virtual",
        address: at ?? 0n,
        ...(ctx.dtb !== undefined ? { dtb: ctx.dtb } : {}),
        ...extra,
      });
    case v1.Status.UNIMPLEMENTED:
      return unsupported(ctx.driver, ctx.op);
    case v1.Status.INVALID_ARGUMENT:
    case v1.Status.TOO_LARGE:
    case v1.Status.NOT_FOUND:
    case v1.Status.FAILED_PRECONDITION:
    case v1.Status.RESOURCE_EXHAUSTED:
      return badArgument(ctx.op, `${ctx.driver} refused ${ctx.op}: ${statusName(status)}${ctx.detail ? ` (${ctx.detail})` : ""}`, extra);
    default:
      return new VmiError("DRIVER_FAILED", `${ctx.driver} failed ${ctx.op}: ${statusName(status)}${ctx.detail ? ` (${ctx.detail})` : ""}`, extra);
  }
}

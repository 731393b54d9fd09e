/**
 * Typed faults of the platform model. A CpuFault is raised by a Cpu memory access or
 * instruction; an uncaught "npf" becomes a #VMEXIT(NPF) with these EXITINFO1/2 values, the
 * others are exceptions delivered to the guest program. HostPageFault is what the
 * hypervisor gets for writing a guest-assigned page. PlatformError is misuse of the
 * model's API (bad vCPU index, GPA outside memory, ...).
 */
import { SevenError } from "../shared/base/index.js";
import type { Gpa } from "../shared/base/index.js";

/** x86 access kinds, as the RMP distinguishes them (SNP.md §4.2). */
export type AccessKind = "read" | "write" | "exec-user" | "exec-super";

export type CpuFaultKind =
  /** Nested page fault → #VMEXIT(NPF) to the host (SNP.md §4.5). */
  | "npf"
  /** #VC with an error code (0x404: unvalidated private page) delivered to the guest. */
  | "vc"
  /** Guest page fault (non-present or protection violation in the guest's own tables). */
  | "pf"
  /** General protection fault. */
  | "gp";

/**
 * A CpuFault is control flow inside the model (an access that traps, as on hardware), not
 * a bug report: it is raised on every #NPF of a trap hit and caught by VMRUN or the
 * program. So it is built without a stack trace (capturing one costs microseconds per
 * fault); `stack` holds only the "CpuFault: message" line, and everything a fault means is
 * in its fields and `details`.
 */
export class CpuFault extends SevenError<CpuFaultKind> {
  /** The exception vector (14 #PF, 29 #VC, 13 #GP) or the exit code (0x400 #NPF). */
  readonly vector: number;
  /** #NPF EXITINFO1 bits, #PF / #VC error code. */
  readonly errorCode: bigint;
  /** Faulting guest-physical address (#NPF EXITINFO2), when known. */
  readonly gpa: Gpa | undefined;
  /** Faulting virtual address (CR2 for #PF), when known. */
  readonly va: bigint | undefined;
  readonly access: AccessKind;

  constructor(
    kind: CpuFaultKind,
    f: { vector: number; errorCode: bigint; gpa?: Gpa; va?: bigint; access: AccessKind; vmpl: number; reason: string },
  ) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super("platform", kind, `${kind.toUpperCase()} at VMPL${f.vmpl}: ${f.reason}`, {
        vector: f.vector,
        errorCode: f.errorCode,
        gpa: f.gpa,
        va: f.va,
        access: f.access,
        vmpl: f.vmpl,
      });
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.vector = f.vector;
    this.errorCode = f.errorCode;
    this.gpa = f.gpa;
    this.va = f.va;
    this.access = f.access;
  }
}

export class HostPageFault extends SevenError<"HOST_PF"> {
  readonly gpa: Gpa;
  readonly errorCode: number;
  constructor(gpa: Gpa, errorCode: number, reason: string) {
    super("platform", "HOST_PF", `host #PF writing GPA 0x${gpa.toString(16)}: ${reason}`, { gpa, errorCode });
    this.gpa = gpa;
    this.errorCode = errorCode;
  }
}

export type PlatformErrorCode =
  | "BAD_GPA"
  | "BAD_VCPU"
  | "BAD_ARGUMENT"
  | "LAUNCH_STATE"
  | "IMMUTABLE_PAGE"
  | "NOT_SEV"
  | "ASP_ERROR"
  | "SNAPSHOT";

export class PlatformError extends SevenError<PlatformErrorCode> {
  constructor(code: PlatformErrorCode, message: string, details: Record<string, unknown> = {}) {
    super("platform", code, message, details);
  }
}

/**
 * Errors of the untrusted host (the hypervisor/VMM model). They are about how the host
 * was configured or what it could not do (a busy port, an unknown adversary switch, a
 * launch the firmware refused) — never about what the guest computes, which the host
 * cannot see.
 */
import { SevenError } from "../shared/base/index.js";
import type { ErrorDetails } from "../shared/base/index.js";

export type HostErrorCode =
  /** `--adversary NAME[=ARG]` with an unknown name or an argument it cannot use. */
  | "UNKNOWN_ADVERSARY"
  | "BAD_ADVERSARY_ARG"
  /** The TCP listener could not be opened (details.errno: EADDRINUSE, EACCES, ...). */
  | "LISTEN_FAILED"
  /** A launch step failed (details.step names the page). */
  | "LAUNCH_FAILED"
  /** A host option out of range (budget, vCPU index, ...). */
  | "BAD_OPTION"
  /** Used in the wrong state (start twice, launch after start, ...). */
  | "BAD_STATE";

export class HostError extends SevenError<HostErrorCode> {
  constructor(code: HostErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super("host", code, message, details, options);
  }
}

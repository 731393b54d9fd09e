/** Errors of memory acquisition (`seven dump`). */
import { SevenError, type ErrorDetails } from "../../shared/base/index.js";

export type AcquireErrorCode =
  /** The dump stopped (signal or failure); FILE.partial and FILE.journal are kept for --resume. */
  | "DUMP_INTERRUPTED"
  /** FILE.partial exists but --resume was not given (or the reverse). */
  | "PARTIAL_EXISTS"
  | "NO_JOURNAL"
  | "BAD_JOURNAL"
  /** The journal describes another job (format, ranges, chunk size or source differ). */
  | "JOURNAL_MISMATCH"
  | "NOTHING_TO_DUMP";

export class AcquireError extends SevenError<AcquireErrorCode> {
  constructor(code: AcquireErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super("client", code, message, details, options);
  }
}

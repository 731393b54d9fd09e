/**
 * Errors of the composition root's world setup. `exitCode` 2 marks a usage problem (bad
 * size, unknown rootkit or adversary, bad owner key, bad listen address), 1 a runtime
 * failure (busy port, a launch the firmware refused).
 */
import { SevenError, isSevenError } from "../../shared/base/index.js";
import type { ErrorDetails } from "../../shared/base/index.js";

export class WorldError extends SevenError<string> {
  readonly exitCode: number;
  constructor(code: string, message: string, details: ErrorDetails = {}, exitCode = 2, options?: { cause?: unknown }) {
    super("app", code, message, details, options);
    this.exitCode = exitCode;
  }
}

/** Codes that are the user's input being wrong (exit 2). */
const USAGE_CODES = new Set(["UNKNOWN_ADVERSARY", "BAD_ADVERSARY_ARG", "UNKNOWN_ROOTKIT", "BAD_ROOTKIT_ARG", "BAD_OPTION", "BAD_LAYOUT", "BAD_OWNER_KEY", "GUEST_RAM_TOO_SMALL"]);

/** Re-raises a domain error as a WorldError keeping its code and message, with the CLI exit code. */
export function asWorldError(e: unknown): unknown {
  if (e instanceof WorldError) return e;
  if (isSevenError(e)) return new WorldError(e.code, e.message, e.details, USAGE_CODES.has(e.code) ? 2 : 1, { cause: e });
  if (e instanceof RangeError && (e as { code?: unknown }).code === "BAD_LAYOUT") return new WorldError("BAD_LAYOUT", e.message, {}, 2, { cause: e });
  return e;
}

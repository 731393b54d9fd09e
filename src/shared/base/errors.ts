/**
 * The one error base of the project. Every error carries a string `code` (stable, for
 * tests and machines) and structured `details` (gpa, vmpl, field, symbol, ...); the
 * message is for people and never the only place meaning lives.
 *
 * Domains subclass it with their own `domain` and code unions, e.g.
 *   class PlatformError extends SevenError<PlatformErrorCode> { domain = "platform" }
 */
export type ErrorDetails = Readonly<Record<string, unknown>>;

export class SevenError<C extends string = string> extends Error {
  readonly code: C;
  readonly details: ErrorDetails;
  /** Which part of the system raised it (platform, host, agent, client, spec, ...). */
  readonly domain: string;

  constructor(domain: string, code: C, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.domain = domain;
    this.code = code;
    this.details = details;
  }

  toJSON(): { domain: string; code: string; message: string; details: ErrorDetails } {
    return { domain: this.domain, code: this.code, message: this.message, details: jsonSafe(this.details) as ErrorDetails };
  }
}

/** Errors about the shape of untrusted bytes (reports, frames, images, profiles). */
export class DecodeError extends SevenError<string> {
  constructor(code: string, message: string, details: ErrorDetails = {}) {
    super("decode", code, message, details);
  }
}

export function isSevenError(e: unknown): e is SevenError {
  return e instanceof SevenError;
}

/** Makes details printable as JSON: bigint → "0x..." hex, Uint8Array → hex string. */
export function jsonSafe(v: unknown): unknown {
  if (typeof v === "bigint") return "0x" + v.toString(16);
  if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = jsonSafe(x);
    return out;
  }
  return v;
}

/** Throws an internal-invariant error; use for "cannot happen" states. */
export function invariant(cond: unknown, message: string, details: ErrorDetails = {}): asserts cond {
  if (!cond) throw new SevenError("internal", "INVARIANT", message, details);
}

/**
 * Errors of the Linux layer. Meaning lives in `code` and `details` (Volatility's
 * `InvalidAddressException(layer, address)`), never only in the message:
 *
 * - `MISSING_REQUIREMENTS` {missing: [{plugin, kind: "member"|"symbol"|"type", struct?, member?, symbol?, type?}]}:
 *   the profile lacks names that plugins declared; every missing one is listed, at once.
 * - `KERNEL_NOT_FOUND` {routes}: no discovery route located the kernel.
 * - `DISCOVERY_MISMATCH` {routes}: two routes located the kernel differently.
 * - `UNKNOWN_SYMBOL` {symbol}: a symbol asked for at run time is not in the profile.
 * - `NOT_ATTACHED` {requirement}: a walker asked for requirements that were not bound.
 * - `UNKNOWN_PLUGIN` / `UNKNOWN_CHECK` {name}: no plugin / check of that name.
 * - `BASELINE_INVALID` {path?, reason}: a text-hash baseline file is not one we wrote.
 * - `BAD_ARGUMENT` {argument}.
 *
 * Walkers raise `WalkError` (a LinuxError) with `walker` and `address` in details:
 * - `WALK_INVALID_ADDRESS` {walker, layer, address, cause}: a read failed (page fault,
 *   unbacked memory) — the VmiError is the `cause`.
 * - `WALK_BAD_POINTER` {walker, address, value}: a pointer that cannot be a kernel pointer.
 * - `WALK_CYCLE` {walker, address}: the structure loops back on itself.
 * - `WALK_LIMIT` {walker, limit}: the structure is longer / deeper than the bound.
 * - `WALK_CORRUPT` {walker, address, reason}: a field holds an impossible value.
 */
import { SevenError, type ErrorDetails } from "../../shared/base/index.js";
import { VmiError } from "../vmi/index.js";

export type LinuxErrorCode =
  | "MISSING_REQUIREMENTS"
  | "KERNEL_NOT_FOUND"
  | "DISCOVERY_MISMATCH"
  | "UNKNOWN_SYMBOL"
  | "NOT_ATTACHED"
  | "UNKNOWN_PLUGIN"
  | "UNKNOWN_CHECK"
  | "BASELINE_INVALID"
  | "BAD_ARGUMENT"
  | WalkErrorCode;

export type WalkErrorCode = "WALK_INVALID_ADDRESS" | "WALK_BAD_POINTER" | "WALK_CYCLE" | "WALK_LIMIT" | "WALK_CORRUPT";

export class LinuxError extends SevenError<LinuxErrorCode> {
  constructor(code: LinuxErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super("client", code, message, details, options);
  }
}

export class WalkError extends LinuxError {
  readonly walker: string;
  constructor(code: WalkErrorCode, walker: string, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(code, `${walker}: ${message}`, { walker, ...details }, options);
    this.walker = walker;
  }
}

export function isLinuxError(e: unknown): e is LinuxError {
  return e instanceof LinuxError;
}

const hex = (v: bigint): string => "0x" + v.toString(16);

/** A failed read as a walk error (layer and address copied from the VmiError). */
export function walkReadError(walker: string, err: VmiError, what: string): WalkError {
  const layer = err.details["layer"] ?? (err.code === "PAGE_FAULT" ? "virtual" : "physical");
  const address = err.details["address"] ?? err.details["va"];
  return new WalkError(
    "WALK_INVALID_ADDRESS",
    walker,
    `cannot read ${what}${typeof address === "bigint" ? ` at ${hex(address)}` : ""} (${err.code})`,
    { layer, address, reason: err.code },
    { cause: err },
  );
}

export function badPointer(walker: string, address: bigint, value: bigint, what: string): WalkError {
  return new WalkError("WALK_BAD_POINTER", walker, `${what} at ${hex(address)} holds ${hex(value)}, not a kernel pointer`, { address, value });
}

export function walkCycle(walker: string, address: bigint): WalkError {
  return new WalkError("WALK_CYCLE", walker, `structure loops back to ${hex(address)}`, { address });
}

export function walkLimit(walker: string, limit: number, address?: bigint): WalkError {
  return new WalkError("WALK_LIMIT", walker, `more than ${limit} elements`, address === undefined ? { limit } : { limit, address });
}

export function walkCorrupt(walker: string, address: bigint, reason: string): WalkError {
  return new WalkError("WALK_CORRUPT", walker, `${reason} at ${hex(address)}`, { address, reason });
}

/** Rethrows anything but a VmiError; turns a VmiError into a WalkError. */
export function asWalkError(walker: string, e: unknown, what: string): never {
  if (e instanceof VmiError) throw walkReadError(walker, e, what);
  throw e;
}

/**
 * Errors of the VMI library. Meaning lives in `code` and `details`, never only in the
 * message (Volatility's `InvalidAddressException(layer, address)`):
 *
 * - `INVALID_ADDRESS` {layer, address}: nothing is backed at that address in that layer
 *   ("physical": outside the memory ranges; "virtual": non-canonical or wrapping).
 * - `PAGE_FAULT` {va, dtb, level, reason, entry, entryAddress}: the page walk stopped
 *   (see `PageFaultError`).
 * - `UNSUPPORTED` {capability}: the driver does not have that capability.
 * - `BAD_ARGUMENT` {argument}: a caller passed something impossible (negative length…).
 * - `NO_KERNEL_DTB`, `NO_RESOLVER` {resolver}: the Vmi lacks what the context needs.
 * - `RESOLVE_FAILED` {kind, symbol|pid}: a resolver hook could not resolve.
 * - `DRIVER_CLOSED`, `DRIVER_FAILED` {driver}: transport-level failures of live drivers.
 */
import { SevenError, type ErrorDetails } from "../../shared/base/index.js";

export type VmiErrorCode =
  | "INVALID_ADDRESS"
  | "PAGE_FAULT"
  | "UNSUPPORTED"
  | "BAD_ARGUMENT"
  | "NO_KERNEL_DTB"
  | "NO_RESOLVER"
  | "RESOLVE_FAILED"
  | "DRIVER_CLOSED"
  | "DRIVER_FAILED";

/** The address space an address belongs to, for INVALID_ADDRESS. */
export type AddressLayer = "physical" | "virtual";

export class VmiError extends SevenError<VmiErrorCode> {
  constructor(code: VmiErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super("client", code, message, details, options);
  }
}

export function isVmiError(e: unknown): e is VmiError {
  return e instanceof VmiError;
}

/** INVALID_ADDRESS with the layer and the first address that is not backed. */
export function invalidAddress(layer: AddressLayer, address: bigint, extra: ErrorDetails = {}): VmiError {
  return new VmiError("INVALID_ADDRESS", `no ${layer} memory at 0x${address.toString(16)}`, { layer, address, ...extra });
}

export function unsupported(driver: string, capability: string): VmiError {
  return new VmiError("UNSUPPORTED", `driver ${driver} does not support ${capability}`, { driver, capability });
}

export function badArgument(argument: string, message: string, extra: ErrorDetails = {}): VmiError {
  return new VmiError("BAD_ARGUMENT", message, { argument, ...extra });
}

/** Paging-structure levels, top to bottom, as the fault and translation name them. */
export type PagingLevel = "PML5" | "PML4" | "PDPT" | "PD" | "PT";

export type PageFaultReason = "not-present" | "reserved-bit";

/**
 * The page walk of `va` under `dtb` stopped at `level`: the entry at physical address
 * `entryAddress` (value `entry`) is not present, or has a bit set that is reserved at
 * that level (PS in a PML5/PML4 entry).
 */
export class PageFaultError extends VmiError {
  readonly va: bigint;
  readonly dtb: bigint;
  readonly level: PagingLevel;
  readonly reason: PageFaultReason;
  constructor(d: { va: bigint; dtb: bigint; level: PagingLevel; reason: PageFaultReason; entry: bigint; entryAddress: bigint }) {
    super("PAGE_FAULT", `page fault at VA 0x${d.va.toString(16)}: ${d.level} entry ${d.reason} (dtb 0x${d.dtb.toString(16)})`, {
      layer: "virtual",
      address: d.va,
      ...d,
    });
    this.va = d.va;
    this.dtb = d.dtb;
    this.level = d.level;
    this.reason = d.reason;
  }
}

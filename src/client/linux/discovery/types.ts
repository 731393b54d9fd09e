/** What kernel discovery finds, and how each route fared. */

export type RouteName = "banner" | "swapper" | "idt" | "lstar";

export interface RouteResult {
  readonly route: RouteName;
  /** found: located the kernel; not-found: looked and found nothing; skipped: could not run (why in `note`). */
  readonly status: "found" | "not-found" | "skipped";
  /** Virtual KASLR slide (VA(_text) − System.map _text), when found. */
  readonly virtSlide?: bigint;
  /** Guest-physical address of _text, when the route determines it. */
  readonly physText?: bigint;
  /** Candidate places the route looked at, and how many matched the signature. */
  readonly probed?: number;
  readonly hits?: number;
  readonly ms: number;
  readonly note?: string;
}

export interface CrossCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface KernelLocation {
  /** VA(_text) − System.map(_text): a multiple of 2 MiB, 0 without KASLR. */
  readonly virtSlide: bigint;
  /** Guest-physical address of _text. */
  readonly physText: bigint;
  /** physText − (System.map(_text) − __START_KERNEL_map): 0 without KASLR. */
  readonly physSlide: bigint;
  /** The kernel's phys_base variable as read from memory. */
  readonly physBase: bigint;
  /** The direct map's base (page_offset_base) as read from memory. */
  readonly pageOffsetBase: bigint;
  /** The kernel page-table root: guest-physical address of init_top_pgt. */
  readonly dtb: bigint;
  /** Guest-physical address of linux_banner, and the banner text read there. */
  readonly bannerPa: bigint;
  readonly banner: string;
  readonly routes: readonly RouteResult[];
  readonly checks: readonly CrossCheck[];
  /** Total discovery time in milliseconds. */
  readonly ms: number;
}

export interface DiscoverOptions {
  /** Use vCPU registers (IDT and LSTAR routes) when the driver has them (default true). */
  readonly useRegisters?: boolean;
  /** Memory routes to run (default both). */
  readonly routes?: readonly RouteName[];
  /** Physical probes per batched read (default 4096). */
  readonly batch?: number;
  /**
   * When no route finds the kernel, scan all memory for "Linux version " to say why
   * (e.g. the profile is for another build) — default true.
   */
  readonly diagnose?: boolean;
}

/**
 * An attached Linux kernel: the Vmi, the profile, where discovery found the kernel, and
 * the requirement tables bound to that profile (resolved once, at attach). Walkers,
 * plugins and checks all take one of these. It installs nothing by itself; see
 * `openLinux` (session.ts) for attach + hooks.
 */
import type { OffsetSpec, Profile, SymbolHit } from "../../shared/kernel/index.js";
import type { Vmi } from "../vmi/index.js";
import { KERNEL_IMAGE_SIZE, START_KERNEL_MAP } from "./constants.js";
import { LinuxError } from "./errors.js";
import { type AnyRequirements, type Bound, type BoundOf, bindRequirements, slideSymbol } from "./requirements.js";
import type { KernelLocation } from "./discovery/types.js";

/** Bounds every walker honours, so garbage memory cannot make a walk run forever. */
export interface WalkLimits {
  /** Processes in the task list, threads per process, entries of any other list. */
  readonly maxTasks: number;
  readonly maxThreads: number;
  readonly maxListLength: number;
  /** Nodes of a tree (xarray, rb-tree, maple tree) and its depth. */
  readonly maxTreeNodes: number;
  readonly maxTreeDepth: number;
  /** File descriptors per process and VMAs per process. */
  readonly maxFds: number;
  readonly maxVmas: number;
  /** Dentry components followed to build a path, and mounts crossed. */
  readonly maxPathDepth: number;
  /** CPUs considered. */
  readonly maxCpus: number;
}

export const DEFAULT_LIMITS: WalkLimits = Object.freeze({
  maxTasks: 1 << 17,
  maxThreads: 1 << 16,
  maxListLength: 1 << 16,
  maxTreeNodes: 1 << 18,
  maxTreeDepth: 64,
  maxFds: 1 << 16,
  maxVmas: 1 << 16,
  maxPathDepth: 64,
  maxCpus: 1024,
});

export class LinuxKernel {
  readonly vmi: Vmi;
  readonly profile: Profile;
  readonly location: KernelLocation;
  readonly limits: WalkLimits;
  readonly #bound: Map<AnyRequirements, Bound<OffsetSpec, readonly string[], readonly string[]>>;

  constructor(vmi: Vmi, profile: Profile, location: KernelLocation, requirements: readonly AnyRequirements[], limits: Partial<WalkLimits> = {}) {
    this.vmi = vmi;
    this.profile = profile;
    this.location = location;
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.#bound = bindRequirements(profile, requirements, location.virtSlide);
  }

  get virtSlide(): bigint {
    return this.location.virtSlide;
  }

  /** The bound numbers of a requirements table (bound at attach, or now if it was not listed). */
  bound<R extends AnyRequirements>(r: R): BoundOf<R> {
    let b = this.#bound.get(r);
    if (b === undefined) {
      for (const [k, v] of bindRequirements(this.profile, [r], this.virtSlide)) this.#bound.set(k, v);
      b = this.#bound.get(r)!;
    }
    return b as unknown as BoundOf<R>;
  }

  /** Run-time address of a symbol (slid). */
  symbol(name: string): bigint {
    const a = this.profile.symbolAddress(name);
    if (a === undefined) throw new LinuxError("UNKNOWN_SYMBOL", `no symbol ${JSON.stringify(name)} in the profile`, { symbol: name });
    return slideSymbol(a, this.virtSlide);
  }

  symbolOrUndefined(name: string): bigint | undefined {
    const a = this.profile.symbolAddress(name);
    return a === undefined ? undefined : slideSymbol(a, this.virtSlide);
  }

  /** The nearest kernel-image symbol at or below a run-time address (none outside the image). */
  symbolize(va: bigint): SymbolHit | undefined {
    if (va < START_KERNEL_MAP) return undefined;
    return this.profile.symbolAt(BigInt.asUintN(64, va - this.virtSlide));
  }

  /** "name+0x12" for a run-time address in the kernel image, else undefined. */
  symbolName(va: bigint): string | undefined {
    const h = this.symbolize(va);
    if (h === undefined) return undefined;
    return h.offset === 0n ? h.name : `${h.name}+0x${h.offset.toString(16)}`;
  }

  /**
   * __pa(): guest-physical address of a kernel-image or direct-map address (undefined for
   * anything else, e.g. vmalloc or modules, which only the page tables know).
   */
  pa(va: bigint): bigint | undefined {
    const { physBase, pageOffsetBase } = this.location;
    if (va >= START_KERNEL_MAP) return va < START_KERNEL_MAP + KERNEL_IMAGE_SIZE ? BigInt.asUintN(64, va - START_KERNEL_MAP + physBase) : undefined;
    if (va >= pageOffsetBase && va - pageOffsetBase < this.vmi.info.maxPhysAddress) return va - pageOffsetBase;
    return undefined;
  }

  /** Address of a per-CPU variable (its System.map offset) on `cpu`, given that CPU's __per_cpu_offset. */
  perCpu(perCpuOffset: bigint, symbolOffset: bigint): bigint {
    return BigInt.asUintN(64, perCpuOffset + symbolOffset);
  }
}

/**
 * Address arithmetic of one booted kernel: System.map address → slid VA, kernel-image VA
 * → PA (VA − __START_KERNEL_map + phys_base), PA ↔ direct-map VA, and the pages the
 * model mapped elsewhere (module area) — the same translations the kernel's own page
 * tables encode, kept here so the boot image can be built before paging is on.
 */
import { invariant } from "../../shared/base/index.js";
import type { KernelTypes, KSymbol } from "../kernel-info.js";
import { START_KERNEL_MAP, type KernelPlacement } from "./placement.js";

const PAGE = 0x1000n;

export class Addressing {
  readonly t: KernelTypes;
  readonly p: KernelPlacement;
  readonly cBit: number;
  readonly cMask: bigint;
  /** Slid VA of _text and the end of the image mapping. */
  readonly textVa: bigint;
  readonly imageEndVa: bigint;
  readonly dmapEnd: bigint;
  /** Pages mapped outside the image and the direct map (module area): VA page → PA page. */
  readonly #extra = new Map<bigint, bigint>();

  constructor(t: KernelTypes, p: KernelPlacement, cBit: number, memoryBytes: bigint) {
    this.t = t;
    this.p = p;
    this.cBit = cBit;
    this.cMask = 1n << BigInt(cBit);
    this.textVa = t.sym("_text") + p.virtSlide;
    this.imageEndVa = this.textVa + p.imageBytes;
    this.dmapEnd = p.pageOffsetBase + memoryBytes;
  }

  /** Slid VA of a kernel-image symbol (per-cpu offsets, below __START_KERNEL_map, are not slid). */
  ksym(name: KSymbol): bigint {
    return this.kaddr(this.t.sym(name));
  }

  /** Slid VA of a System.map address. */
  kaddr(unslid: bigint): bigint {
    return unslid >= START_KERNEL_MAP ? unslid + this.p.virtSlide : unslid;
  }

  /** PA of a kernel-image VA: VA − __START_KERNEL_map + phys_base. */
  imagePa(va: bigint): bigint {
    return BigInt.asUintN(64, va - START_KERNEL_MAP + this.p.physBase);
  }

  dmap(pa: bigint | number): bigint {
    return this.p.pageOffsetBase + BigInt(pa);
  }

  inImage(va: bigint): boolean {
    return va >= this.textVa && va < this.imageEndVa;
  }

  inDirectMap(va: bigint): boolean {
    return va >= this.p.pageOffsetBase && va < this.dmapEnd;
  }

  /** Records a 4 KiB mapping the model made outside image and direct map. */
  mapExtra(va: bigint, pa: bigint): void {
    this.#extra.set(va & ~(PAGE - 1n), pa & ~(PAGE - 1n));
  }

  unmapExtra(va: bigint): void {
    this.#extra.delete(va & ~(PAGE - 1n));
  }

  toPa(va: bigint): bigint {
    if (this.inImage(va)) return this.imagePa(va);
    if (this.inDirectMap(va)) return va - this.p.pageOffsetBase;
    const page = this.#extra.get(va & ~(PAGE - 1n));
    invariant(page !== undefined, `the guest model has no mapping for VA 0x${va.toString(16)}`, { va });
    return page + (va & (PAGE - 1n));
  }
}

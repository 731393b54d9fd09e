/**
 * The boot image: guest-physical pages the model has built and not yet written through
 * the Cpu. Boot flushes it one page per instruction (paging off, identity, private).
 * Sparse: pages never touched stay zero (guest RAM is launched as ZERO pages).
 */
import { PAGE_SIZE } from "../../shared/base/index.js";

export class PageImage {
  readonly #pages = new Map<number, Uint8Array>();

  /** Writes bytes at a guest-physical address (may span pages). */
  write(pa: bigint, data: Uint8Array): void {
    let off = 0;
    let addr = Number(pa);
    while (off < data.length) {
      const pfn = Math.floor(addr / PAGE_SIZE);
      const po = addr % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - po, data.length - off);
      this.page(pfn).set(data.subarray(off, off + n), po);
      off += n;
      addr += n;
    }
  }

  read(pa: bigint, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let off = 0;
    let addr = Number(pa);
    while (off < len) {
      const pfn = Math.floor(addr / PAGE_SIZE);
      const po = addr % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - po, len - off);
      const p = this.#pages.get(pfn);
      if (p !== undefined) out.set(p.subarray(po, po + n), off);
      off += n;
      addr += n;
    }
    return out;
  }

  page(pfn: number): Uint8Array {
    let p = this.#pages.get(pfn);
    if (p === undefined) {
      p = new Uint8Array(PAGE_SIZE);
      this.#pages.set(pfn, p);
    }
    return p;
  }

  has(pfn: number): boolean {
    return this.#pages.has(pfn);
  }

  get pageCount(): number {
    return this.#pages.size;
  }

  /** The frames in ascending order (the order boot writes them). */
  frames(): number[] {
    return [...this.#pages.keys()].sort((a, b) => a - b);
  }

  /** Removes and returns a page (boot hands it to the Cpu, then forgets it). */
  take(pfn: number): Uint8Array | undefined {
    const p = this.#pages.get(pfn);
    this.#pages.delete(pfn);
    return p;
  }
}

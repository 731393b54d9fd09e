/**
 * Guest-physical memory: sparse 4 KiB pages of plaintext, private to the platform (no
 * other domain ever holds a reference to a page). A page that was never written is not
 * allocated and reads as zeros; writing zeros to such a page does not allocate it.
 * GPAs are numbers here (memory is at most 64 GiB, well inside 2^53); frame numbers are
 * the map keys.
 */
import { PAGE_SIZE, isAllZero } from "../shared/base/index.js";
import { PlatformError } from "./fault.js";

export const PAGE = PAGE_SIZE;
/** The largest machine this model builds (the RMP is one typed array). */
export const MAX_MACHINE_BYTES = 64n << 30n;

export interface MemorySnapshot {
  /** Allocated frames, ascending. */
  readonly pfns: Uint32Array;
  /** Their contents, 4 KiB each, in the same order. */
  readonly data: Uint8Array;
}

export class GuestMemory {
  readonly bytes: bigint;
  readonly pageCount: number;
  #pages = new Map<number, Uint8Array>();

  constructor(memoryBytes: bigint) {
    if (memoryBytes <= 0n || memoryBytes % BigInt(PAGE) !== 0n || memoryBytes > MAX_MACHINE_BYTES) {
      throw new PlatformError("BAD_ARGUMENT", `memory size must be a positive multiple of 4 KiB up to 64 GiB (got ${memoryBytes})`, {
        memoryBytes,
      });
    }
    this.bytes = memoryBytes;
    this.pageCount = Number(memoryBytes / BigInt(PAGE));
  }

  /** The page, or undefined if it was never written (reads as zeros). Do not retain. */
  page(pfn: number): Uint8Array | undefined {
    return this.#pages.get(pfn);
  }

  /** The page, allocated (zeroed) if needed. */
  pageForWrite(pfn: number): Uint8Array {
    let p = this.#pages.get(pfn);
    if (p === undefined) {
      p = new Uint8Array(PAGE);
      this.#pages.set(pfn, p);
    }
    return p;
  }

  /** Copies `len` bytes at `off` of frame `pfn` into `dst` at `dstOff` (within one page). */
  readInto(pfn: number, off: number, len: number, dst: Uint8Array, dstOff: number): void {
    const p = this.#pages.get(pfn);
    if (p === undefined) dst.fill(0, dstOff, dstOff + len);
    else dst.set(p.subarray(off, off + len), dstOff);
  }

  /** Writes `src[srcOff, srcOff+len)` at `off` of frame `pfn` (within one page). */
  writeFrom(pfn: number, off: number, src: Uint8Array, srcOff: number, len: number): void {
    const chunk = src.subarray(srcOff, srcOff + len);
    let p = this.#pages.get(pfn);
    if (p === undefined) {
      if (isAllZero(chunk)) return;
      p = new Uint8Array(PAGE);
      this.#pages.set(pfn, p);
    }
    p.set(chunk, off);
  }

  /** A copy of the page's plaintext. */
  copyPage(pfn: number): Uint8Array {
    const p = this.#pages.get(pfn);
    return p === undefined ? new Uint8Array(PAGE) : new Uint8Array(p);
  }

  allocatedPages(): number {
    return this.#pages.size;
  }

  snapshot(): MemorySnapshot {
    const pfns = Uint32Array.from([...this.#pages.keys()].sort((a, b) => a - b));
    const data = new Uint8Array(pfns.length * PAGE);
    pfns.forEach((pfn, i) => data.set(this.#pages.get(pfn)!, i * PAGE));
    return { pfns, data };
  }

  restore(s: MemorySnapshot): void {
    if (!(s.pfns instanceof Uint32Array) || !(s.data instanceof Uint8Array) || s.data.length !== s.pfns.length * PAGE) {
      throw new PlatformError("SNAPSHOT", "memory snapshot is malformed");
    }
    const pages = new Map<number, Uint8Array>();
    s.pfns.forEach((pfn, i) => {
      if (pfn >= this.pageCount) throw new PlatformError("SNAPSHOT", `memory snapshot has frame ${pfn} outside memory`);
      pages.set(pfn, s.data.slice(i * PAGE, (i + 1) * PAGE));
    });
    this.#pages = pages;
  }
}

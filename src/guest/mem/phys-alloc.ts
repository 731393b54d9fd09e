/**
 * The model's physical memory allocator: a page allocator over the guest RAM the kernel
 * image does not occupy, and SLUB-like object caches on top (one cache per object type,
 * objects packed into slabs of 1 or 8 pages, freed objects reused LIFO). Deterministic:
 * the same sequence of calls gives the same addresses. Addresses are guest-physical
 * (numbers: guest RAM is at most 64 GiB); callers turn them into direct-map VAs.
 */
import { GuestError } from "../errors.js";

const PAGE = 4096;

export interface PhysRange {
  readonly start: number;
  readonly end: number;
}

export class PageAllocator {
  readonly #ranges: PhysRange[];
  #rangeIdx = 0;
  #next: number;
  readonly #free: number[] = [];
  #used = 0;
  readonly totalPages: number;

  constructor(ranges: readonly PhysRange[]) {
    this.#ranges = ranges.filter((r) => r.end > r.start).map((r) => ({ start: alignUp(r.start, PAGE), end: r.end - (r.end % PAGE) }));
    if (this.#ranges.length === 0) throw new GuestError("OUT_OF_MEMORY", "no guest RAM left for the kernel's allocations");
    this.#next = this.#ranges[0]!.start;
    this.totalPages = this.#ranges.reduce((n, r) => n + (r.end - r.start) / PAGE, 0);
  }

  get usedPages(): number {
    return this.#used;
  }

  /** One 4 KiB page. */
  page(): number {
    return this.pageInfo().pa;
  }

  /** One 4 KiB page, and whether it was used before (then it is not known to be zero). */
  pageInfo(): { pa: number; recycled: boolean } {
    this.#used++;
    const f = this.#free.pop();
    if (f !== undefined) return { pa: f, recycled: true };
    return { pa: this.#bump(1, 1), recycled: false };
  }

  /** `n` physically contiguous pages aligned to `alignPages` pages (never reused once freed). */
  contiguous(n: number, alignPages = 1): number {
    this.#used += n;
    return this.#bump(n, alignPages);
  }

  free(pa: number): void {
    this.#used--;
    this.#free.push(pa);
  }

  #bump(n: number, alignPages: number): number {
    for (;;) {
      const r = this.#ranges[this.#rangeIdx];
      if (r === undefined) {
        throw new GuestError("OUT_OF_MEMORY", `guest RAM exhausted (${this.#used} pages in use of ${this.totalPages})`, { usedPages: this.#used });
      }
      const at = alignUp(Math.max(this.#next, r.start), alignPages * PAGE);
      if (at + n * PAGE <= r.end) {
        this.#next = at + n * PAGE;
        return at;
      }
      this.#rangeIdx++;
      const nr = this.#ranges[this.#rangeIdx];
      if (nr !== undefined) this.#next = nr.start;
    }
  }
}

/** One kmem_cache: fixed-size objects carved out of slabs. */
export class ObjectCache {
  readonly name: string;
  readonly objectSize: number;
  readonly slabPages: number;
  readonly #pages: PageAllocator;
  readonly #free: number[] = [];
  #live = 0;
  #slabs = 0;

  constructor(pages: PageAllocator, name: string, size: number, align = 8) {
    this.name = name;
    this.objectSize = alignUp(size, align);
    this.slabPages = this.objectSize > 1024 ? 8 : 1;
    this.#pages = pages;
  }

  get live(): number {
    return this.#live;
  }
  get slabs(): number {
    return this.#slabs;
  }

  alloc(): number {
    this.#live++;
    if (this.#free.length === 0) this.#grow();
    return this.#free.pop()!;
  }

  free(pa: number): void {
    this.#live--;
    this.#free.push(pa);
  }

  #grow(): void {
    const base = this.slabPages === 1 ? this.#pages.page() : this.#pages.contiguous(this.slabPages, this.slabPages);
    this.#slabs++;
    const n = Math.floor((this.slabPages * PAGE) / this.objectSize);
    // Pushed in reverse so that allocation hands out ascending addresses.
    for (let i = n - 1; i >= 0; i--) this.#free.push(base + i * this.objectSize);
  }
}

export function alignUp(v: number, a: number): number {
  return Math.ceil(v / a) * a;
}

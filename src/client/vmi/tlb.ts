/**
 * Cached translations (dtb, 4 KiB virtual page) → physical page, with the leaf's rights.
 * Bounded; dropped whole whenever the page cache is invalidated (any frame may have been
 * a page table).
 */
export interface TlbEntry {
  /** Physical address of the 4 KiB page holding the virtual page. */
  readonly page: bigint;
  /** The leaf's rights, when the translation said (a framed virtual read does not). */
  readonly writable?: boolean;
  readonly user?: boolean;
  readonly nx?: boolean;
}

export class Tlb {
  readonly capacity: number;
  readonly #byDtb = new Map<bigint, Map<bigint, TlbEntry>>();
  #size = 0;
  constructor(capacity = 1 << 16) {
    this.capacity = capacity;
  }
  get size(): number {
    return this.#size;
  }
  get(dtb: bigint, vpage: bigint): TlbEntry | undefined {
    return this.#byDtb.get(dtb)?.get(vpage);
  }
  set(dtb: bigint, vpage: bigint, e: TlbEntry): void {
    if (this.capacity === 0) return;
    if (this.#size >= this.capacity) this.clear();
    let m = this.#byDtb.get(dtb);
    if (!m) {
      m = new Map();
      this.#byDtb.set(dtb, m);
    }
    if (!m.has(vpage)) this.#size++;
    m.set(vpage, e);
  }
  clear(): void {
    this.#byDtb.clear();
    this.#size = 0;
  }
}

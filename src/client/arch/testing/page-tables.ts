/**
 * Builds x86-64 page tables in a SparseDriver's memory, for tests: map 4 KiB, 2 MiB and
 * 1 GiB pages under a root, 4- or 5-level, with chosen flags and an optional C-bit.
 */
import { LEVEL_SHIFT, PTE } from "../../../shared/spec/index.js";
import type { SparseDriver } from "../../vmi/testing/sparse-driver.js";

export interface MapFlags {
  rw?: boolean;
  us?: boolean;
  nx?: boolean;
  /** Set this bit (the C-bit) in every entry written. */
  cBit?: number;
}

export class PageTableBuilder {
  readonly root: bigint;
  #next: bigint;
  constructor(
    readonly mem: SparseDriver,
    readonly levels: 4 | 5 = 4,
    /** Where tables are allocated from (4 KiB each). */
    tableArea = 0x100000n,
  ) {
    this.#next = tableArea;
    this.root = this.#alloc();
  }

  #alloc(): bigint {
    const a = this.#next;
    this.#next += 0x1000n;
    this.mem.poke(a, new Uint8Array(4096));
    return a;
  }

  entry(addr: bigint, flags: MapFlags, large = false): bigint {
    let e = addr | PTE.P;
    if (flags.rw ?? true) e |= PTE.RW;
    if (flags.us ?? false) e |= PTE.US;
    if (flags.nx ?? false) e |= PTE.NX;
    if (large) e |= PTE.PS;
    if (flags.cBit !== undefined) e |= 1n << BigInt(flags.cBit);
    return e;
  }

  /** Maps `va` → `pa` with a page of `size` (4 KiB, 2 MiB or 1 GiB). Intermediate tables are rw/us. */
  map(va: bigint, pa: bigint, size: bigint = 0x1000n, flags: MapFlags = {}): void {
    const names = this.levels === 5 ? (["PML5", "PML4", "PDPT", "PD", "PT"] as const) : (["PML4", "PDPT", "PD", "PT"] as const);
    const leaf = size === 1n << 30n ? "PDPT" : size === 1n << 21n ? "PD" : "PT";
    let table = this.root;
    for (const n of names) {
      const idx = (va >> LEVEL_SHIFT[n]) & 0x1ffn;
      const ea = table + idx * 8n;
      if (n === leaf) {
        this.mem.poke64(ea, this.entry(pa, flags, n !== "PT"));
        return;
      }
      const cur = new DataView(this.mem.peek(ea, 8).buffer).getBigUint64(0, true);
      if ((cur & PTE.P) !== 0n) {
        table = cur & 0x000ffffffffff000n & ~(flags.cBit !== undefined ? 1n << BigInt(flags.cBit) : 0n);
        continue;
      }
      const t = this.#alloc();
      const inter: MapFlags = { rw: true, us: true };
      if (flags.cBit !== undefined) inter.cBit = flags.cBit;
      this.mem.poke64(ea, this.entry(t, inter));
      table = t;
    }
  }

  /** Address of the entry at `level` for `va` (walking present entries), for corrupting tests. */
  entryAddress(va: bigint, level: "PML5" | "PML4" | "PDPT" | "PD" | "PT", cBit?: number): bigint {
    const names = this.levels === 5 ? (["PML5", "PML4", "PDPT", "PD", "PT"] as const) : (["PML4", "PDPT", "PD", "PT"] as const);
    let table = this.root;
    for (const n of names) {
      const ea = table + ((va >> LEVEL_SHIFT[n]) & 0x1ffn) * 8n;
      if (n === level) return ea;
      const cur = new DataView(this.mem.peek(ea, 8).buffer).getBigUint64(0, true);
      table = cur & 0x000ffffffffff000n & ~(cBit !== undefined ? 1n << BigInt(cBit) : 0n);
    }
    throw new Error(`no level ${level}`);
  }
}

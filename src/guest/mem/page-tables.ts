/**
 * x86-64 4-level page tables as the kernel builds them (Intel SDM Vol 3 §4.5): one tree
 * per address space, entries written through a KMem at the table page's direct-map VA,
 * every entry with the SEV C-bit set unless the mapping is explicitly shared. The tree
 * remembers where its table pages are (not their contents): it only ever adds or replaces
 * the entries it made.
 */
import { PTE } from "../../shared/spec/index.js";
import type { KMem } from "./kmem.js";
import { u64Bytes } from "./kmem.js";

export type PageSize = "4k" | "2m" | "1g";

/** _KERNPG_TABLE (kernel intermediate entries) and _PAGE_TABLE (user ones). */
export const KERNPG_TABLE = PTE.P | PTE.RW | PTE.A | PTE.D;
export const PAGE_TABLE = PTE.P | PTE.RW | PTE.US | PTE.A | PTE.D;
/** Leaf protections (Linux __PAGE_KERNEL* / PAGE_* with A/D preset). */
export const PAGE_KERNEL = PTE.P | PTE.RW | PTE.A | PTE.D | PTE.G | PTE.NX;
export const PAGE_KERNEL_RO = PTE.P | PTE.A | PTE.G | PTE.NX;
export const PAGE_KERNEL_RX = PTE.P | PTE.A | PTE.G;
export const PAGE_USER_RX = PTE.P | PTE.US | PTE.A;
export const PAGE_USER_RO = PTE.P | PTE.US | PTE.A | PTE.NX;
export const PAGE_USER_RW = PTE.P | PTE.RW | PTE.US | PTE.A | PTE.D | PTE.NX;

const LEAF_LEVEL: Record<PageSize, number> = { "4k": 1, "2m": 2, "1g": 3 };

export interface TableEnv {
  readonly mem: KMem;
  readonly cMask: bigint;
  dmap(pa: bigint): bigint;
  /** A zeroed page for a new table (PA). */
  allocTable(): bigint;
}

export function pteIndex(va: bigint, level: number): number {
  return Number((va >> BigInt(12 + 9 * (level - 1))) & 0x1ffn);
}

export class PageTableTree {
  readonly rootPa: bigint;
  readonly #env: TableEnv;
  /** Table page PA per (level, VA prefix); level 4 is the root. */
  readonly #tables = new Map<string, bigint>();
  /** Values this tree wrote into its root (PGD) entries. */
  readonly rootEntries = new Map<number, bigint>();
  /** Every table page this tree allocated (for freeing the address space). */
  readonly ownedTables: bigint[] = [];

  constructor(env: TableEnv, rootPa: bigint) {
    this.#env = env;
    this.rootPa = rootPa;
  }

  /** CR3 for this tree (private tables: the C-bit is set). */
  get cr3(): bigint {
    return this.rootPa | this.#env.cMask;
  }

  static #key(level: number, va: bigint): string {
    return `${level}:${(BigInt.asUintN(64, va) >> BigInt(12 + 9 * level)).toString(16)}`;
  }

  /** The table holding the entries of `level` for `va`, creating intermediate ones. */
  #table(level: number, va: bigint, tableFlags: bigint): bigint {
    if (level === 4) return this.rootPa;
    const key = PageTableTree.#key(level, va);
    const hit = this.#tables.get(key);
    if (hit !== undefined) return hit;
    const parent = this.#table(level + 1, va, tableFlags);
    const pa = this.#env.allocTable();
    this.ownedTables.push(pa);
    this.#tables.set(key, pa);
    this.#writeEntry(parent, level + 1, pteIndex(va, level + 1), pa | tableFlags | this.#env.cMask);
    return pa;
  }

  #writeEntry(tablePa: bigint, level: number, idx: number, value: bigint): void {
    if (tablePa === this.rootPa && level === 4) this.rootEntries.set(idx, value);
    this.#env.mem.write(this.#env.dmap(tablePa) + BigInt(idx * 8), u64Bytes(value));
  }

  /** Maps one page of `size` at `va` → `pa` with leaf `flags`; `shared` leaves the C-bit clear. */
  map(va: bigint, pa: bigint, size: PageSize, flags: bigint, o: { shared?: boolean; tableFlags?: bigint } = {}): void {
    const leaf = LEAF_LEVEL[size];
    const table = this.#table(leaf, va, o.tableFlags ?? KERNPG_TABLE);
    const v = pa | flags | (size === "4k" ? 0n : PTE.PS) | (o.shared === true ? 0n : this.#env.cMask);
    this.#writeEntry(table, leaf, pteIndex(va, leaf), v);
  }

  /** Clears the leaf entry of `va` at the level of `size` (the table must exist). */
  unmap(va: bigint, size: PageSize): void {
    const leaf = LEAF_LEVEL[size];
    const table = leaf === 4 ? this.rootPa : this.#tables.get(PageTableTree.#key(leaf, va));
    if (table === undefined) return;
    this.#writeEntry(table, leaf, pteIndex(va, leaf), 0n);
  }

  /** Links an existing table (of another tree) as the entry of `level` for `va`. */
  link(va: bigint, level: number, tablePa: bigint, tableFlags: bigint): void {
    const table = this.#table(level, va, tableFlags);
    this.#writeEntry(table, level, pteIndex(va, level), tablePa | tableFlags | this.#env.cMask);
  }

  /** Writes a raw root entry (the shared kernel half of a process PGD). */
  setRootEntry(idx: number, value: bigint): void {
    this.#writeEntry(this.rootPa, 4, idx, value);
  }

  /** PA of the table at `level` covering `va`, if this tree made one. */
  tableAt(level: number, va: bigint): bigint | undefined {
    return level === 4 ? this.rootPa : this.#tables.get(PageTableTree.#key(level, va));
  }

  /** Registers a table page that already exists (the kernel's static tables) for (level, va). */
  adopt(level: number, va: bigint, tablePa: bigint, tableFlags: bigint): void {
    this.#tables.set(PageTableTree.#key(level, va), tablePa);
    const parent = this.#table(level + 1, va, tableFlags);
    this.#writeEntry(parent, level + 1, pteIndex(va, level + 1), tablePa | tableFlags | this.#env.cMask);
  }
}

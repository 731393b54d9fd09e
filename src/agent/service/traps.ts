/**
 * Armed traps and the VMPL1 rights they imply. A trap removes VMPL1's right for the access
 * kinds it watches on one guest page (SNP.md §4.2: READ, WRITE, EXEC_USER|EXEC_SUPER); a
 * page's rights are full RWX minus what every trap on it removes, minus WRITE on page-table
 * pages watched for MappingChanged. The table is pure bookkeeping: the core applies rights.
 */
import { PAGE_MASK } from "../../shared/base/index.js";
import { RMP_PERM, RMP_PERM_RWX } from "../../shared/spec/index.js";
import type { PagingLevels } from "../../shared/spec/index.js";

/** Access bits of the v1 wire (Access enum values; a bit set). */
export const ACCESS = { READ: 1, WRITE: 2, EXECUTE: 4 } as const;
export const ACCESS_ALL = ACCESS.READ | ACCESS.WRITE | ACCESS.EXECUTE;

/** The owner of a trap: a session (or the core itself for internal watches). */
export interface TrapOwner {
  readonly sessionId: number;
}

export interface Watch {
  readonly dtb: bigint;
  readonly va: bigint;
  readonly levels: PagingLevels;
  /** Page the va mapped to when last checked (undefined: not mapped). */
  gpaPage: bigint | undefined;
  /** Pages holding the walk's entries (watched with a write trap). */
  ptePages: bigint[];
}

export interface Trap {
  readonly id: bigint;
  readonly owner: TrapOwner;
  readonly page: bigint;
  readonly access: number;
  readonly ripFilter: ReadonlySet<bigint> | undefined;
  readonly watch: Watch | undefined;
  /** Protocol data of the owner (v0: whether the frame was registered with the C-bit). */
  readonly tag: unknown;
}

export function rightsRemoved(access: number): number {
  let r = 0;
  if (access & ACCESS.READ) r |= RMP_PERM.READ;
  if (access & ACCESS.WRITE) r |= RMP_PERM.WRITE;
  if (access & ACCESS.EXECUTE) r |= RMP_PERM.EXEC_USER | RMP_PERM.EXEC_SUPER;
  return r;
}

export class TrapTable {
  readonly #traps = new Map<bigint, Trap>();
  readonly #byPage = new Map<bigint, Set<bigint>>();
  /** Page-table pages watched → the traps watching through them. */
  readonly #watchPages = new Map<bigint, Set<bigint>>();
  #nextId = 1n;

  get size(): number {
    return this.#traps.size;
  }

  get(id: bigint): Trap | undefined {
    return this.#traps.get(id);
  }

  all(): IterableIterator<Trap> {
    return this.#traps.values();
  }

  ownedBy(sessionId: number): Trap[] {
    return [...this.#traps.values()].filter((t) => t.owner.sessionId === sessionId);
  }

  add(t: Omit<Trap, "id">): Trap {
    const trap: Trap = { ...t, id: this.#nextId++, page: t.page & PAGE_MASK };
    this.#traps.set(trap.id, trap);
    let s = this.#byPage.get(trap.page);
    if (s === undefined) this.#byPage.set(trap.page, (s = new Set()));
    s.add(trap.id);
    if (trap.watch) this.setWatchPages(trap, trap.watch.ptePages);
    return trap;
  }

  /** Removes a trap; returns the pages whose rights may change. */
  remove(id: bigint): bigint[] {
    const t = this.#traps.get(id);
    if (t === undefined) return [];
    this.#traps.delete(id);
    const s = this.#byPage.get(t.page);
    s?.delete(id);
    if (s?.size === 0) this.#byPage.delete(t.page);
    const pages = [t.page];
    if (t.watch) pages.push(...this.setWatchPages(t, []));
    return pages;
  }

  /** Replaces the watched page-table pages of a trap; returns the pages affected. */
  setWatchPages(t: Trap, pages: readonly bigint[]): bigint[] {
    const w = t.watch;
    if (w === undefined) return [];
    const affected = new Set<bigint>();
    for (const p of w.ptePages) {
      const s = this.#watchPages.get(p);
      s?.delete(t.id);
      if (s?.size === 0) this.#watchPages.delete(p);
      affected.add(p);
    }
    w.ptePages = [...new Set(pages.map((p) => p & PAGE_MASK))];
    if (this.#traps.has(t.id)) {
      for (const p of w.ptePages) {
        let s = this.#watchPages.get(p);
        if (s === undefined) this.#watchPages.set(p, (s = new Set()));
        s.add(t.id);
        affected.add(p);
      }
    }
    return [...affected];
  }

  /** Traps whose page is `page`. */
  onPage(page: bigint): Trap[] {
    const s = this.#byPage.get(page & PAGE_MASK);
    if (s === undefined) return [];
    return [...s].map((id) => this.#traps.get(id)!).filter((t) => t !== undefined);
  }

  /** Traps watching the translation through the page-table page `page`. */
  watchersOf(page: bigint): Trap[] {
    const s = this.#watchPages.get(page & PAGE_MASK);
    if (s === undefined) return [];
    return [...s].map((id) => this.#traps.get(id)!).filter((t) => t !== undefined);
  }

  isArmedPage(page: bigint): boolean {
    const p = page & PAGE_MASK;
    return this.#byPage.has(p) || this.#watchPages.has(p);
  }

  isWatchPage(page: bigint): boolean {
    return this.#watchPages.has(page & PAGE_MASK);
  }

  /** VMPL1's rights on `page` with every trap applied. */
  rightsFor(page: bigint): number {
    const p = page & PAGE_MASK;
    let removed = 0;
    for (const t of this.onPage(p)) removed |= rightsRemoved(t.access);
    if (this.#watchPages.has(p)) removed |= RMP_PERM.WRITE;
    return RMP_PERM_RWX & ~removed;
  }
}

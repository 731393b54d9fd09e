/**
 * A pure, bounded x86-64 page walk (Intel SDM Vol 3 §4.5, AMD APM Vol 2 §5.3) over the
 * entry formats of paging.ts: 4- or 5-level, 2 MiB and 1 GiB pages, the SEV C-bit (and
 * every bit above it) masked out of each table address (SNP.md §4.5). It reads at most
 * `levels` entries through the caller's `readEntry` and never loops; it does not set A/D
 * bits. Shared by the agent (walks on behalf of the owner) and anyone else who needs one.
 *
 * Levels are numbered as the SDM does: 5 = PML5, 4 = PML4, 3 = PDPT, 2 = PD, 1 = PT.
 */
import { CR3_ADDR_MASK, LEVEL_SHIFT, PAGE_1G, PAGE_2M, PTE, pteAddressMask } from "./paging.js";

export type PagingLevels = 4 | 5;

export interface WalkInput {
  /** CR3 (the DTB); bits 11:0 (PCID, PWT, PCD) and the C-bit are ignored. */
  readonly root: bigint;
  readonly va: bigint;
  readonly levels: PagingLevels;
  /** C-bit position (51 on current parts); address bits from it upwards are masked. */
  readonly cBit: number;
  /** Reads the 8-byte entry at `gpa`; undefined when the address cannot be read. */
  readonly readEntry: (gpa: bigint) => bigint | undefined;
}

export interface WalkStep {
  readonly level: number;
  readonly entryGpa: bigint;
  readonly entry: bigint;
}

export type WalkFailure = "non-canonical" | "not-present" | "reserved" | "unreadable";

export type WalkResult =
  | {
      readonly ok: true;
      /** The translated guest-physical address (page base + offset). */
      readonly gpa: bigint;
      readonly pageBase: bigint;
      readonly pageSize: bigint;
      /** R/W, U/S set at every level; NX set at any level. */
      readonly writable: boolean;
      readonly user: boolean;
      readonly nx: boolean;
      readonly steps: readonly WalkStep[];
    }
  | {
      readonly ok: false;
      readonly reason: WalkFailure;
      /** The level whose entry failed (for non-canonical: the top level). */
      readonly level: number;
      readonly steps: readonly WalkStep[];
    };

const SHIFTS: Record<number, bigint> = { 5: LEVEL_SHIFT.PML5, 4: LEVEL_SHIFT.PML4, 3: LEVEL_SHIFT.PDPT, 2: LEVEL_SHIFT.PD, 1: LEVEL_SHIFT.PT };

/** Whether `va` is canonical for 4-level (48-bit) or 5-level (57-bit) paging. */
export function isCanonicalVa(va: bigint, levels: PagingLevels): boolean {
  const bits = levels === 5 ? 57n : 48n;
  const top = BigInt.asUintN(64, va) >> (bits - 1n);
  return top === 0n || top === (1n << (65n - bits)) - 1n;
}

/** Reserved address bits of a large-page entry: 20:13 (2 MiB) or 29:13 (1 GiB). */
function largeReserved(level: number): bigint {
  const size = level === 3 ? PAGE_1G : PAGE_2M;
  return (size - 1n) & ~0x1fffn;
}

export function walkPageTable(w: WalkInput): WalkResult {
  if (w.levels !== 4 && w.levels !== 5) throw new RangeError(`paging levels must be 4 or 5 (got ${String(w.levels)})`);
  if (!Number.isInteger(w.cBit) || w.cBit < 32 || w.cBit > 63) throw new RangeError(`C-bit position ${w.cBit} out of range`);
  const va = BigInt.asUintN(64, w.va);
  const steps: WalkStep[] = [];
  if (!isCanonicalVa(va, w.levels)) return { ok: false, reason: "non-canonical", level: w.levels, steps };
  const addrMask = pteAddressMask(w.cBit);
  let table = w.root & CR3_ADDR_MASK & addrMask;
  let writable = true;
  let user = true;
  let nx = false;
  for (let level: number = w.levels; level >= 1; level--) {
    const index = (va >> SHIFTS[level]!) & 0x1ffn;
    const entryGpa = table + index * 8n;
    const raw = w.readEntry(entryGpa);
    if (raw === undefined) return { ok: false, reason: "unreadable", level, steps };
    const entry = BigInt.asUintN(64, raw);
    steps.push({ level, entryGpa, entry });
    if ((entry & PTE.P) === 0n) return { ok: false, reason: "not-present", level, steps };
    writable &&= (entry & PTE.RW) !== 0n;
    user &&= (entry & PTE.US) !== 0n;
    nx ||= (entry & PTE.NX) !== 0n;
    const ps = (entry & PTE.PS) !== 0n;
    if (ps && level >= 4) return { ok: false, reason: "reserved", level, steps };
    if (level === 1 || (ps && (level === 3 || level === 2))) {
      const size = level === 3 ? PAGE_1G : level === 2 ? PAGE_2M : 4096n;
      if (level > 1 && (entry & largeReserved(level)) !== 0n) return { ok: false, reason: "reserved", level, steps };
      const pageBase = entry & addrMask & ~(size - 1n);
      return { ok: true, gpa: pageBase | (va & (size - 1n)), pageBase, pageSize: size, writable, user, nx, steps };
    }
    table = entry & addrMask;
  }
  // Unreachable: level 1 always returns above.
  return { ok: false, reason: "not-present", level: 1, steps };
}

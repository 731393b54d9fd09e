/**
 * x86-64 address translation in the client (LibVMI `arch/`): 4- and 5-level paging,
 * 2 MiB and 1 GiB pages, the SEV C-bit masked out of every table and page address, and
 * the leaf's rights (RW and US are ANDed down the walk, NX is ORed). Intel SDM Vol 3
 * §4.5, AMD APM Vol 2 §5.3; constants from shared/spec/paging.ts.
 *
 * Work is bounded by construction: a walk is exactly one table read per level (at most
 * five), whatever the tables hold, so garbage or cyclic tables cannot loop. Batches walk
 * all their VAs level by level: one `TableReader` call per level for the whole batch,
 * with identical entry addresses read once.
 *
 * PTI (user PGD = kernel PGD + 0x1000) is the caller's choice of DTB: see `ptiUserDtb`.
 */
import { isCanonical } from "../../shared/base/index.js";
import {
  CR3_ADDR_MASK, CR4_LA57, DEFAULT_C_BIT, EFER_NXE, LEVEL_SHIFT, PAGE_1G, PAGE_2M, PTE, PTI_USER_PGD_OFFSET, pteAddressMask,
} from "../../shared/spec/index.js";
import { PageFaultError, VmiError, badArgument, type PagingLevel } from "../vmi/errors.js";
import type { PhysRange, ReadResult } from "../vmi/driver.js";

export interface PagingConfig {
  /** 4 (48-bit VAs) or 5 (LA57, 57-bit VAs). */
  readonly levels: 4 | 5;
  /** Position of the SEV C-bit; it and every bit above are masked from addresses. */
  readonly cBit: number;
  /** EFER.NXE: whether bit 63 means no-execute (default true). */
  readonly nxe: boolean;
}

export const DEFAULT_PAGING: PagingConfig = Object.freeze({ levels: 4, cBit: DEFAULT_C_BIT, nxe: true });

export function pagingConfig(o: { levels?: 4 | 5; cBit?: number; nxe?: boolean } = {}): PagingConfig {
  const cBit = o.cBit ?? DEFAULT_C_BIT;
  if (!Number.isInteger(cBit) || cBit < 13 || cBit > 63) throw badArgument("cBit", `C-bit position ${cBit} is not in 13..63`);
  return { levels: o.levels ?? 4, cBit, nxe: o.nxe ?? true };
}

/** The paging mode a vCPU is in, from CR4.LA57 and EFER.NXE (EFER unknown → NX honoured). */
export function pagingFromRegisters(r: { cr4: bigint; efer?: bigint }, cBit = DEFAULT_C_BIT): PagingConfig {
  return pagingConfig({ levels: (r.cr4 & CR4_LA57) !== 0n ? 5 : 4, cBit, nxe: r.efer === undefined || r.efer === 0n || (r.efer & EFER_NXE) !== 0n });
}

export interface Translation {
  readonly va: bigint;
  readonly dtb: bigint;
  /** Guest-physical address of `va`, C-bit removed. */
  readonly pa: bigint;
  /** 4 KiB, 2 MiB or 1 GiB. */
  readonly pageSize: bigint;
  /** Guest-physical address where the page starts. */
  readonly pageBase: bigint;
  /** Level of the leaf entry (PT for 4 KiB, PD for 2 MiB, PDPT for 1 GiB). */
  readonly level: PagingLevel;
  readonly writable: boolean;
  readonly user: boolean;
  readonly nx: boolean;
  /** The C-bit was set in the leaf entry (private page under SEV). */
  readonly encrypted: boolean;
  /** Raw entries read, top level first. */
  readonly entries: readonly bigint[];
}

/** Reads 8-byte table entries at guest-physical addresses; one result per address. */
export type TableReader = (addrs: readonly bigint[]) => Promise<(bigint | VmiError)[]>;

export interface TranslateRequest {
  readonly dtb: bigint;
  readonly va: bigint;
}

const LEVELS_5: readonly PagingLevel[] = ["PML5", "PML4", "PDPT", "PD", "PT"];
const LEVELS_4: readonly PagingLevel[] = ["PML4", "PDPT", "PD", "PT"];
const INDEX_MASK = 0x1ffn;

/** Table reads a single translation costs: one per level. */
export function walkCost(cfg: PagingConfig): number {
  return cfg.levels;
}

export function ptiUserDtb(kernelDtb: bigint): bigint {
  return kernelDtb | PTI_USER_PGD_OFFSET;
}
export function ptiKernelDtb(dtb: bigint): bigint {
  return dtb & ~PTI_USER_PGD_OFFSET;
}

/** Canonical-form sign extension of a 48/57-bit address. */
export function canonicalize(va: bigint, levels: 4 | 5 = 4): bigint {
  const bits = levels === 5 ? 57 : 48;
  return BigInt.asUintN(64, BigInt.asIntN(bits, va));
}

interface Walk {
  readonly req: TranslateRequest;
  table: bigint;
  level: number;
  rw: boolean;
  us: boolean;
  nx: boolean;
  readonly entries: bigint[];
  result?: Translation | VmiError;
}

/** Translates many (dtb, va) pairs, one TableReader call per level for the whole batch. */
export async function translateBatch(read: TableReader, reqs: readonly TranslateRequest[], cfg: PagingConfig = DEFAULT_PAGING): Promise<(Translation | VmiError)[]> {
  const levels = cfg.levels === 5 ? LEVELS_5 : LEVELS_4;
  const addrMask = pteAddressMask(cfg.cBit);
  const walks: Walk[] = reqs.map((req) => {
    const w: Walk = { req, table: req.dtb & CR3_ADDR_MASK & addrMask, level: 0, rw: true, us: true, nx: false, entries: [] };
    if (req.va < 0n || req.va >= 1n << 64n || !isCanonical(req.va, cfg.levels === 5)) {
      w.result = new VmiError("INVALID_ADDRESS", `VA 0x${req.va.toString(16)} is not canonical`, { layer: "virtual", address: req.va, dtb: req.dtb, reason: "non-canonical" });
    }
    return w;
  });

  for (let depth = 0; depth < levels.length; depth++) {
    const active = walks.filter((w) => w.result === undefined);
    if (active.length === 0) break;
    const levelName = levels[depth]!;
    const shift = LEVEL_SHIFT[levelName];
    const addrs = new Map<bigint, number>();
    const entryAddrOf = (w: Walk): bigint => w.table + ((w.req.va >> shift) & INDEX_MASK) * 8n;
    for (const w of active) {
      const a = entryAddrOf(w);
      if (!addrs.has(a)) addrs.set(a, addrs.size);
    }
    const list = [...addrs.keys()];
    const values = await read(list);
    if (values.length !== list.length) throw new VmiError("DRIVER_FAILED", `table reader returned ${values.length} entries for ${list.length}`);
    for (const w of active) {
      const entryAddress = entryAddrOf(w);
      const v = values[addrs.get(entryAddress)!]!;
      if (v instanceof VmiError) {
        w.result = new VmiError("INVALID_ADDRESS", `${levelName} table entry of VA 0x${w.req.va.toString(16)} is outside memory (0x${entryAddress.toString(16)})`, {
          layer: "physical", address: entryAddress, va: w.req.va, dtb: w.req.dtb, level: levelName,
        }, { cause: v });
        continue;
      }
      step(w, v, entryAddress, levelName, depth === levels.length - 1, addrMask, cfg);
    }
  }
  return walks.map((w) => w.result!);
}

function step(w: Walk, e: bigint, entryAddress: bigint, level: PagingLevel, last: boolean, addrMask: bigint, cfg: PagingConfig): void {
  w.entries.push(e);
  const fault = (reason: "not-present" | "reserved-bit"): void => {
    w.result = new PageFaultError({ va: w.req.va, dtb: w.req.dtb, level, reason, entry: e, entryAddress });
  };
  if ((e & PTE.P) === 0n) return fault("not-present");
  w.rw &&= (e & PTE.RW) !== 0n;
  w.us &&= (e & PTE.US) !== 0n;
  w.nx ||= cfg.nxe && (e & PTE.NX) !== 0n;
  const large = (e & PTE.PS) !== 0n;
  let size: bigint | undefined;
  if (last) size = 1n << LEVEL_SHIFT.PT;
  else if (large && level === "PDPT") size = PAGE_1G;
  else if (large && level === "PD") size = PAGE_2M;
  else if (large) return fault("reserved-bit");
  if (size === undefined) {
    w.table = e & addrMask;
    return;
  }
  const pageBase = e & addrMask & ~(size - 1n);
  w.result = {
    va: w.req.va,
    dtb: w.req.dtb,
    pa: pageBase | (w.req.va & (size - 1n)),
    pageSize: size,
    pageBase,
    level,
    writable: w.rw,
    user: w.us,
    nx: w.nx,
    encrypted: (e & (1n << BigInt(cfg.cBit))) !== 0n,
    entries: w.entries,
  };
}

/** One translation; throws the fault. */
export async function translate(read: TableReader, dtb: bigint, va: bigint, cfg: PagingConfig = DEFAULT_PAGING): Promise<Translation> {
  const [r] = await translateBatch(read, [{ dtb, va }], cfg);
  if (r instanceof VmiError) throw r;
  return r!;
}

/** A TableReader over any scatter-gather physical reader (a driver, or the cached path). */
export function tableReader(readPhys: (ranges: readonly PhysRange[]) => Promise<ReadResult[]>): TableReader {
  return async (addrs) => {
    const res = await readPhys(addrs.map((gpa) => ({ gpa, len: 8 })));
    return res.map((r) => {
      if (r instanceof VmiError) return r;
      if (r.length < 8) return new VmiError("DRIVER_FAILED", `short table read (${r.length} bytes)`);
      const dv = new DataView(r.buffer, r.byteOffset, r.byteLength);
      return dv.getBigUint64(0, true);
    });
  };
}

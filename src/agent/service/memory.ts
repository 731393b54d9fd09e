/**
 * Memory operations of the VMI service: physical and virtual reads and writes and
 * translations, with every address checked against guest RAM (never the agent's own
 * region) before the backend is asked. Page walks use the shared bounded walker
 * (shared/spec paging-walk.ts) and read table entries only from guest RAM.
 *
 * Results are per entry: a status, the bytes read so far (a range stops at the first
 * failing page) and the first failing address.
 */
import { PAGE_SIZE, readU64 } from "../../shared/base/index.js";
import { walkPageTable } from "../../shared/spec/index.js";
import type { PagingLevels, WalkResult } from "../../shared/spec/index.js";
import type { MachineBackend } from "../backend.js";
import { BackendAccessError, Status } from "../errors.js";

const P = BigInt(PAGE_SIZE);

export interface ChunkResult {
  readonly status: Status;
  readonly data: Uint8Array;
  readonly faultAddr: bigint;
}

export interface TranslationResult {
  readonly status: Status;
  readonly walk: WalkResult | undefined;
}

export class MemoryOps {
  readonly #b: MachineBackend;

  constructor(backend: MachineBackend) {
    this.#b = backend;
  }

  /** Whether [addr, addr+len) lies in guest RAM (and so outside the agent region). */
  inGuestRam(addr: bigint, len: bigint): boolean {
    return addr >= 0n && len >= 0n && addr + len <= this.#b.facts.guestRamEnd;
  }

  /** Reads an 8-byte page-table entry, only from guest RAM. */
  readEntry = (gpa: bigint): bigint | undefined => {
    if ((gpa & 7n) !== 0n || !this.inGuestRam(gpa, 8n)) return undefined;
    try {
      return readU64(this.#b.readPhys(gpa, 8), 0);
    } catch (e) {
      if (e instanceof BackendAccessError) return undefined;
      throw e;
    }
  };

  walk(dtb: bigint, va: bigint, levels: PagingLevels): WalkResult {
    return walkPageTable({ root: dtb, va, levels, cBit: this.#b.facts.cBit, readEntry: this.readEntry });
  }

  readPhys(addr: bigint, len: number): ChunkResult {
    const end = this.#b.facts.guestRamEnd;
    if (addr < 0n || addr >= end) return { status: Status.OUT_OF_RANGE, data: new Uint8Array(0), faultAddr: addr };
    const avail = addr + BigInt(len) <= end ? len : Number(end - addr);
    let data: Uint8Array;
    try {
      data = this.#b.readPhys(addr, avail);
    } catch (e) {
      if (e instanceof BackendAccessError) return { status: Status.UNAVAILABLE, data: new Uint8Array(0), faultAddr: e.gpa };
      throw e;
    }
    if (avail < len) return { status: Status.OUT_OF_RANGE, data, faultAddr: end };
    return { status: Status.OK, data, faultAddr: 0n };
  }

  writePhys(addr: bigint, data: Uint8Array): Status {
    if (!this.inGuestRam(addr, BigInt(data.length))) return Status.OUT_OF_RANGE;
    try {
      this.#b.writePhys(addr, data);
    } catch (e) {
      if (e instanceof BackendAccessError) return Status.UNAVAILABLE;
      throw e;
    }
    return Status.OK;
  }

  /** A per-request translation cache (one DTB), so a batch walks each page once. */
  translator(dtb: bigint, levels: PagingLevels): (va: bigint) => WalkResult {
    const cache = new Map<bigint, WalkResult>();
    return (va) => {
      const page = BigInt.asUintN(64, va) & ~(P - 1n);
      let r = cache.get(page);
      if (r === undefined) {
        r = this.walk(dtb, page, levels);
        if (cache.size < 4096) cache.set(page, r);
      }
      if (!r.ok) return r;
      const off = BigInt.asUintN(64, va) - page;
      return { ...r, gpa: r.gpa + off };
    };
  }

  static walkStatus(r: WalkResult): Status {
    if (r.ok) return Status.OK;
    return r.reason === "unreadable" ? Status.OUT_OF_RANGE : Status.PAGE_FAULT;
  }

  /** Reads `len` bytes at virtual `va`; stops at the first page that fails. */
  readVirt(tr: (va: bigint) => WalkResult, va: bigint, len: number): ChunkResult {
    const parts: Uint8Array[] = [];
    let done = 0;
    while (done < len) {
      const at = BigInt.asUintN(64, va + BigInt(done));
      const n = Math.min(len - done, Number(P - (at % P)));
      const w = tr(at);
      if (!w.ok) return { status: MemoryOps.walkStatus(w), data: concat(parts, done), faultAddr: at };
      const c = this.readPhys(w.gpa, n);
      if (c.status !== Status.OK) return { status: c.status, data: concat(parts, done), faultAddr: at };
      parts.push(c.data);
      done += n;
    }
    return { status: Status.OK, data: concat(parts, done), faultAddr: 0n };
  }

  /** Writes at virtual `va`: every page is translated and checked before any byte is written. */
  writeVirt(tr: (va: bigint) => WalkResult, va: bigint, data: Uint8Array): { status: Status; gpas: bigint[] } {
    const plan: [bigint, number, number][] = [];
    let done = 0;
    while (done < data.length) {
      const at = BigInt.asUintN(64, va + BigInt(done));
      const n = Math.min(data.length - done, Number(P - (at % P)));
      const w = tr(at);
      if (!w.ok) return { status: MemoryOps.walkStatus(w), gpas: [] };
      if (!this.inGuestRam(w.gpa, BigInt(n))) return { status: Status.OUT_OF_RANGE, gpas: [] };
      plan.push([w.gpa, done, n]);
      done += n;
    }
    for (const [g, at, n] of plan) {
      const s = this.writePhys(g, data.subarray(at, at + n));
      if (s !== Status.OK) return { status: s, gpas: plan.map((p) => p[0]) };
    }
    return { status: Status.OK, gpas: plan.map((p) => p[0]) };
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1 && parts[0]!.length === total) return parts[0]!;
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

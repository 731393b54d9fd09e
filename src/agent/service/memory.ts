/**
 * Memory operations of the VMI service: physical and virtual reads and writes and
 * translations, with every address checked against guest RAM (never the agent's own
 * region) before the backend is asked. Page walks use the shared bounded walker
 * (shared/spec paging-walk.ts) and read table entries only from guest RAM.
 *
 * Results are per entry: a status, the bytes read so far (a range stops at the first
 * failing page), the first failing address and, for virtual reads, the frame (GPA >> 12)
 * behind every 4 KiB page whose bytes are in the data, in order.
 *
 * A read is planned before it is done: `planPhys`/`planVirt` check the addresses and walk
 * the page tables, which fixes the chunk's shape (status, length, fault address, frames)
 * and the physical segments to copy; `fill` then copies the segments straight into a
 * caller's buffer (one copy, e.g. into the reply frame). Only the platform refusing a
 * page (BackendAccessError) can change the shape after planning; `settle` reads a plan
 * into a buffer of its own and applies that refusal (status UNAVAILABLE).
 */
import { PAGE_SIZE, readU64 } from "../../shared/base/index.js";
import { walkPageTable } from "../../shared/spec/index.js";
import type { PagingLevels, WalkResult } from "../../shared/spec/index.js";
import type { MachineBackend } from "../backend.js";
import { BackendAccessError, Status } from "../errors.js";

const P = BigInt(PAGE_SIZE);
/** Pages one request's translator remembers (its entry cache holds four times as many entries). */
const TRANSLATION_CACHE = 4096;

export interface ChunkResult {
  readonly status: Status;
  readonly data: Uint8Array;
  readonly faultAddr: bigint;
  /** Virtual reads: the frame of every page in `data`, in order (empty for physical reads). */
  readonly frames: readonly bigint[];
}

export interface TranslationResult {
  readonly status: Status;
  readonly walk: WalkResult | undefined;
}

/** A physically contiguous piece of a planned read. */
export interface Segment {
  readonly gpa: bigint;
  readonly len: number;
  /** Offset of the piece in the chunk's data. */
  readonly at: number;
  /** The address the request used for the piece's first byte (virtual or physical). */
  readonly addr: bigint;
}

/** A read whose shape is known (status, length, fault address, frames) and whose bytes are not yet copied. */
export interface ReadPlan {
  readonly kind: "phys" | "virt";
  /** The requested start address. */
  readonly addr: bigint;
  readonly status: Status;
  readonly dataLength: number;
  readonly faultAddr: bigint;
  readonly frames: bigint[];
  readonly segments: readonly Segment[];
}

/** A translator: the walk of `va` (cached per page for one request). */
export type Translate = (va: bigint) => WalkResult;

/** Pages a piece-wise read of `n` bytes at `addr` touches. */
function pagesIn(addr: bigint, n: number): number {
  return n === 0 ? 0 : Math.ceil((Number(addr & (P - 1n)) + n) / PAGE_SIZE);
}

export class MemoryOps {
  readonly #b: MachineBackend;
  readonly #entry = new Uint8Array(8);

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
      this.#b.readPhysInto(gpa, this.#entry, 0, 8);
      return readU64(this.#entry, 0);
    } catch (e) {
      if (e instanceof BackendAccessError) return undefined;
      throw e;
    }
  };

  walk(dtb: bigint, va: bigint, levels: PagingLevels, readEntry: (gpa: bigint) => bigint | undefined = this.readEntry): WalkResult {
    return walkPageTable({ root: dtb, va, levels, cBit: this.#b.facts.cBit, readEntry });
  }

  // ------------------------------------------------------------------ planned reads

  /** `len` bytes at guest-physical `addr`: what lies outside guest RAM is OUT_OF_RANGE. */
  planPhys(addr: bigint, len: number): ReadPlan {
    const end = this.#b.facts.guestRamEnd;
    if (addr < 0n || addr >= end) return { kind: "phys", addr, status: Status.OUT_OF_RANGE, dataLength: 0, faultAddr: addr, frames: [], segments: [] };
    const avail = addr + BigInt(len) <= end ? len : Number(end - addr);
    const segments = avail > 0 ? [{ gpa: addr, len: avail, at: 0, addr }] : [];
    if (avail < len) return { kind: "phys", addr, status: Status.OUT_OF_RANGE, dataLength: avail, faultAddr: end, frames: [], segments };
    return { kind: "phys", addr, status: Status.OK, dataLength: len, faultAddr: 0n, frames: [], segments };
  }

  /**
   * `len` bytes at virtual `va` through `tr`: walked page by page up to the first page
   * that does not translate (PAGE_FAULT, or OUT_OF_RANGE for tables outside guest RAM) or
   * maps outside guest RAM (OUT_OF_RANGE); the fault address is that page's first byte
   * of the range. Physically adjacent pages form one segment.
   */
  planVirt(tr: Translate, va: bigint, len: number): ReadPlan {
    const frames: bigint[] = [];
    const segments: Segment[] = [];
    let done = 0;
    let status: Status = Status.OK;
    let faultAddr = 0n;
    let last: { gpa: bigint; len: number; at: number; addr: bigint } | undefined;
    while (done < len) {
      const at = BigInt.asUintN(64, va + BigInt(done));
      const n = Math.min(len - done, Number(P - (at % P)));
      const w = tr(at);
      if (!w.ok) {
        status = MemoryOps.walkStatus(w);
        faultAddr = at;
        break;
      }
      if (!this.inGuestRam(w.gpa, BigInt(n))) {
        status = Status.OUT_OF_RANGE;
        faultAddr = at;
        break;
      }
      frames.push(w.gpa >> 12n);
      if (last !== undefined && last.gpa + BigInt(last.len) === w.gpa) last.len += n;
      else segments.push((last = { gpa: w.gpa, len: n, at: done, addr: at }));
      done += n;
    }
    return { kind: "virt", addr: va, status, dataLength: done, faultAddr, frames, segments };
  }

  /** Copies a plan's bytes into `dst` at `offset` (throws BackendAccessError if the platform refuses a page). */
  fill(plan: ReadPlan, dst: Uint8Array, offset: number): void {
    for (const s of plan.segments) this.#b.readPhysInto(s.gpa, dst, offset + s.at, s.len);
  }

  /**
   * Reads a plan into a buffer of its own. A page the platform refuses ends the chunk
   * there with UNAVAILABLE: a physical read then returns no data and the refused page's
   * address; a virtual read returns the bytes before the refused page and its virtual
   * address.
   */
  settle(plan: ReadPlan): ChunkResult {
    const data = new Uint8Array(plan.dataLength);
    for (const s of plan.segments) {
      try {
        this.#b.readPhysInto(s.gpa, data, s.at, s.len);
      } catch (e) {
        if (!(e instanceof BackendAccessError)) throw e;
        const off = e.gpa >= s.gpa && e.gpa < s.gpa + BigInt(s.len) ? Number(e.gpa - s.gpa) : 0;
        if (plan.kind === "phys") return { status: Status.UNAVAILABLE, data: new Uint8Array(0), faultAddr: e.gpa, frames: [] };
        const kept = s.at + off;
        return {
          status: Status.UNAVAILABLE,
          data: data.subarray(0, kept),
          faultAddr: BigInt.asUintN(64, s.addr + BigInt(off)),
          frames: plan.frames.slice(0, pagesIn(plan.addr, kept)),
        };
      }
    }
    return { status: plan.status, data, faultAddr: plan.faultAddr, frames: plan.frames };
  }

  readPhys(addr: bigint, len: number): ChunkResult {
    return this.settle(this.planPhys(addr, len));
  }

  /** Reads `len` bytes at virtual `va`; stops at the first page that fails. */
  readVirt(tr: Translate, va: bigint, len: number): ChunkResult {
    return this.settle(this.planVirt(tr, va, len));
  }

  // ------------------------------------------------------------------ writes, translation

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

  /**
   * A per-request translation cache (one DTB), so a batch walks each page once and reads
   * each table entry once (the upper levels are shared by neighbouring pages): one
   * consistent view of the tables per request.
   */
  translator(dtb: bigint, levels: PagingLevels): Translate {
    const cache = new Map<bigint, WalkResult>();
    const entries = new Map<bigint, bigint | undefined>();
    const readEntry = (gpa: bigint): bigint | undefined => {
      if (entries.has(gpa)) return entries.get(gpa);
      const e = this.readEntry(gpa);
      if (entries.size < 4 * TRANSLATION_CACHE) entries.set(gpa, e);
      return e;
    };
    return (va) => {
      const page = BigInt.asUintN(64, va) & ~(P - 1n);
      let r = cache.get(page);
      if (r === undefined) {
        r = this.walk(dtb, page, levels, readEntry);
        if (cache.size < TRANSLATION_CACHE) cache.set(page, r);
      }
      if (!r.ok) return r;
      const off = BigInt.asUintN(64, va) - page;
      return off === 0n ? r : { ...r, gpa: r.gpa + off };
    };
  }

  static walkStatus(r: WalkResult): Status {
    if (r.ok) return Status.OK;
    return r.reason === "unreadable" ? Status.OUT_OF_RANGE : Status.PAGE_FAULT;
  }

  /** Writes at virtual `va`: every page is translated and checked before any byte is written. */
  writeVirt(tr: Translate, va: bigint, data: Uint8Array): { status: Status; gpas: bigint[] } {
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

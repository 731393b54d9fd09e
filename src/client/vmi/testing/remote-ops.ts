/**
 * What an agent does for virtual reads and GatherList, done over local memory with the
 * client's own walker (test code only): shared by SparseDriver's remote mode and the v1
 * test server, so both answer alike. Semantics follow seven.proto and the agent's
 * memory operations: a virtual read stops at the first page that fails (PAGE_FAULT when
 * the walk fails, OUT_OF_RANGE when a table or the data lies outside memory) and names
 * the frame behind every page it read; a gather follows next pointers until the stop
 * value, NULL, a repeated node, the node budget, or an unreadable next pointer.
 */
import { PAGE_SIZE, readU64 } from "../../../shared/base/index.js";
import { pagingConfig, tableReader, translateBatch, type PagingConfig, type Translation } from "../../arch/index.js";
import type { GatherStop, PhysRange, ReadResult } from "../driver.js";
import { VmiError } from "../errors.js";

const PAGE = BigInt(PAGE_SIZE);

export interface LocalMemory {
  readPhys(ranges: readonly PhysRange[]): Promise<ReadResult[]>;
  peek(gpa: bigint, len: number): Uint8Array;
}

export type LocalStatus = "ok" | "page-fault" | "out-of-range";

export interface LocalChunk {
  readonly status: LocalStatus;
  /** The bytes read (up to the failing page). */
  readonly data: Uint8Array;
  /** First address that failed (0 when ok). */
  readonly faultAddr: bigint;
  /** Frame of every page read, in order. */
  readonly frames: bigint[];
}

export interface LocalGather {
  readonly nodes: bigint[];
  readonly chunks: LocalChunk[];
  readonly stop: GatherStop;
}

/** Page walks for one request (each page walked once), with the client's walker. */
export class LocalWalker {
  readonly #mem: LocalMemory;
  readonly #cfg: PagingConfig;
  readonly #ramEnd: bigint;
  readonly #pages = new Map<string, Translation | VmiError>();

  constructor(mem: LocalMemory, ramEnd: bigint, levels = 4) {
    this.#mem = mem;
    this.#ramEnd = ramEnd;
    this.#cfg = pagingConfig({ levels: levels === 5 ? 5 : 4 });
  }

  async walk(dtb: bigint, va: bigint): Promise<Translation | VmiError> {
    const page = BigInt.asUintN(64, va) & ~(PAGE - 1n);
    const key = `${dtb}:${page}`;
    let t = this.#pages.get(key);
    if (t === undefined) {
      [t] = await translateBatch(tableReader((r) => this.#mem.readPhys(r)), [{ dtb, va: page }], this.#cfg);
      this.#pages.set(key, t!);
    }
    return t!;
  }

  async readVirt(dtb: bigint, va: bigint, len: number): Promise<LocalChunk> {
    const out = new Uint8Array(len);
    const frames: bigint[] = [];
    let o = 0;
    while (o < len) {
      const at = BigInt.asUintN(64, va + BigInt(o));
      const take = Math.min(len - o, PAGE_SIZE - Number(at & (PAGE - 1n)));
      const t = await this.walk(dtb, at);
      if (t instanceof VmiError) {
        const status = t.code === "PAGE_FAULT" ? "page-fault" : "out-of-range";
        return { status, data: out.slice(0, o), faultAddr: at, frames };
      }
      const gpa = t.pa + (at & (PAGE - 1n));
      if (gpa + BigInt(take) > this.#ramEnd) return { status: "out-of-range", data: out.slice(0, o), faultAddr: at, frames };
      out.set(this.#mem.peek(gpa, take), o);
      frames.push(gpa >> 12n);
      o += take;
    }
    return { status: "ok", data: out, faultAddr: 0n, frames };
  }

  async gather(spec: { dtb: bigint; head: bigint; nextOffset: bigint; stop: bigint; maxNodes: number; readOffset: bigint; readLen: number }): Promise<LocalGather> {
    const nodes: bigint[] = [];
    const chunks: LocalChunk[] = [];
    const next = async (at: bigint): Promise<bigint | undefined> => {
      const c = await this.readVirt(spec.dtb, BigInt.asUintN(64, at), 8);
      return c.status === "ok" ? readU64(c.data, 0) : undefined;
    };
    const seen = new Set<bigint>();
    let p = await next(spec.head);
    for (;;) {
      if (p === undefined) return { nodes, chunks, stop: "fault" };
      if (p === spec.stop) return { nodes, chunks, stop: "reached" };
      if (p === 0n) return { nodes, chunks, stop: "null" };
      if (seen.has(p)) return { nodes, chunks, stop: "cycle" };
      if (nodes.length >= spec.maxNodes) return { nodes, chunks, stop: "max-nodes" };
      seen.add(p);
      nodes.push(p);
      chunks.push(await this.readVirt(spec.dtb, BigInt.asUintN(64, p + spec.readOffset), spec.readLen));
      p = await next(p + spec.nextOffset);
    }
  }
}

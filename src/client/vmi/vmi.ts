/**
 * The one read path (LibVMI `vmi_read` with `access_context_t`). A Vmi owns a driver, a
 * page cache, a translation cache, the kernel DTB and two hooks the OS layer installs:
 * pid → DTB and symbol → address. Every read and write, typed or not, single or batched,
 * goes through `readManySettled` / `write`:
 *
 *   contexts → resolve (hooks, deduplicated) → translate the 4 KiB pages they touch
 *   (translation cache; misses walked in one batch: remote `translate` if the driver
 *   has it, else locally with one table read per level for the whole batch) → one
 *   scatter-gather physical read through the page cache → bytes per request.
 *
 * The caches are used when the memory cannot change under us: always for images, and
 * for live drivers only while paused, unless `cachePolicy: "always"`. Writes, resume and
 * events invalidate them; live drivers can invalidate through the sink installed with
 * `setInvalidationSink`.
 *
 * With a driver that walks remotely and says which frames a virtual read touched
 * (`readVirtFrames`), a cached read's page miss is ONE framed read of the whole 4 KiB
 * page: the page is cached by its frame and the (dtb, page) → frame translation kept
 * until the next invalidation. `gatherList` forwards pointer chasing to such a driver
 * (one exchange per list) and, while caching, remembers the answer until invalidation.
 */
import { PAGE_SIZE, readU16, readU32, readU64 } from "../../shared/base/index.js";
import { type AccessContext, checkCtx, ctxAdd, formatCtx } from "./access-context.js";
import type { Driver, DriverEvent, FramedRead, GatherListResult, InvalidationSink, MachineInfo, PhysRange, PhysWrite, ReadResult, Subscription } from "./driver.js";
import { VmiError, badArgument, invalidAddress, unsupported } from "./errors.js";
import { PageCache, cachedReadPhys } from "./page-cache.js";
import type { RegisterSet, VcpuRegisters } from "./registers.js";
import { Tlb, type TlbEntry } from "./tlb.js";
import { pagingConfig, tableReader, translateBatch, type PagingConfig, type Translation } from "../arch/x86-64.js";

export type PidResolver = (pid: number, vmi: Vmi) => Promise<bigint>;
export type SymbolResolver = (symbol: string, vmi: Vmi) => Promise<bigint> | bigint;

export interface VmiOptions {
  /** Page-cache size in 4 KiB frames (default 4096 = 16 MiB; 0 disables caching). */
  cacheFrames?: number;
  /** "when-paused" (default for live drivers) or "always" (default for images). */
  cachePolicy?: "always" | "when-paused";
  kernelDtb?: bigint;
  /** Paging mode; the C-bit defaults to the driver's, else 51. */
  paging?: { levels?: 4 | 5; cBit?: number; nxe?: boolean };
  /** Who walks page tables: "auto" (remote if the driver can), "local", "remote". */
  walk?: "auto" | "local" | "remote";
  pidResolver?: PidResolver;
  symbolResolver?: SymbolResolver;
  /** Largest single read (default 256 MiB). */
  maxReadLen?: number;
}

export interface ReadRequest {
  readonly ctx: AccessContext;
  readonly len: number;
}

/** A GatherList through the Vmi: `head` is a virtual context (kva, dtb, pid or ksym). */
export interface GatherRequest {
  /** Where the pointer to the first node is stored. */
  readonly head: AccessContext;
  /** Offset of the next pointer inside a node. */
  readonly nextOffset: number;
  /** The pointer value that ends the list (e.g. the list head's own address). */
  readonly stop: bigint;
  readonly maxNodes: number;
  /** Bytes read per node: `readLen` at `node + readOffset` (may be negative). */
  readonly readOffset: number;
  readonly readLen: number;
}

type Resolved = { readonly space: "pa"; readonly addr: bigint } | { readonly space: "va"; readonly dtb: bigint; readonly addr: bigint };
type Piece = PhysRange;

const PAGE = BigInt(PAGE_SIZE);
const PAGE_LOW = PAGE - 1n;
const U64_LIMIT = 1n << 64n;
/** Queued framed page reads that go out at once instead of waiting for concurrent reads to join. */
const FRAMED_FLUSH_NOW = 64;
/** Gather answers remembered while caching (dropped on every invalidation). */
const GATHER_CACHE_ENTRIES = 256;

export class Vmi {
  readonly driver: Driver;
  readonly info: MachineInfo;
  readonly cache: PageCache;
  readonly paging: PagingConfig;
  readonly pointerSize = 8;
  readonly #tlb = new Tlb();
  readonly #policy: "always" | "when-paused";
  readonly #walk: "local" | "remote";
  readonly #maxReadLen: number;
  #kernelDtb: bigint | undefined;
  #pidResolver: PidResolver | undefined;
  #symbolResolver: SymbolResolver | undefined;
  #paused = false;
  /** Framed virtual reads for page misses (off once the peer shows it sends no frames). */
  #framed: boolean;
  /** Remote pointer chasing (off once the peer says it cannot). */
  #gather: boolean;
  readonly #gathered = new Map<string, GatherListResult>();
  /** Framed page reads waiting for the next flush, by DTB and page. */
  readonly #framedQueue = new Map<bigint, Map<bigint, { promise: Promise<FramedRead | VmiError>; resolve: (r: FramedRead | VmiError) => void; reject: (e: unknown) => void }>>();
  #framedFlush = false;
  #framedQueued = 0;

  private constructor(driver: Driver, info: MachineInfo, opts: VmiOptions) {
    this.driver = driver;
    this.info = info;
    this.cache = new PageCache(opts.cacheFrames ?? 4096);
    this.cache.onInvalidate(() => {
      this.#tlb.clear();
      this.#gathered.clear();
    });
    this.paging = pagingConfig({ ...opts.paging, cBit: opts.paging?.cBit ?? info.cBit ?? 51 });
    this.#policy = opts.cachePolicy ?? (driver.capabilities.live ? "when-paused" : "always");
    const walk = opts.walk ?? "auto";
    if (walk === "remote" && !driver.capabilities.translate) throw unsupported(driver.name, "translate");
    this.#walk = walk === "local" || (walk === "auto" && !driver.capabilities.translate) ? "local" : "remote";
    this.#framed = this.#walk === "remote" && driver.capabilities.virtFrames === true && driver.readVirtFrames !== undefined;
    this.#gather = this.#walk === "remote" && driver.capabilities.gatherList === true && driver.gatherList !== undefined;
    this.#maxReadLen = opts.maxReadLen ?? 256 << 20;
    this.#kernelDtb = opts.kernelDtb;
    this.#pidResolver = opts.pidResolver;
    this.#symbolResolver = opts.symbolResolver;
    const sink: InvalidationSink = { invalidateAll: () => this.cache.invalidateAll(), invalidateFrames: (f) => this.cache.invalidateFrames(f) };
    driver.setInvalidationSink?.(sink);
  }

  /** Opens a Vmi over a driver (asks the driver for its machine info). */
  static async open(driver: Driver, opts: VmiOptions = {}): Promise<Vmi> {
    return new Vmi(driver, await driver.info(), opts);
  }

  // ---- configuration hooks -------------------------------------------------------------

  get kernelDtb(): bigint | undefined {
    return this.#kernelDtb;
  }
  setKernelDtb(dtb: bigint | undefined): void {
    this.#kernelDtb = dtb;
  }
  setPidResolver(r: PidResolver | undefined): void {
    this.#pidResolver = r;
  }
  setSymbolResolver(r: SymbolResolver | undefined): void {
    this.#symbolResolver = r;
  }
  get vcpuCount(): number {
    return this.info.vcpuCount;
  }
  /** Whether reads are currently served from the caches. */
  get caching(): boolean {
    return this.cache.capacity > 0 && (this.#policy === "always" || this.#paused);
  }

  // ---- the read path -------------------------------------------------------------------

  async read(ctx: AccessContext, len: number): Promise<Uint8Array> {
    const [r] = await this.readManySettled([{ ctx, len }]);
    if (r instanceof VmiError) throw r;
    return r!;
  }

  /** Many reads in one batch; throws the first failure (in request order). */
  async readMany(reqs: readonly ReadRequest[]): Promise<Uint8Array[]> {
    const rs = await this.readManySettled(reqs);
    for (const r of rs) if (r instanceof VmiError) throw r;
    return rs as Uint8Array[];
  }

  /** Many reads in one batch; each result is the bytes or why that request failed. */
  async readManySettled(reqs: readonly ReadRequest[]): Promise<ReadResult[]> {
    const results: (ReadResult | undefined)[] = new Array<ReadResult | undefined>(reqs.length);
    reqs.forEach((q, i) => {
      if (!Number.isSafeInteger(q.len) || q.len < 0 || q.len > this.#maxReadLen) {
        results[i] = badArgument("len", `bad read length ${q.len} for ${formatCtx(q.ctx)}`, { len: q.len, max: this.#maxReadLen });
      }
    });
    const resolved = await this.#resolveMany(reqs.map((q) => q.ctx));
    // Remote virtual reads (uncached, driver walks): one readVirt per DTB.
    if (!this.caching && this.#walk === "remote" && this.driver.capabilities.readVirt && this.driver.readVirt) {
      await this.#readVirtRemote(reqs, resolved, results);
    }
    const fetched = new Map<bigint, Uint8Array>();
    const pieces = await this.#piecesFor(reqs.map((q) => q.len), resolved, results, fetched);
    // One scatter-gather read for everything (pages fetched while translating are used as they are).
    const flat: Piece[] = [];
    const owner: number[] = [];
    pieces.forEach((ps, i) => {
      if (ps === undefined) return;
      for (const p of ps) {
        flat.push(p);
        owner.push(i);
      }
    });
    const got = flat.length > 0 ? await this.#readPhys(flat, fetched) : [];
    const bufs = new Map<number, { out: Uint8Array; o: number }>();
    flat.forEach((_, k) => {
      const i = owner[k]!;
      if (results[i] !== undefined) return;
      const r = got[k];
      if (!(r instanceof Uint8Array)) {
        results[i] = r ?? new VmiError("DRIVER_FAILED", `${this.driver.name} returned too few results`);
        return;
      }
      let b = bufs.get(i);
      if (!b) {
        b = { out: new Uint8Array(reqs[i]!.len), o: 0 };
        bufs.set(i, b);
      }
      b.out.set(r, b.o);
      b.o += r.length;
    });
    reqs.forEach((q, i) => {
      if (results[i] === undefined) results[i] = bufs.get(i)?.out ?? new Uint8Array(q.len);
    });
    return results as ReadResult[];
  }

  /** Writes `bytes` at `ctx` (split at page boundaries), then invalidates what it touched. */
  async write(ctx: AccessContext, bytes: Uint8Array): Promise<void> {
    if (!this.driver.capabilities.write || !this.driver.writePhys) throw unsupported(this.driver.name, "write");
    const [res] = await this.#resolveMany([ctx]);
    const results: (ReadResult | undefined)[] = [undefined];
    const [ps] = await this.#piecesFor([bytes.length], [res!], results);
    if (results[0] instanceof VmiError) throw results[0];
    const writes: PhysWrite[] = [];
    let o = 0;
    for (const p of ps ?? []) {
      writes.push({ gpa: p.gpa, data: bytes.subarray(o, o + p.len) });
      o += p.len;
    }
    try {
      const out = await this.driver.writePhys(writes);
      const err = out.find((e) => e !== undefined);
      if (err) throw err;
    } finally {
      const frames = new Set<bigint>();
      for (const w of writes) {
        if (w.data.length === 0) continue;
        for (let f = w.gpa / PAGE; f <= (w.gpa + BigInt(w.data.length) - 1n) / PAGE; f++) frames.add(f);
      }
      this.cache.invalidateFrames(frames);
    }
  }

  // ---- translation ---------------------------------------------------------------------

  /** The guest-physical address of a context. */
  async translate(ctx: AccessContext): Promise<bigint> {
    const [r] = await this.translateMany([ctx]);
    if (r instanceof VmiError) throw r;
    return r!;
  }

  async translateMany(ctxs: readonly AccessContext[]): Promise<(bigint | VmiError)[]> {
    const resolved = await this.#resolveMany(ctxs);
    const results: (ReadResult | undefined)[] = new Array<ReadResult | undefined>(ctxs.length);
    const pieces = await this.#piecesFor(ctxs.map(() => 1), resolved, results);
    return pieces.map((p, i) => {
      const r = results[i];
      if (r instanceof VmiError) return r;
      return p![0]!.gpa;
    });
  }

  /** A full local page walk of `va` under `dtb` (rights, page size, raw entries). */
  async pageWalk(dtb: bigint, va: bigint): Promise<Translation> {
    const [r] = await this.pageWalkMany([{ dtb, va }]);
    if (r instanceof VmiError) throw r;
    return r!;
  }

  async pageWalkMany(reqs: readonly { dtb: bigint; va: bigint }[]): Promise<(Translation | VmiError)[]> {
    return translateBatch(tableReader((r) => this.#readPhys(r)), reqs, this.paging);
  }

  // ---- pointer chasing in the driver ------------------------------------------------------

  /** Whether `gatherList` can be used (a remote-walking driver whose peer implements it). */
  get canGatherList(): boolean {
    return this.#gather;
  }

  /**
   * One GatherList (see `GatherListSpec`): the nodes of a pointer chain and `readLen`
   * bytes of each, in one exchange. While caching, the answer is remembered until the
   * next invalidation (its buffers are shared: do not modify them). Throws UNSUPPORTED
   * when the driver or its peer cannot (the Vmi then stops trying), BAD_ARGUMENT for a
   * physical head or bad numbers, and what the driver throws.
   */
  async gatherList(req: GatherRequest): Promise<GatherListResult> {
    if (!this.#gather) throw unsupported(this.driver.name, "gatherList");
    const ints = { nextOffset: req.nextOffset, maxNodes: req.maxNodes, readOffset: req.readOffset, readLen: req.readLen };
    for (const [name, v] of Object.entries(ints)) if (!Number.isSafeInteger(v)) throw badArgument(name, `bad gatherList ${name} ${v}`);
    if (req.maxNodes < 0 || req.readLen < 0 || req.readLen > this.#maxReadLen) throw badArgument("gatherList", `bad gatherList bounds (maxNodes ${req.maxNodes}, readLen ${req.readLen})`);
    const [r] = await this.#resolveMany([req.head]);
    if (r instanceof VmiError) throw r;
    if (r!.space !== "va") throw badArgument("head", `gatherList needs a virtual head, not ${formatCtx(req.head)}`);
    const { dtb, addr } = r!;
    if (req.maxNodes === 0) return { nodes: [], reads: [], stop: "max-nodes" };
    const caching = this.caching;
    const key = `${dtb}:${addr}:${req.nextOffset}:${req.stop}:${req.maxNodes}:${req.readOffset}:${req.readLen}`;
    const hit = caching ? this.#gathered.get(key) : undefined;
    if (hit) return hit;
    const epoch = this.cache.epoch;
    let res: GatherListResult;
    try {
      res = await this.driver.gatherList!({ dtb, head: addr, nextOffset: req.nextOffset, stop: req.stop, maxNodes: req.maxNodes, readOffset: req.readOffset, readLen: req.readLen });
    } catch (e) {
      if (e instanceof VmiError && e.code === "UNSUPPORTED") this.#gather = false;
      throw e;
    }
    if (caching && this.cache.epoch === epoch) {
      if (this.#gathered.size >= GATHER_CACHE_ENTRIES) this.#gathered.delete(this.#gathered.keys().next().value as string);
      this.#gathered.set(key, res);
    }
    return res;
  }

  // ---- typed readers (thin wrappers) ----------------------------------------------------

  async u8(ctx: AccessContext): Promise<number> {
    return (await this.read(ctx, 1))[0]!;
  }
  async u16(ctx: AccessContext): Promise<number> {
    return readU16(await this.read(ctx, 2), 0);
  }
  async u32(ctx: AccessContext): Promise<number> {
    return readU32(await this.read(ctx, 4), 0);
  }
  async i32(ctx: AccessContext): Promise<number> {
    return readU32(await this.read(ctx, 4), 0) | 0;
  }
  async u64(ctx: AccessContext): Promise<bigint> {
    return readU64(await this.read(ctx, 8), 0);
  }
  async pointer(ctx: AccessContext): Promise<bigint> {
    return this.u64(ctx);
  }
  /** Pointers at many places, in one batch. */
  async pointerMany(ctxs: readonly AccessContext[]): Promise<bigint[]> {
    const bs = await this.readMany(ctxs.map((ctx) => ({ ctx, len: 8 })));
    return bs.map((b) => readU64(b, 0));
  }

  /** Bytes of a NUL-terminated string (without the NUL), at most `maxLen` bytes. */
  async readCStringBytes(ctx: AccessContext, maxLen = 4096): Promise<Uint8Array> {
    if (!Number.isSafeInteger(maxLen) || maxLen < 0 || maxLen > this.#maxReadLen) throw badArgument("maxLen", `bad maxLen ${maxLen}`);
    const parts: Uint8Array[] = [];
    let total = 0;
    let cur: Exclude<AccessContext, { kind: "ksym" }> = ctx.kind === "ksym" ? { kind: "kva", addr: await this.#ksymAddress(ctx) } : ctx;
    while (total < maxLen) {
      // Read up to the next page boundary, so a string ending before an unmapped page reads fine.
      const toBoundary = Number(PAGE - (cur.addr & PAGE_LOW));
      const n = Math.min(toBoundary, maxLen - total);
      const b = await this.read(cur, n);
      const z = b.indexOf(0);
      if (z >= 0) {
        parts.push(b.subarray(0, z));
        total += z;
        break;
      }
      parts.push(b);
      total += n;
      cur = ctxAdd(cur, n) as typeof cur;
    }
    const out = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  /** A NUL-terminated string decoded as UTF-8 (invalid bytes become U+FFFD). */
  async readCString(ctx: AccessContext, maxLen = 4096): Promise<string> {
    return new TextDecoder("utf-8").decode(await this.readCStringBytes(ctx, maxLen));
  }

  /** `count` elements of `elemSize` bytes, decoded by `decode(bytes, offset)`. */
  async readArray<T>(ctx: AccessContext, count: number, elemSize: number, decode: (b: Uint8Array, off: number) => T): Promise<T[]> {
    if (!Number.isSafeInteger(count) || count < 0 || !Number.isSafeInteger(elemSize) || elemSize <= 0) {
      throw badArgument("count", `bad array ${count} x ${elemSize}`);
    }
    const b = await this.read(ctx, count * elemSize);
    const out: T[] = [];
    for (let i = 0; i < count; i++) out.push(decode(b, i * elemSize));
    return out;
  }
  u32Array(ctx: AccessContext, count: number): Promise<number[]> {
    return this.readArray(ctx, count, 4, readU32);
  }
  u64Array(ctx: AccessContext, count: number): Promise<bigint[]> {
    return this.readArray(ctx, count, 8, readU64);
  }
  pointerArray(ctx: AccessContext, count: number): Promise<bigint[]> {
    return this.u64Array(ctx, count);
  }

  // ---- registers, control, events ------------------------------------------------------

  async registers(vcpu: number): Promise<RegisterSet> {
    const [r] = await this.vcpuRegisters([vcpu]);
    return r!.regs;
  }
  async vcpuRegisters(vcpus?: readonly number[]): Promise<VcpuRegisters[]> {
    if (!this.driver.capabilities.registers || !this.driver.getRegisters) throw unsupported(this.driver.name, "registers");
    return this.driver.getRegisters(vcpus);
  }
  async pause(): Promise<void> {
    if (!this.driver.capabilities.pause || !this.driver.pause) throw unsupported(this.driver.name, "pause");
    await this.driver.pause();
    // What we cached while it ran may be stale.
    if (!this.#paused) this.cache.invalidateAll();
    this.#paused = true;
  }
  async resume(): Promise<void> {
    if (!this.driver.capabilities.pause || !this.driver.resume) throw unsupported(this.driver.name, "resume");
    this.#paused = false;
    this.cache.invalidateAll();
    await this.driver.resume();
  }
  /** Subscribes to driver events; the caches are invalidated before `handler` runs. */
  onEvent(handler: (e: DriverEvent) => void): Subscription {
    if (!this.driver.capabilities.events || !this.driver.subscribe) throw unsupported(this.driver.name, "events");
    return this.driver.subscribe((e) => {
      if (e.changedFrames === undefined) this.cache.invalidateAll();
      else this.cache.invalidateFrames(e.changedFrames);
      handler(e);
    });
  }
  /** Drops cached memory and translations (all, or some frames). */
  invalidate(frames?: Iterable<bigint>): void {
    if (frames === undefined) this.cache.invalidateAll();
    else this.cache.invalidateFrames(frames);
  }
  close(): Promise<void> {
    return this.driver.close();
  }

  // ---- internals -----------------------------------------------------------------------

  #readPhys(ranges: readonly PhysRange[], prefetched?: ReadonlyMap<bigint, Uint8Array>): Promise<ReadResult[]> {
    if (!this.caching) return this.driver.readPhys(ranges);
    return cachedReadPhys(this.driver, this.cache, ranges, prefetched !== undefined && prefetched.size > 0 ? { prefetched } : {});
  }

  async #ksymAddress(ctx: Extract<AccessContext, { kind: "ksym" }>): Promise<bigint> {
    const [r] = await this.#resolveMany([ctx]);
    if (r instanceof VmiError) throw r;
    return r!.addr;
  }

  async #resolveMany(ctxs: readonly AccessContext[]): Promise<(Resolved | VmiError)[]> {
    const pids = new Map<number, Promise<bigint | VmiError>>();
    const syms = new Map<string, Promise<bigint | VmiError>>();
    const out: Array<Resolved | VmiError | Promise<Resolved | VmiError>> = ctxs.map((ctx) => {
      try {
        checkCtx(ctx);
      } catch (e) {
        return e as VmiError;
      }
      switch (ctx.kind) {
        case "pa":
          return { space: "pa", addr: ctx.addr };
        case "dtb":
          return { space: "va", dtb: ctx.dtb, addr: ctx.addr };
        case "kva":
          return this.#kernelDtb === undefined ? noKernelDtb(ctx) : { space: "va", dtb: this.#kernelDtb, addr: ctx.addr };
        case "pid": {
          const resolver = this.#pidResolver;
          if (!resolver) return noResolver("pid", ctx);
          let p = pids.get(ctx.pid);
          if (!p) {
            p = guard(() => resolver(ctx.pid, this), { kind: "pid", pid: ctx.pid });
            pids.set(ctx.pid, p);
          }
          return p.then((dtb) => (dtb instanceof VmiError ? dtb : { space: "va", dtb, addr: ctx.addr }));
        }
        case "ksym": {
          const resolver = this.#symbolResolver;
          if (!resolver) return noResolver("symbol", ctx);
          if (this.#kernelDtb === undefined) return noKernelDtb(ctx);
          const dtb = this.#kernelDtb;
          let p = syms.get(ctx.symbol);
          if (!p) {
            p = guard(async () => resolver(ctx.symbol, this), { kind: "ksym", symbol: ctx.symbol });
            syms.set(ctx.symbol, p);
          }
          return p.then((a) => (a instanceof VmiError ? a : { space: "va", dtb, addr: BigInt.asUintN(64, a + (ctx.offset ?? 0n)) }));
        }
      }
    });
    return Promise.all(out);
  }

  /**
   * Physical pieces (page-split, contiguous ones merged) of each request; errors go to
   * `results`. With `fetched`, page misses may be served by framed virtual reads whose
   * pages land there (by frame).
   */
  async #piecesFor(
    lens: readonly number[],
    resolved: readonly (Resolved | VmiError)[],
    results: (ReadResult | undefined)[],
    fetched?: Map<bigint, Uint8Array>,
  ): Promise<(Piece[] | undefined)[]> {
    const pieces: (Piece[] | undefined)[] = new Array<Piece[] | undefined>(lens.length);
    const need = new Map<bigint, Set<bigint>>();
    resolved.forEach((r, i) => {
      if (results[i] !== undefined) return;
      if (r instanceof VmiError) {
        results[i] = r;
        return;
      }
      const len = BigInt(lens[i]!);
      if (r.space === "pa") {
        if (r.addr < 0n || r.addr + len > U64_LIMIT) results[i] = invalidAddress("physical", r.addr);
        else pieces[i] = lens[i] === 0 ? [] : [{ gpa: r.addr, len: lens[i]! }];
        return;
      }
      if (r.addr < 0n || r.addr + len > U64_LIMIT) {
        results[i] = invalidAddress("virtual", r.addr, { reason: "wraps" });
        return;
      }
      let set = need.get(r.dtb);
      if (!set) {
        set = new Set();
        need.set(r.dtb, set);
      }
      for (let p = r.addr & ~PAGE_LOW; p < r.addr + len; p += PAGE) set.add(p);
    });
    const pages = await this.#translatePages(need, fetched);
    resolved.forEach((r, i) => {
      if (results[i] !== undefined || r instanceof VmiError || r.space !== "va") return;
      const ps: Piece[] = [];
      let va = r.addr;
      let left = lens[i]!;
      while (left > 0) {
        const vpage = va & ~PAGE_LOW;
        const t = pages.get(r.dtb)!.get(vpage)!;
        if (t instanceof VmiError) {
          results[i] = t;
          return;
        }
        const inPage = Number(va - vpage);
        const take = Math.min(PAGE_SIZE - inPage, left);
        const gpa = t.page + BigInt(inPage);
        const last = ps[ps.length - 1];
        if (last && last.gpa + BigInt(last.len) === gpa) ps[ps.length - 1] = { gpa: last.gpa, len: last.len + take };
        else ps.push({ gpa, len: take });
        va += BigInt(take);
        left -= take;
      }
      pieces[i] = ps;
    });
    return pieces;
  }

  /**
   * Translates virtual pages (cache first, then one batch). With `fetched` and a driver
   * that reads with frames (while caching), each miss is one framed read of its page.
   */
  async #translatePages(need: Map<bigint, Set<bigint>>, fetched?: Map<bigint, Uint8Array>): Promise<Map<bigint, Map<bigint, TlbEntry | VmiError>>> {
    const out = new Map<bigint, Map<bigint, TlbEntry | VmiError>>();
    const useTlb = this.caching;
    // A translation learnt while an invalidation happened may be stale: not kept.
    const epoch = this.cache.epoch;
    let misses: { dtb: bigint; va: bigint }[] = [];
    for (const [dtb, set] of need) {
      const m = new Map<bigint, TlbEntry | VmiError>();
      out.set(dtb, m);
      for (const vpage of set) {
        const hit = useTlb ? this.#tlb.get(dtb, vpage) : undefined;
        if (hit) m.set(vpage, hit);
        else misses.push({ dtb, va: vpage });
      }
    }
    if (misses.length === 0) return out;
    const put = (dtb: bigint, vpage: bigint, e: TlbEntry | VmiError): void => {
      out.get(dtb)!.set(vpage, e);
      if (useTlb && !(e instanceof VmiError) && this.cache.epoch === epoch) this.#tlb.set(dtb, vpage, e);
    };
    if (fetched !== undefined && useTlb && this.#framed) {
      misses = await this.#readPagesFramed(misses, fetched, put);
      if (misses.length === 0) return out;
    }
    if (this.#walk === "remote" && this.driver.translate) {
      const byDtb = new Map<bigint, bigint[]>();
      for (const m of misses) {
        const l = byDtb.get(m.dtb) ?? [];
        l.push(m.va);
        byDtb.set(m.dtb, l);
      }
      const translate = this.driver.translate.bind(this.driver);
      await Promise.all(
        [...byDtb].map(async ([dtb, vas]) => {
          const rs = await translate(dtb, vas);
          vas.forEach((va, k) => {
            const r = rs[k] ?? new VmiError("DRIVER_FAILED", `${this.driver.name} returned too few translations`);
            put(dtb, va, r instanceof VmiError ? r : { page: r.pa & ~PAGE_LOW, writable: r.writable, user: r.user, nx: r.nx });
          });
        }),
      );
      return out;
    }
    const rs = await translateBatch(tableReader((r) => this.#readPhys(r)), misses, this.paging);
    misses.forEach((m, k) => {
      const r = rs[k]!;
      put(m.dtb, m.va, r instanceof VmiError ? r : { page: r.pa & ~PAGE_LOW, writable: r.writable, user: r.user, nx: r.nx });
    });
    return out;
  }

  /**
   * Reads whole missing pages with their frames: each page is cached by frame and its
   * translation kept. Returns the pages that still need a translation: failures
   * (translated again, so errors read exactly as without frames) and everything once the
   * peer shows it sends no frames. Pages asked for by concurrent reads (walkers run side
   * by side) go out together: one framed read per DTB per turn of the event loop.
   */
  async #readPagesFramed(
    misses: readonly { dtb: bigint; va: bigint }[],
    fetched: Map<bigint, Uint8Array>,
    put: (dtb: bigint, vpage: bigint, e: TlbEntry) => void,
  ): Promise<{ dtb: bigint; va: bigint }[]> {
    const waiting = misses.map((m) => this.#framedPage(m.dtb, m.va));
    // A large batch (e.g. a chunk of a bulk read) goes out now, with whatever is queued.
    if (this.#framedQueued >= FRAMED_FLUSH_NOW) this.#flushFramed();
    const rs = await Promise.all(waiting);
    const rest: { dtb: bigint; va: bigint }[] = [];
    misses.forEach(({ dtb, va }, k) => {
      const r = rs[k]!;
      if (r instanceof VmiError || r.frames === undefined || r.frames.length !== 1 || r.data.length !== PAGE_SIZE) {
        if (!(r instanceof VmiError) && r.frames === undefined) this.#framed = false;
        rest.push({ dtb, va });
        return;
      }
      const frame = r.frames[0]!;
      fetched.set(frame, r.data);
      put(dtb, va, { page: frame * PAGE });
    });
    return rest;
  }

  /** One page's framed read, queued for the next flush (a page asked for twice is read once). */
  #framedPage(dtb: bigint, va: bigint): Promise<FramedRead | VmiError> {
    let byVa = this.#framedQueue.get(dtb);
    if (!byVa) {
      byVa = new Map();
      this.#framedQueue.set(dtb, byVa);
    }
    let w = byVa.get(va);
    if (!w) {
      let resolve!: (r: FramedRead | VmiError) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<FramedRead | VmiError>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      w = { promise, resolve, reject };
      byVa.set(va, w);
      this.#framedQueued++;
    }
    if (!this.#framedFlush) {
      this.#framedFlush = true;
      setImmediate(() => {
        if (this.#framedFlush) this.#flushFramed();
      });
    }
    return w.promise;
  }

  #flushFramed(): void {
    this.#framedFlush = false;
    this.#framedQueued = 0;
    const queue = [...this.#framedQueue];
    this.#framedQueue.clear();
    // Pages read under this epoch may be cached, unless an invalidation comes first.
    const epoch = this.cache.epoch;
    for (const [dtb, byVa] of queue) {
      const vas = [...byVa.keys()];
      const call = (async () => this.driver.readVirtFrames!(dtb, vas.map((va) => ({ va, len: PAGE_SIZE }))))();
      call.then(
        (rs) =>
          vas.forEach((va, k) => {
            const r = rs[k] ?? new VmiError("DRIVER_FAILED", `${this.driver.name} returned too few results`);
            if (!(r instanceof VmiError) && r.frames?.length === 1 && r.data.length === PAGE_SIZE) this.cache.put(r.frames[0]!, r.data, epoch);
            byVa.get(va)!.resolve(r);
          }),
        (e: unknown) => {
          for (const w of byVa.values()) w.reject(e);
        },
      );
    }
  }

  async #readVirtRemote(reqs: readonly ReadRequest[], resolved: (Resolved | VmiError)[], results: (ReadResult | undefined)[]): Promise<void> {
    const readVirt = this.driver.readVirt!.bind(this.driver);
    const byDtb = new Map<bigint, number[]>();
    resolved.forEach((r, i) => {
      if (results[i] !== undefined || r instanceof VmiError || r.space !== "va") return;
      const l = byDtb.get(r.dtb) ?? [];
      l.push(i);
      byDtb.set(r.dtb, l);
    });
    await Promise.all(
      [...byDtb].map(async ([dtb, idx]) => {
        const rs = await readVirt(dtb, idx.map((i) => ({ va: (resolved[i] as { addr: bigint }).addr, len: reqs[i]!.len })));
        idx.forEach((i, k) => {
          results[i] = rs[k] ?? new VmiError("DRIVER_FAILED", `${this.driver.name} returned too few results`);
        });
      }),
    );
  }
}

function noKernelDtb(ctx: AccessContext): VmiError {
  return new VmiError("NO_KERNEL_DTB", `no kernel DTB set for ${formatCtx(ctx)}`, { ctx: formatCtx(ctx) });
}

function noResolver(which: "pid" | "symbol", ctx: AccessContext): VmiError {
  return new VmiError("NO_RESOLVER", `no ${which} resolver installed for ${formatCtx(ctx)}`, { resolver: which, ctx: formatCtx(ctx) });
}

async function guard(f: () => Promise<bigint>, what: { kind: string; pid?: number; symbol?: string }): Promise<bigint | VmiError> {
  try {
    const v = await f();
    if (typeof v !== "bigint") return new VmiError("RESOLVE_FAILED", `${what.kind} resolver returned ${typeof v}`, what);
    return v;
  } catch (e) {
    if (e instanceof VmiError) return e;
    return new VmiError("RESOLVE_FAILED", `${what.kind} resolver failed: ${e instanceof Error ? e.message : String(e)}`, what, { cause: e });
  }
}

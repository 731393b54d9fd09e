/**
 * A page cache in front of any driver: 4 KiB frames, least-recently-used eviction,
 * explicit invalidation (everything, or some frames). Reads are served from cached
 * frames; the frames missing from a batch are fetched in one driver call (adjacent
 * frames merged into runs). Large ranges bypass the cache so one big read cannot
 * evict everything else.
 *
 * Coherence with invalidation during an in-flight fetch: every invalidation bumps
 * `epoch`, and a fetch started under an older epoch does not fill the cache (its
 * bytes are still returned to its own caller).
 */
import { PAGE_SIZE } from "../../shared/base/index.js";
import type { Driver, InvalidationSink, PhysRange, ReadResult } from "./driver.js";
import { VmiError, badArgument } from "./errors.js";

const FRAME = BigInt(PAGE_SIZE);

export interface PageCacheStats {
  hits: number;
  misses: number;
  evictions: number;
  invalidations: number;
}

export class PageCache implements InvalidationSink {
  readonly capacity: number;
  readonly #frames = new Map<bigint, Uint8Array>();
  readonly #listeners: Array<(frames: readonly bigint[] | undefined) => void> = [];
  #epoch = 0;
  readonly stats: PageCacheStats = { hits: 0, misses: 0, evictions: 0, invalidations: 0 };

  /** `capacity` in frames (0 disables caching). */
  constructor(capacity = 4096) {
    if (!Number.isSafeInteger(capacity) || capacity < 0) throw badArgument("capacity", `bad cache capacity ${capacity}`);
    this.capacity = capacity;
  }

  get size(): number {
    return this.#frames.size;
  }
  get epoch(): number {
    return this.#epoch;
  }

  has(frame: bigint): boolean {
    return this.#frames.has(frame);
  }

  /** The cached frame (marks it most recently used); do not modify it. */
  get(frame: bigint): Uint8Array | undefined {
    const f = this.#frames.get(frame);
    if (f === undefined) return undefined;
    this.#frames.delete(frame);
    this.#frames.set(frame, f);
    return f;
  }

  /** Stores a 4 KiB frame if `epoch` is still current. */
  put(frame: bigint, data: Uint8Array, epoch = this.#epoch): void {
    if (this.capacity === 0 || epoch !== this.#epoch || data.length !== PAGE_SIZE) return;
    this.#frames.delete(frame);
    this.#frames.set(frame, data);
    while (this.#frames.size > this.capacity) {
      const oldest = this.#frames.keys().next().value as bigint;
      this.#frames.delete(oldest);
      this.stats.evictions++;
    }
  }

  invalidateAll(): void {
    this.#epoch++;
    this.stats.invalidations++;
    this.#frames.clear();
    for (const l of this.#listeners) l(undefined);
  }

  invalidateFrames(frames: Iterable<bigint>): void {
    this.#epoch++;
    this.stats.invalidations++;
    const list = [...frames];
    for (const f of list) this.#frames.delete(f);
    for (const l of this.#listeners) l(list);
  }

  /** Drops the frames a physical range touches. */
  invalidateRange(gpa: bigint, len: number): void {
    if (len <= 0) return;
    const first = gpa / FRAME;
    const last = (gpa + BigInt(len) - 1n) / FRAME;
    const frames: bigint[] = [];
    for (let f = first; f <= last; f++) frames.push(f);
    this.invalidateFrames(frames);
  }

  /** Called after every invalidation (undefined = everything); e.g. to drop translations. */
  onInvalidate(listener: (frames: readonly bigint[] | undefined) => void): void {
    this.#listeners.push(listener);
  }
}

export interface CachedReadOptions {
  /** Ranges longer than this many frames go straight to the driver (default 64). */
  bypassFrames?: number;
  /** Longest run of frames fetched in one range (default 256 = 1 MiB). */
  maxRunFrames?: number;
  /**
   * Frames the caller fetched already for this batch (e.g. by a framed virtual read):
   * used like cache hits even if the cache could not keep them (invalidated meanwhile).
   */
  prefetched?: ReadonlyMap<bigint, Uint8Array>;
}

/** Scatter-gather physical reads through `cache`: at most two driver calls per batch. */
export async function cachedReadPhys(driver: Driver, cache: PageCache, ranges: readonly PhysRange[], opts: CachedReadOptions = {}): Promise<ReadResult[]> {
  if (cache.capacity === 0) return driver.readPhys(ranges);
  const bypass = opts.bypassFrames ?? 64;
  const maxRun = BigInt(opts.maxRunFrames ?? 256);
  const epoch = cache.epoch;
  const prefetched = opts.prefetched;
  const results: (ReadResult | undefined)[] = new Array<ReadResult | undefined>(ranges.length);
  const local = new Map<bigint, Uint8Array>(prefetched ?? []);
  const missing = new Set<bigint>();
  const direct: number[] = [];

  ranges.forEach((r, i) => {
    if (!Number.isSafeInteger(r.len) || r.len < 0 || r.gpa < 0n) {
      results[i] = badArgument("range", `bad physical range 0x${r.gpa.toString(16)}+${r.len}`, { gpa: r.gpa, len: r.len });
      return;
    }
    if (r.len === 0) {
      results[i] = new Uint8Array(0);
      return;
    }
    const first = r.gpa / FRAME;
    const last = (r.gpa + BigInt(r.len) - 1n) / FRAME;
    if (last - first + 1n > BigInt(bypass)) {
      let have = prefetched !== undefined;
      for (let f = first; have && f <= last; f++) have = prefetched!.has(f);
      if (have) results[i] = assemble(r, local);
      else direct.push(i);
      return;
    }
    for (let f = first; f <= last; f++) {
      if (local.has(f) || missing.has(f)) continue;
      const c = cache.get(f);
      if (c) {
        cache.stats.hits++;
        local.set(f, c);
      } else {
        cache.stats.misses++;
        missing.add(f);
      }
    }
  });

  // One driver call: runs of missing frames plus the direct ranges.
  const sorted = [...missing].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const runs: Array<{ first: bigint; count: bigint }> = [];
  for (const f of sorted) {
    const last = runs[runs.length - 1];
    if (last && last.first + last.count === f && last.count < maxRun) last.count++;
    else runs.push({ first: f, count: 1n });
  }
  const call: PhysRange[] = [
    ...runs.map((r) => ({ gpa: r.first * FRAME, len: Number(r.count * FRAME) })),
    ...direct.map((i) => ranges[i]!),
  ];
  const failed = new Set<bigint>();
  if (call.length > 0) {
    const got = await driver.readPhys(call);
    runs.forEach((run, k) => {
      const r = got[k];
      if (!(r instanceof Uint8Array) || r.length !== Number(run.count * FRAME)) {
        for (let f = run.first; f < run.first + run.count; f++) failed.add(f);
        return;
      }
      for (let j = 0n; j < run.count; j++) {
        const frame = r.slice(Number(j * FRAME), Number((j + 1n) * FRAME));
        local.set(run.first + j, frame);
        cache.put(run.first + j, frame, epoch);
      }
    });
    direct.forEach((i, k) => {
      results[i] = got[runs.length + k] ?? new VmiError("DRIVER_FAILED", `${driver.name} returned too few results`);
    });
  }

  // Ranges that touch a frame that could not be read whole: ask for exactly those bytes,
  // so the error names the precise address (or the bytes are there after all).
  const retry: number[] = [];
  ranges.forEach((r, i) => {
    if (results[i] !== undefined) return;
    const first = r.gpa / FRAME;
    const last = (r.gpa + BigInt(r.len) - 1n) / FRAME;
    for (let f = first; f <= last; f++) {
      if (failed.has(f)) {
        retry.push(i);
        return;
      }
    }
    results[i] = assemble(r, local);
  });
  if (retry.length > 0) {
    const got = await driver.readPhys(retry.map((i) => ranges[i]!));
    retry.forEach((i, k) => {
      results[i] = got[k] ?? new VmiError("DRIVER_FAILED", `${driver.name} returned too few results`);
    });
  }
  return results as ReadResult[];
}

function assemble(r: PhysRange, frames: Map<bigint, Uint8Array>): Uint8Array {
  const out = new Uint8Array(r.len);
  let gpa = r.gpa;
  let o = 0;
  while (o < r.len) {
    const f = gpa / FRAME;
    const inFrame = Number(gpa - f * FRAME);
    const take = Math.min(PAGE_SIZE - inFrame, r.len - o);
    out.set(frames.get(f)!.subarray(inFrame, inFrame + take), o);
    o += take;
    gpa += BigInt(take);
  }
  return out;
}

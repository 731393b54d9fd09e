/**
 * Shared plumbing of the image writers (`seven dump`): a byte sink, a chunked source of
 * guest-physical bytes, range validation, and a copy loop that reads the next chunk while
 * the previous one is being written.
 */
import { open, type FileHandle } from "node:fs/promises";
import type { Driver, MemoryRange } from "../driver.js";
import { VmiError, badArgument } from "../errors.js";

/** Where a writer puts its bytes, in order. */
export interface ByteSink {
  write(bytes: Uint8Array): Promise<void>;
}

/** Exactly `len` bytes of guest-physical memory at `gpa` (the writers never ask for more than chunkSize). */
export type ChunkSource = (gpa: bigint, len: number) => Promise<Uint8Array>;

export interface DumpProgress {
  readonly done: bigint;
  readonly total: bigint;
}

export interface DumpOptions {
  /** Bytes per source read (default 1 MiB). */
  chunkSize?: number;
  /** Chunk reads in flight beyond the one being written (default 1). */
  readAhead?: number;
  onProgress?: (p: DumpProgress) => void;
}

/**
 * Reads [start, end) in chunks of at most `chunk` bytes with `ahead` + 1 reads in flight,
 * and hands each chunk to `use` in order (the next reads are asked for before `use` runs).
 */
export async function pipelinedChunks(
  read: ChunkSource,
  start: bigint,
  end: bigint,
  chunk: bigint,
  ahead: number,
  use: (bytes: Uint8Array, gpa: bigint) => Promise<void>,
): Promise<void> {
  const inFlight: { gpa: bigint; p: Promise<Uint8Array> }[] = [];
  let next = start;
  const fill = (): void => {
    while (inFlight.length <= ahead && next < end) {
      const gpa = next;
      const len = Number(end - gpa < chunk ? end - gpa : chunk);
      const p = read(gpa, len).then((b) => {
        if (b.length !== len) throw new VmiError("DRIVER_FAILED", `chunk source returned ${b.length} bytes for ${len}`, { gpa, len });
        return b;
      });
      // Awaited in turn; keep a failure ahead from becoming an unhandled rejection meanwhile.
      p.catch(() => undefined);
      inFlight.push({ gpa, p });
      next += BigInt(len);
    }
  };
  fill();
  while (inFlight.length > 0) {
    const c = inFlight.shift()!;
    const b = await c.p;
    fill();
    await use(b, c.gpa);
  }
}

/** A sink that writes a file; `close()` when done. */
export class FileSink implements ByteSink {
  readonly #fh: FileHandle;
  #pos = 0;
  private constructor(fh: FileHandle) {
    this.#fh = fh;
  }
  static async create(path: string): Promise<FileSink> {
    return new FileSink(await open(path, "w"));
  }
  get bytesWritten(): number {
    return this.#pos;
  }
  async write(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.#fh.write(bytes, done, bytes.length - done, this.#pos + done);
      done += bytesWritten;
    }
    this.#pos += bytes.length;
  }
  close(): Promise<void> {
    return this.#fh.close();
  }
}

/** A sink collecting everything in memory (tests, small dumps). */
export class MemorySink implements ByteSink {
  readonly #parts: Uint8Array[] = [];
  #len = 0;
  write(bytes: Uint8Array): Promise<void> {
    this.#parts.push(new Uint8Array(bytes));
    this.#len += bytes.length;
    return Promise.resolve();
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.#len);
    let o = 0;
    for (const p of this.#parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

/** A ChunkSource reading through a driver's readPhys (errors are thrown). */
export function driverChunkSource(driver: Driver): ChunkSource {
  return async (gpa, len) => {
    const [r] = await driver.readPhys([{ gpa, len }]);
    if (r instanceof VmiError) throw r;
    if (r === undefined || r.length !== len) throw new VmiError("DRIVER_FAILED", `${driver.name} returned a short read`, { driver: driver.name, gpa, len });
    return r;
  };
}

/** Sorted copy of the ranges; throws BAD_ARGUMENT on empty, negative or overlapping ones. */
export function checkDumpRanges(ranges: readonly MemoryRange[]): MemoryRange[] {
  const sorted = [...ranges].sort((a, b) => (a.gpa < b.gpa ? -1 : a.gpa > b.gpa ? 1 : 0));
  let end = -1n;
  for (const r of sorted) {
    if (r.gpa < 0n || r.len <= 0n || r.gpa + r.len > 1n << 64n) {
      throw badArgument("ranges", `bad range 0x${r.gpa.toString(16)}+0x${r.len.toString(16)}`, { gpa: r.gpa, len: r.len });
    }
    if (r.gpa < end) throw badArgument("ranges", `range 0x${r.gpa.toString(16)} overlaps the previous one`, { gpa: r.gpa });
    end = r.gpa + r.len;
  }
  return sorted;
}

/** Copies ranges[i] from the source to the sink, `readAhead` chunks ahead. */
export async function copyRange(
  sink: ByteSink,
  r: MemoryRange,
  read: ChunkSource,
  chunkSize: number,
  progress: { done: bigint; total: bigint; onProgress?: ((p: DumpProgress) => void) | undefined },
  readAhead = 1,
): Promise<void> {
  await pipelinedChunks(read, r.gpa, r.gpa + r.len, BigInt(chunkSize), readAhead, async (b) => {
    await sink.write(b);
    progress.done += BigInt(b.length);
    progress.onProgress?.({ done: progress.done, total: progress.total });
  });
}

export function chunkSizeOf(opts: DumpOptions): number {
  const c = opts.chunkSize ?? 1 << 20;
  if (!Number.isSafeInteger(c) || c <= 0 || c > 1 << 30) throw badArgument("chunkSize", `bad chunk size ${c}`);
  return c;
}

export function readAheadOf(opts: DumpOptions): number {
  const a = opts.readAhead ?? 1;
  if (!Number.isSafeInteger(a) || a < 0 || a > 64) throw badArgument("readAhead", `bad read-ahead ${a} (0..64 chunks)`);
  return a;
}

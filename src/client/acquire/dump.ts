/**
 * Memory acquisition (`seven dump`): all of a driver's guest memory (outside any excluded
 * region, e.g. the agent's own) into a LiME, ELF core or raw file, read in large chunks
 * (the live drivers split each chunk by the agent's limits and pipeline the pieces), with
 * progress, interruptible (AbortSignal) and resumable.
 *
 * While running, the output is FILE.partial and FILE.journal records how much of it is
 * complete (journal.ts). An interruption or a failure keeps both and throws
 * DUMP_INTERRUPTED; `resume: true` continues: the writers regenerate the file from the
 * start, the bytes already in FILE.partial are skipped without being read again, and the
 * rest is appended. Success renames FILE.partial to FILE and removes the journal.
 */
import { open, rename, rm, stat, type FileHandle } from "node:fs/promises";
import {
  VmiError,
  writeElfCore,
  writeLime,
  type ByteSink,
  type ChunkSource,
  type DumpProgress,
  type Driver,
  type MemoryRange,
  type RegisterSet,
} from "../vmi/index.js";
import { AcquireError } from "./errors.js";
import { readJournal, writeJournal, type DumpFormat, type DumpJournal } from "./journal.js";

export interface DumpMemoryOptions {
  readonly out: string;
  readonly format: DumpFormat;
  /** Who is being dumped (endpoint + measurement, or an image path); a resume must name the same. */
  readonly source: string;
  /** Default: the driver's memory ranges. */
  readonly ranges?: readonly MemoryRange[];
  /** Regions left out (e.g. the agent's own region), [start, end). */
  readonly exclude?: readonly { readonly start: bigint; readonly end: bigint }[];
  readonly resume?: boolean;
  /** Bytes per read (default DEFAULT_DUMP_CHUNK). */
  readonly chunkSize?: number;
  /** Reads in flight beyond the chunk being written (default `defaultReadAhead(chunkSize)`). */
  readonly readAhead?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: DumpProgress) => void;
  /** Registers for the ELF notes (default: the driver's, when it has them). */
  readonly vcpus?: readonly RegisterSet[];
}

export interface DumpResult {
  readonly path: string;
  readonly format: DumpFormat;
  readonly ranges: readonly MemoryRange[];
  /** Guest bytes in the file, and bytes read in this run (less after a resume). */
  readonly dataBytes: bigint;
  readonly readBytes: bigint;
  readonly fileBytes: number;
  readonly resumedAt: bigint | undefined;
  readonly ms: number;
}

export const DEFAULT_DUMP_CHUNK = 4 << 20;
/** Largest read of one chunk's parts (a live agent's largest range by default). */
const DUMP_PART = 1 << 20;
/** The least read-ahead by default (chunks). */
export const DEFAULT_DUMP_READ_AHEAD = 1;
/**
 * Guest bytes requested ahead of the chunk being written, by default. A live agent's reply
 * stream holds several MiB between the agent and this process (its TX ring, the host's and
 * the kernel's socket buffers); with less than that asked for ahead, the agent runs out of
 * requests at every chunk and waits a round trip for the next ones.
 */
export const DEFAULT_DUMP_AHEAD_BYTES = 24 << 20;
/** Most chunks read ahead by default (the image writers accept up to 64). */
const MAX_DEFAULT_READ_AHEAD = 16;

/** The default read-ahead for a chunk size: DEFAULT_DUMP_AHEAD_BYTES worth of chunks, within [1, 16]. */
export function defaultReadAhead(chunkSize: number): number {
  return Math.min(MAX_DEFAULT_READ_AHEAD, Math.max(DEFAULT_DUMP_READ_AHEAD, Math.ceil(DEFAULT_DUMP_AHEAD_BYTES / Math.max(1, chunkSize))));
}

const mib = (n: bigint): string => (Number(n) / (1 << 20)).toFixed(1);

/** `ranges` minus the excluded regions, sorted. */
export function subtractRegions(ranges: readonly MemoryRange[], exclude: readonly { start: bigint; end: bigint }[]): MemoryRange[] {
  let out = [...ranges].sort((a, b) => (a.gpa < b.gpa ? -1 : 1)).map((r) => ({ gpa: r.gpa, len: r.len }));
  for (const x of exclude) {
    if (x.end <= x.start) continue;
    out = out.flatMap((r) => {
      const end = r.gpa + r.len;
      if (x.end <= r.gpa || x.start >= end) return [r];
      const parts: MemoryRange[] = [];
      if (x.start > r.gpa) parts.push({ gpa: r.gpa, len: x.start - r.gpa });
      if (x.end < end) parts.push({ gpa: x.end, len: end - x.end });
      return parts;
    });
  }
  return out;
}

/**
 * A sink over the partial file that drops the first `skip` bytes (already there from an
 * earlier run). An abort stops the dump at the next write, however many reads are ahead.
 */
class ResumingSink implements ByteSink {
  #pos = 0;
  constructor(
    readonly fh: FileHandle,
    readonly skip: number,
    readonly signal?: AbortSignal,
  ) {}
  get position(): number {
    return this.#pos;
  }
  /** Writes the parts in order (one writev past the skipped bytes); returns how many bytes. */
  async writeParts(parts: readonly Uint8Array[]): Promise<number> {
    const n = parts.reduce((s, p) => s + p.length, 0);
    if (parts.length === 1 || this.#pos < this.skip) {
      for (const p of parts) await this.write(p);
      return n;
    }
    if (this.signal?.aborted) throw interrupted();
    const at = this.#pos;
    this.#pos += n;
    let { bytesWritten: skip } = await this.fh.writev(parts, at);
    // A short writev: the rest part by part.
    let base = at;
    for (const p of parts) {
      if (skip >= p.length) {
        skip -= p.length;
        base += p.length;
        continue;
      }
      for (let d = skip; d < p.length; ) d += (await this.fh.write(p, d, p.length - d, base + d)).bytesWritten;
      skip = 0;
      base += p.length;
    }
    return n;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.signal?.aborted) throw interrupted();
    const start = this.#pos;
    this.#pos += bytes.length;
    if (this.#pos <= this.skip) return;
    const from = Math.max(0, this.skip - start);
    let done = from;
    while (done < bytes.length) {
      const { bytesWritten } = await this.fh.write(bytes, done, bytes.length - done, start + done);
      done += bytesWritten;
    }
  }
}

export async function dumpMemory(driver: Driver, opts: DumpMemoryOptions): Promise<DumpResult> {
  const t0 = performance.now();
  const chunkSize = opts.chunkSize ?? DEFAULT_DUMP_CHUNK;
  const readAhead = opts.readAhead ?? defaultReadAhead(chunkSize);
  const ranges = subtractRegions(opts.ranges ?? (await driver.info()).memoryRanges, opts.exclude ?? []).filter((r) => r.len > 0n);
  if (ranges.length === 0) throw new AcquireError("NOTHING_TO_DUMP", `${driver.name} has no memory to dump`, { driver: driver.name });
  const total = ranges.reduce((s, r) => s + r.len, 0n);
  const partial = `${opts.out}.partial`;
  const journalPath = `${opts.out}.journal`;
  const rangeHex = ranges.map((r) => ({ gpa: "0x" + r.gpa.toString(16), len: "0x" + r.len.toString(16) }));

  let journal: DumpJournal;
  let fh: FileHandle;
  if (opts.resume) {
    journal = await readJournal(journalPath);
    const same =
      journal.format === opts.format &&
      journal.chunkSize === chunkSize &&
      journal.source === opts.source &&
      JSON.stringify(journal.ranges) === JSON.stringify(rangeHex);
    if (!same) {
      throw new AcquireError("JOURNAL_MISMATCH", `cannot resume: ${journalPath} describes another dump (${journal.format} of ${journal.source}); remove ${partial} and the journal to start over`, {
        journal: { format: journal.format, source: journal.source },
        asked: { format: opts.format, source: opts.source },
      });
    }
    const st = await stat(partial).catch(() => undefined);
    if (!st || st.size < journal.fileBytes) {
      throw new AcquireError("BAD_JOURNAL", `cannot resume: ${partial} is ${st ? `shorter than the journal says (${st.size} < ${journal.fileBytes} bytes)` : "missing"}`, { partial });
    }
    fh = await open(partial, "r+");
    await fh.truncate(journal.fileBytes);
  } else {
    if (await stat(partial).catch(() => undefined)) {
      throw new AcquireError("PARTIAL_EXISTS", `${partial} exists from an interrupted dump: add --resume to continue it, or remove it and ${journalPath}`, { partial });
    }
    const now = new Date().toISOString();
    journal = {
      version: 1,
      format: opts.format,
      ranges: rangeHex,
      chunkSize,
      source: opts.source,
      totalBytes: "0x" + total.toString(16),
      fileBytes: 0,
      dataBytes: "0",
      startedAt: now,
      updatedAt: now,
    };
    fh = await open(partial, "w");
    await writeJournal(journalPath, journal);
  }

  const skipData = BigInt(journal.dataBytes);
  const sink = new ResumingSink(fh, journal.fileBytes, opts.signal);
  // Offset of each range's first byte in the concatenated guest data.
  const starts: bigint[] = [];
  ranges.reduce((acc, r) => (starts.push(acc), acc + r.len), 0n);
  const dataOffset = (gpa: bigint): bigint => {
    for (let i = ranges.length - 1; i >= 0; i--) if (gpa >= ranges[i]!.gpa) return starts[i]! + (gpa - ranges[i]!.gpa);
    return 0n;
  };
  let readBytes = 0n;
  // A chunk is read as parts of at most DUMP_PART bytes, in one readPhys: a live driver
  // answers each part with a reply of its own and hands its bytes over without a copy.
  const readParts = async (gpa: bigint, len: number): Promise<Uint8Array[]> => {
    if (opts.signal?.aborted) throw interrupted();
    if (dataOffset(gpa) + BigInt(len) <= skipData) return [new Uint8Array(len)];
    const want: { gpa: bigint; len: number }[] = [];
    for (let o = 0; o < len; o += DUMP_PART) want.push({ gpa: gpa + BigInt(o), len: Math.min(DUMP_PART, len - o) });
    const got = await driver.readPhys(want);
    const parts = want.map((w, i) => {
      const r = got[i];
      if (r instanceof VmiError) throw r;
      if (!r || r.length !== w.len) throw new VmiError("DRIVER_FAILED", `${driver.name} returned a short read at 0x${w.gpa.toString(16)}`, { gpa: w.gpa, len: w.len });
      return r;
    });
    readBytes += BigInt(len);
    return parts;
  };
  const read: ChunkSource = async (gpa, len) => concat(await readParts(gpa, len));
  let journalChain: Promise<void> = Promise.resolve();
  const onProgress = (p: DumpProgress): void => {
    opts.onProgress?.(p);
    if (p.done <= skipData) return;
    journal.fileBytes = sink.position;
    journal.dataBytes = p.done.toString();
    journal.updatedAt = new Date().toISOString();
    const snapshot = { ...journal };
    journalChain = journalChain.then(() => writeJournal(journalPath, snapshot));
  };
  const done = (): bigint => BigInt(journal.dataBytes);

  try {
    const w = { chunkSize, readAhead, onProgress };
    if (opts.format === "lime") await writeLime(sink, ranges, read, w);
    else if (opts.format === "elf") {
      const vcpus = opts.vcpus ?? (driver.capabilities.registers && driver.getRegisters ? (await driver.getRegisters()).map((v) => v.regs) : []);
      await writeElfCore(sink, ranges, read, { ...w, vcpus });
    } else await writeRaw(sink, ranges, readParts, w);
    await journalChain;
  } catch (e) {
    await journalChain.catch(() => undefined);
    await fh.close().catch(() => undefined);
    const why = e instanceof AcquireError && e.details["reason"] === "signal" ? "interrupted" : e instanceof Error ? e.message : String(e);
    throw new AcquireError(
      "DUMP_INTERRUPTED",
      `dump stopped at ${mib(done())} of ${mib(total)} MiB (${why}); ${partial} and ${journalPath} are kept: run the same command with --resume to continue`,
      { partial, journal: journalPath, doneBytes: done(), totalBytes: total, reason: (e as { code?: unknown }).code ?? "ERROR" },
      { cause: e },
    );
  }
  await fh.close();
  await rename(partial, opts.out);
  await rm(journalPath, { force: true });
  return {
    path: opts.out,
    format: opts.format,
    ranges,
    dataBytes: total,
    readBytes,
    fileBytes: sink.position,
    resumedAt: opts.resume ? skipData : undefined,
    ms: performance.now() - t0,
  };
}

function interrupted(): AcquireError {
  return new AcquireError("DUMP_INTERRUPTED", "interrupted", { reason: "signal" });
}

/** One buffer of the parts (no copy for one part). */
function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Reads [start, end) in chunks of at most `chunk` bytes with `ahead` + 1 reads in flight and
 * hands each chunk's parts to `use` in order (pipelinedChunks, for chunks read in parts).
 */
async function pipelinedParts(
  read: (gpa: bigint, len: number) => Promise<Uint8Array[]>,
  start: bigint,
  end: bigint,
  chunk: bigint,
  ahead: number,
  use: (parts: Uint8Array[]) => Promise<void>,
): Promise<void> {
  const inFlight: Promise<Uint8Array[]>[] = [];
  let next = start;
  const fill = (): void => {
    while (inFlight.length <= ahead && next < end) {
      const len = Number(end - next < chunk ? end - next : chunk);
      const p = read(next, len);
      // Awaited in turn; keep a failure ahead from becoming an unhandled rejection meanwhile.
      p.catch(() => undefined);
      inFlight.push(p);
      next += BigInt(len);
    }
  };
  fill();
  while (inFlight.length > 0) {
    const parts = await inFlight.shift()!;
    fill();
    await use(parts);
  }
}

/** A raw image: file offset = guest-physical address, holes zero-filled. */
async function writeRaw(
  sink: ResumingSink,
  ranges: readonly MemoryRange[],
  read: (gpa: bigint, len: number) => Promise<Uint8Array[]>,
  o: { chunkSize: number; readAhead: number; onProgress: (p: DumpProgress) => void },
): Promise<void> {
  const total = ranges.reduce((s, r) => s + r.len, 0n);
  const chunk = BigInt(o.chunkSize);
  let pos = 0n;
  let done = 0n;
  for (const r of ranges) {
    while (pos < r.gpa) {
      const n = Number(r.gpa - pos < chunk ? r.gpa - pos : chunk);
      await sink.write(new Uint8Array(n));
      pos += BigInt(n);
    }
    await pipelinedParts(read, r.gpa, r.gpa + r.len, chunk, o.readAhead, async (parts) => {
      const n = await sink.writeParts(parts);
      pos += BigInt(n);
      done += BigInt(n);
      o.onProgress({ done, total });
    });
  }
}

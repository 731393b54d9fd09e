/** Writes a LiME (version 1) image incrementally: header, range bytes, header, … */
import type { MemoryRange } from "../driver.js";
import { LIME_HEADER, LIME_MAGIC, LIME_VERSION } from "./lime-layout.js";
import { checkDumpRanges, chunkSizeOf, copyRange, readAheadOf, type ByteSink, type ChunkSource, type DumpOptions } from "./dump-writer.js";

export async function writeLime(sink: ByteSink, ranges: readonly MemoryRange[], read: ChunkSource, opts: DumpOptions = {}): Promise<void> {
  const sorted = checkDumpRanges(ranges);
  const chunkSize = chunkSizeOf(opts);
  const ahead = readAheadOf(opts);
  const progress = { done: 0n, total: sorted.reduce((s, r) => s + r.len, 0n), onProgress: opts.onProgress };
  for (const r of sorted) {
    await sink.write(LIME_HEADER.serialize({ magic: LIME_MAGIC, version: LIME_VERSION, s_addr: r.gpa, e_addr: r.gpa + r.len - 1n }));
    await copyRange(sink, r, read, chunkSize, progress, ahead);
  }
}

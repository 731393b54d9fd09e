/**
 * The physical memory of an image file: sorted, non-overlapping segments, each mapping
 * guest-physical [gpa, gpa+len) to file bytes [fileOffset, fileOffset+fileLen) followed
 * by zeros up to `len` (ELF p_memsz > p_filesz). Reads outside every segment fail with
 * INVALID_ADDRESS naming the first unbacked byte.
 */
import { badArgument, invalidAddress, type VmiError } from "../errors.js";
import type { MemoryRange, PhysRange, PhysWrite, ReadResult } from "../driver.js";
import { readSource, type ByteSource } from "./byte-source.js";

export interface Segment {
  readonly gpa: bigint;
  readonly len: bigint;
  readonly fileOffset: number;
  readonly fileLen: number;
}

/** Largest single range a driver read accepts (a sanity bound, not a format limit). */
export const MAX_READ_LEN = 1 << 30;

export class SegmentMap {
  readonly segments: readonly Segment[];
  readonly #source: ByteSource;

  /** `segments` must be validated already (sorted here; overlap is the parser's error). */
  constructor(source: ByteSource, segments: readonly Segment[]) {
    this.#source = source;
    this.segments = [...segments].filter((s) => s.len > 0n).sort((a, b) => (a.gpa < b.gpa ? -1 : 1));
  }

  get ranges(): MemoryRange[] {
    return this.segments.map((s) => ({ gpa: s.gpa, len: s.len }));
  }

  /** Index of the segment holding `gpa`, or -1. */
  find(gpa: bigint): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.segments[mid]!;
      if (gpa < s.gpa) hi = mid - 1;
      else if (gpa >= s.gpa + s.len) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  /** File pieces of a physical range: [fileOffset, len] or [-1, len] for zero fill. */
  pieces(r: PhysRange): Array<readonly [number, number]> | VmiError {
    if (!Number.isSafeInteger(r.len) || r.len < 0 || r.len > MAX_READ_LEN) {
      return badArgument("len", `bad read length ${r.len}`, { len: r.len });
    }
    if (r.gpa < 0n || r.gpa + BigInt(r.len) > 1n << 64n) return invalidAddress("physical", r.gpa);
    const out: Array<readonly [number, number]> = [];
    let gpa = r.gpa;
    let left = r.len;
    let idx = left > 0 ? this.find(gpa) : 0;
    while (left > 0) {
      const s = this.segments[idx];
      if (idx < 0 || s === undefined || gpa < s.gpa || gpa >= s.gpa + s.len) return invalidAddress("physical", gpa);
      const inSeg = Number(gpa - s.gpa);
      const take = Number(BigInt(left) < s.len - BigInt(inSeg) ? BigInt(left) : s.len - BigInt(inSeg));
      // File-backed part, then zero fill.
      if (inSeg < s.fileLen) {
        const f = Math.min(take, s.fileLen - inSeg);
        out.push([s.fileOffset + inSeg, f]);
        if (take > f) out.push([-1, take - f]);
      } else {
        out.push([-1, take]);
      }
      gpa += BigInt(take);
      left -= take;
      idx++;
    }
    return out;
  }

  async read(ranges: readonly PhysRange[]): Promise<ReadResult[]> {
    // File reads of a batch run concurrently; in-memory reads are synchronous anyway.
    return Promise.all(ranges.map((r) => this.#readOne(r)));
  }

  async #readOne(r: PhysRange): Promise<ReadResult> {
    const ps = this.pieces(r);
    if (!Array.isArray(ps)) return ps;
    if (ps.length === 1 && ps[0]![0] >= 0) return readSource(this.#source, ps[0]![0], ps[0]![1]);
    const out = new Uint8Array(r.len);
    let o = 0;
    for (const [off, n] of ps) {
      if (off >= 0) out.set(await readSource(this.#source, off, n), o);
      o += n;
    }
    return out;
  }

  /** Writes into the source (in-memory sources only); zero-fill tails cannot be written. */
  async write(writes: readonly PhysWrite[]): Promise<(VmiError | undefined)[]> {
    const write = this.#source.write?.bind(this.#source);
    const out: (VmiError | undefined)[] = [];
    for (const w of writes) {
      const ps = this.pieces({ gpa: w.gpa, len: w.data.length });
      if (!Array.isArray(ps)) {
        out.push(ps);
        continue;
      }
      let o = 0;
      let err: VmiError | undefined;
      for (const [off, n] of ps) {
        if (off < 0 || !write) {
          err = invalidAddress("physical", w.gpa + BigInt(o), { reason: "not writable" });
          break;
        }
        o += n;
      }
      if (!err && write) {
        o = 0;
        for (const [off, n] of ps) {
          await write(off, w.data.subarray(o, o + n));
          o += n;
        }
      }
      out.push(err);
    }
    return out;
  }
}

/** Checks that segments do not overlap; returns the first overlapping pair or undefined. */
export function findOverlap(segments: readonly { gpa: bigint; len: bigint }[]): [number, number] | undefined {
  const idx = segments.map((_, i) => i).filter((i) => segments[i]!.len > 0n);
  idx.sort((a, b) => (segments[a]!.gpa < segments[b]!.gpa ? -1 : segments[a]!.gpa > segments[b]!.gpa ? 1 : 0));
  for (let k = 1; k < idx.length; k++) {
    const p = segments[idx[k - 1]!]!;
    const c = segments[idx[k]!]!;
    if (p.gpa + p.len > c.gpa) return [idx[k - 1]!, idx[k]!];
  }
  return undefined;
}

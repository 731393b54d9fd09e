/**
 * Splitting scatter-gather requests by the agent's limits (MachineInfo.limits): every
 * range at most `maxRangeBytes`, every request at most `maxBatchEntries` entries and
 * `maxBatchBytes` bytes of data, and every frame (request or reply) within
 * `maxFrameBytes` including per-entry overhead. The batches are then sent pipelined and
 * the pieces reassembled per range, in order.
 */
import { PAGE_SIZE } from "../../shared/base/index.js";
import { VmiError } from "../vmi/index.js";

export interface AgentLimits {
  readonly maxFrameBytes: number;
  readonly maxBatchEntries: number;
  readonly maxBatchBytes: number;
  readonly maxRangeBytes: number;
  readonly maxTraps: number;
  readonly maxInFlight: number;
}

/** Room per entry for protobuf tags, lengths, status and address (generous). */
export const ENTRY_OVERHEAD = 40;
/** Room per frame for the envelope. */
export const FRAME_OVERHEAD = 1024;

export interface Piece {
  /** Which range of the caller this piece belongs to. */
  readonly index: number;
  /** Offset of the piece inside that range. */
  readonly offset: number;
  readonly addr: bigint;
  readonly len: number;
}

/** Largest piece of data one entry may carry under these limits (a multiple of 4 KiB when possible). */
export function maxPieceBytes(l: AgentLimits): number {
  const raw = Math.min(l.maxRangeBytes, l.maxBatchBytes, l.maxFrameBytes - FRAME_OVERHEAD - ENTRY_OVERHEAD);
  if (raw <= 0) throw new VmiError("DRIVER_FAILED", `the agent's limits leave no room for data (${JSON.stringify(l)})`);
  return raw >= PAGE_SIZE ? raw - (raw % PAGE_SIZE) : raw;
}

/**
 * Splits ranges (address + length) into batches of pieces that each fit one request and
 * its reply. Zero-length ranges produce no piece.
 */
export function planBatches(ranges: readonly { readonly addr: bigint; readonly len: number }[], l: AgentLimits): Piece[][] {
  const pieceMax = maxPieceBytes(l);
  const frameBudget = l.maxFrameBytes - FRAME_OVERHEAD;
  const batches: Piece[][] = [];
  let cur: Piece[] = [];
  let bytes = 0;
  let frame = 0;
  const flush = (): void => {
    if (cur.length > 0) batches.push(cur);
    cur = [];
    bytes = 0;
    frame = 0;
  };
  ranges.forEach((r, index) => {
    for (let offset = 0; offset < r.len; ) {
      const len = Math.min(pieceMax, r.len - offset);
      if (cur.length + 1 > l.maxBatchEntries || bytes + len > l.maxBatchBytes || frame + len + ENTRY_OVERHEAD > frameBudget) flush();
      cur.push({ index, offset, addr: r.addr + BigInt(offset), len });
      bytes += len;
      frame += len + ENTRY_OVERHEAD;
      offset += len;
    }
  });
  flush();
  return batches;
}

/** Splits a list into runs of at most `n`. */
export function chunksOf<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += Math.max(1, n)) out.push(xs.slice(i, i + Math.max(1, n)));
  return out;
}

/**
 * Reassembles per-range results from piece results: the bytes, or the first failing
 * piece's error (in address order). A piece that is a whole range and `alone[k]` (the only
 * data of its reply, so a view of it holds nothing else alive) is returned as it is, not
 * copied.
 */
export function assemble(
  lens: readonly number[],
  pieces: readonly Piece[],
  results: readonly (Uint8Array | VmiError)[],
  alone?: readonly boolean[],
): (Uint8Array | VmiError)[] {
  const count = lens.map(() => 0);
  for (const p of pieces) count[p.index]!++;
  const out: (Uint8Array | VmiError | undefined)[] = lens.map(() => undefined);
  pieces.forEach((p, k) => {
    const r0 = results[k];
    if (alone?.[k] === true && count[p.index] === 1 && p.offset === 0 && r0 instanceof Uint8Array && r0.length === lens[p.index]) {
      out[p.index] = r0;
      return;
    }
    const cur = (out[p.index] ??= new Uint8Array(lens[p.index]!));
    if (cur instanceof VmiError) return;
    const r = r0;
    if (r === undefined) {
      out[p.index] = new VmiError("DRIVER_FAILED", "the agent returned too few chunks");
      return;
    }
    if (r instanceof VmiError) {
      out[p.index] = r;
      return;
    }
    if (r.length !== p.len) {
      out[p.index] = new VmiError("DRIVER_FAILED", `the agent returned ${r.length} bytes for a ${p.len}-byte range`, { addr: p.addr, len: p.len });
      return;
    }
    cur.set(r, p.offset);
  });
  return out.map((o, i) => o ?? new Uint8Array(lens[i]!));
}

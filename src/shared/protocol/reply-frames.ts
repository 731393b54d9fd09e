/**
 * Large v1 replies — `Response{read: ReadResponse}` and `Response{gather_list:
 * GatherListResponse}` — framed in one pass into one buffer, byte for byte what
 * `encodeMessageFrame(v1.ResponseSchema, …)` (protobuf-es `toBinary` + the varint prefix)
 * produces, without its copies (nested messages joined once per level, then the frame).
 *
 * Two steps: `plan…Reply` computes every size from the chunks' shapes (status, data
 * length, fault address, frames) — so the caller can check the frame limit before
 * anything is allocated or read — and `writeReplyFrame` allocates the frame once, writes
 * the prefix, the Response header and each chunk's header, and leaves each chunk's data
 * region for the caller to fill (`dataOffsets`), e.g. straight from guest memory.
 *
 * Encoding rules followed (protobuf-es, proto3): fields in field-number order; zero
 * scalars, empty bytes/strings and empty repeated fields are not written; the selected
 * oneof member is written even when empty; repeated uint64 is packed; enums are int32
 * varints (a negative value takes 10 bytes). Tags come from the generated descriptors.
 */
import type { DescMessage } from "@bufbuild/protobuf";
import { ChunkSchema, GatherListResponseSchema, ReadResponseSchema, ResponseSchema } from "./gen/seven/v1/seven_pb.js";

/** A chunk as far as its encoding is concerned: its data is `dataLength` bytes, filled later. */
export interface ChunkShape {
  readonly status: number;
  readonly dataLength: number;
  readonly faultAddr: bigint;
  readonly frames: readonly bigint[];
}

/** The Response fields before the body. */
export interface ReplyHead {
  readonly id: bigint;
  readonly status: number;
  readonly detail: string;
}

/** Sizes of one reply, computed before anything is written. */
export interface ReplyPlan {
  /** Bytes of the whole frame (varint prefix + Response). */
  readonly frameBytes: number;
  /** Bytes of the Response message (what the length prefix says). */
  readonly messageBytes: number;
  readonly head: ReplyHead;
  readonly body: ReadBody | GatherBody;
}

interface ReadBody {
  readonly kind: "read";
  readonly size: number;
  readonly chunks: readonly ChunkShape[];
  readonly chunkSizes: Int32Array;
}

interface GatherBody {
  readonly kind: "gather";
  readonly size: number;
  readonly nodes: readonly bigint[];
  readonly nodesSize: number;
  readonly chunks: readonly ChunkShape[];
  readonly chunkSizes: Int32Array;
  readonly stopReason: number;
}

/** The written frame: every byte but the chunks' data is final. */
export interface ReplyFrame {
  readonly bytes: Uint8Array;
  /** Where chunk i's `dataLength` bytes go in `bytes`. */
  readonly dataOffsets: Int32Array;
}

const TWO32 = 0x1_0000_0000;
const U64_MAX = (1n << 64n) - 1n;
const WIRE_VARINT = 0;
const WIRE_LEN = 2;

function tag(schema: DescMessage, field: string, wire: number): Uint8Array {
  const f = schema.field[field];
  if (f === undefined) throw new Error(`${schema.typeName} has no field ${field}`);
  return varintBytes((f.number << 3) | wire);
}

function varintBytes(n: number): Uint8Array {
  const out = new Uint8Array(varintSize(n));
  writeVarint(out, 0, n);
  return out;
}

const T = {
  id: tag(ResponseSchema, "id", WIRE_VARINT),
  status: tag(ResponseSchema, "status", WIRE_VARINT),
  detail: tag(ResponseSchema, "detail", WIRE_LEN),
  read: tag(ResponseSchema, "read", WIRE_LEN),
  gather: tag(ResponseSchema, "gatherList", WIRE_LEN),
  readChunks: tag(ReadResponseSchema, "chunks", WIRE_LEN),
  gNodes: tag(GatherListResponseSchema, "nodes", WIRE_LEN),
  gChunks: tag(GatherListResponseSchema, "chunks", WIRE_LEN),
  gStop: tag(GatherListResponseSchema, "stopReason", WIRE_VARINT),
  cStatus: tag(ChunkSchema, "status", WIRE_VARINT),
  cData: tag(ChunkSchema, "data", WIRE_LEN),
  cFault: tag(ChunkSchema, "faultAddr", WIRE_VARINT),
  cFrames: tag(ChunkSchema, "frames", WIRE_LEN),
};

/** Varint length of a non-negative safe integer. */
export function varintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < TWO32) return Math.ceil((32 - Math.clz32(n)) / 7);
  let len = 5;
  let v = Math.floor(n / 2 ** 35);
  while (v > 0) {
    len++;
    v = Math.floor(v / 128);
  }
  return len;
}

/** Varint length of a uint64. */
export function varintSize64(v: bigint): number {
  if (v < 0x80n) return 1;
  if (v < 0x1_0000_0000n) return varintSize(Number(v));
  const hi = Number(v >> 32n);
  return Math.ceil((64 - Math.clz32(hi)) / 7);
}

/** Varint length of an int32 (enum) value: negative values are sign-extended to 10 bytes. */
function int32Size(n: number): number {
  return n < 0 ? 10 : varintSize(n);
}

function writeVarint(b: Uint8Array, at: number, n: number): number {
  let v = n;
  while (v >= 0x80) {
    b[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  b[at++] = v;
  return at;
}

function writeVarint64(b: Uint8Array, at: number, v: bigint): number {
  if (v < 0x1_0000_0000n) return writeVarint(b, at, Number(v));
  let lo = Number(v & 0xffff_ffffn);
  let hi = Number(v >> 32n);
  while (hi > 0 || lo > 0x7f) {
    b[at++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  b[at++] = lo;
  return at;
}

function writeInt32(b: Uint8Array, at: number, n: number): number {
  return n < 0 ? writeVarint64(b, at, BigInt.asUintN(64, BigInt(n))) : writeVarint(b, at, n);
}

function put(b: Uint8Array, at: number, t: Uint8Array): number {
  for (let i = 0; i < t.length; i++) b[at + i] = t[i]!;
  return at + t.length;
}

function checkU64(v: bigint, what: string): void {
  if (v < 0n || v > U64_MAX) throw new RangeError(`${what} ${v} is not a uint64`);
}

function framesSize(frames: readonly bigint[]): number {
  let n = 0;
  for (const f of frames) {
    checkU64(f, "frame");
    n += varintSize64(f);
  }
  return n;
}

/** Bytes of a Chunk message (without its tag and length). */
export function chunkMessageSize(c: ChunkShape): number {
  if (!Number.isSafeInteger(c.dataLength) || c.dataLength < 0) throw new RangeError(`bad chunk data length ${c.dataLength}`);
  checkU64(c.faultAddr, "fault address");
  let n = 0;
  if (c.status !== 0) n += T.cStatus.length + int32Size(c.status);
  if (c.dataLength > 0) n += T.cData.length + varintSize(c.dataLength) + c.dataLength;
  if (c.faultAddr !== 0n) n += T.cFault.length + varintSize64(c.faultAddr);
  if (c.frames.length > 0) {
    const f = framesSize(c.frames);
    n += T.cFrames.length + varintSize(f) + f;
  }
  return n;
}

function chunkList(chunks: readonly ChunkShape[], tagLen: number): { size: number; sizes: Int32Array } {
  const sizes = new Int32Array(chunks.length);
  let size = 0;
  for (let i = 0; i < chunks.length; i++) {
    const s = chunkMessageSize(chunks[i]!);
    sizes[i] = s;
    size += tagLen + varintSize(s) + s;
  }
  return { size, sizes };
}

function headSize(h: ReplyHead): { size: number; detail: Uint8Array } {
  checkU64(h.id, "id");
  const detail = h.detail.length > 0 ? new TextEncoder().encode(h.detail) : new Uint8Array(0);
  let n = 0;
  if (h.id !== 0n) n += T.id.length + varintSize64(h.id);
  if (h.status !== 0) n += T.status.length + int32Size(h.status);
  if (detail.length > 0) n += T.detail.length + varintSize(detail.length) + detail.length;
  return { size: n, detail };
}

function finishPlan(head: ReplyHead, bodyTag: Uint8Array, body: ReadBody | GatherBody): ReplyPlan {
  const h = headSize(head);
  const messageBytes = h.size + bodyTag.length + varintSize(body.size) + body.size;
  return { frameBytes: varintSize(messageBytes) + messageBytes, messageBytes, head, body };
}

/** Sizes of `Response{id, status, detail, read: ReadResponse{chunks}}`. */
export function planReadReply(head: ReplyHead, chunks: readonly ChunkShape[]): ReplyPlan {
  const c = chunkList(chunks, T.readChunks.length);
  return finishPlan(head, T.read, { kind: "read", size: c.size, chunks, chunkSizes: c.sizes });
}

/** Sizes of `Response{id, status, detail, gather_list: GatherListResponse{nodes, chunks, stop_reason}}`. */
export function planGatherListReply(head: ReplyHead, nodes: readonly bigint[], chunks: readonly ChunkShape[], stopReason: number): ReplyPlan {
  const nodesSize = framesSize(nodes);
  const c = chunkList(chunks, T.gChunks.length);
  let size = c.size;
  if (nodes.length > 0) size += T.gNodes.length + varintSize(nodesSize) + nodesSize;
  if (stopReason !== 0) size += T.gStop.length + int32Size(stopReason);
  return finishPlan(head, T.gather, { kind: "gather", size, nodes, nodesSize, chunks, chunkSizes: c.sizes, stopReason });
}

/** Bytes a node adds to a GatherListResponse at most, beyond its chunk's message. */
export const GATHER_NODE_OVERHEAD = 10 + 1 + 5;

function writeChunks(b: Uint8Array, at: number, chunkTag: Uint8Array, chunks: readonly ChunkShape[], sizes: Int32Array, offsets: Int32Array): number {
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i]!;
    at = put(b, at, chunkTag);
    at = writeVarint(b, at, sizes[i]!);
    if (c.status !== 0) at = writeInt32(b, put(b, at, T.cStatus), c.status);
    offsets[i] = at;
    if (c.dataLength > 0) {
      at = writeVarint(b, put(b, at, T.cData), c.dataLength);
      offsets[i] = at;
      at += c.dataLength;
    }
    if (c.faultAddr !== 0n) at = writeVarint64(b, put(b, at, T.cFault), c.faultAddr);
    if (c.frames.length > 0) {
      at = put(b, at, T.cFrames);
      let n = 0;
      for (const f of c.frames) n += varintSize64(f);
      at = writeVarint(b, at, n);
      for (const f of c.frames) at = writeVarint64(b, at, f);
    }
  }
  return at;
}

/**
 * Allocates the frame and writes everything but the chunks' data, whose regions are
 * left zeroed for the caller to fill at `dataOffsets`.
 */
export function writeReplyFrame(plan: ReplyPlan): ReplyFrame {
  const b = new Uint8Array(plan.frameBytes);
  const body = plan.body;
  const offsets = new Int32Array(body.chunks.length);
  let at = writeVarint(b, 0, plan.messageBytes);
  const h = plan.head;
  const { detail } = headSize(h);
  if (h.id !== 0n) at = writeVarint64(b, put(b, at, T.id), h.id);
  if (h.status !== 0) at = writeInt32(b, put(b, at, T.status), h.status);
  if (detail.length > 0) {
    at = writeVarint(b, put(b, at, T.detail), detail.length);
    b.set(detail, at);
    at += detail.length;
  }
  at = writeVarint(b, put(b, at, body.kind === "read" ? T.read : T.gather), body.size);
  if (body.kind === "read") {
    at = writeChunks(b, at, T.readChunks, body.chunks, body.chunkSizes, offsets);
  } else {
    if (body.nodes.length > 0) {
      at = writeVarint(b, put(b, at, T.gNodes), body.nodesSize);
      for (const n of body.nodes) at = writeVarint64(b, at, n);
    }
    at = writeChunks(b, at, T.gChunks, body.chunks, body.chunkSizes, offsets);
    if (body.stopReason !== 0) at = writeInt32(b, put(b, at, T.gStop), body.stopReason);
  }
  if (at !== b.length) throw new Error(`reply frame: wrote ${at} of ${b.length} bytes`);
  return { bytes: b, dataOffsets: offsets };
}

/** A chunk with its data in hand (tests, and replies whose data is already read). */
export interface ChunkWithData {
  readonly status: number;
  readonly data: Uint8Array;
  readonly faultAddr: bigint;
  readonly frames: readonly bigint[];
}

function shapes(chunks: readonly ChunkWithData[]): ChunkShape[] {
  return chunks.map((c) => ({ status: c.status, dataLength: c.data.length, faultAddr: c.faultAddr, frames: c.frames }));
}

function fill(f: ReplyFrame, chunks: readonly ChunkWithData[]): Uint8Array {
  chunks.forEach((c, i) => f.bytes.set(c.data, f.dataOffsets[i]!));
  return f.bytes;
}

/** The frame of a ReadResponse reply whose data is in hand (each chunk's data copied once). */
export function encodeReadReplyFrame(head: ReplyHead, chunks: readonly ChunkWithData[]): Uint8Array {
  return fill(writeReplyFrame(planReadReply(head, shapes(chunks))), chunks);
}

/** The frame of a GatherListResponse reply whose data is in hand. */
export function encodeGatherListReplyFrame(head: ReplyHead, nodes: readonly bigint[], chunks: readonly ChunkWithData[], stopReason: number): Uint8Array {
  return fill(writeReplyFrame(planGatherListReply(head, nodes, shapes(chunks), stopReason)), chunks);
}

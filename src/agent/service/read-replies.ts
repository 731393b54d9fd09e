/**
 * Replies that carry guest memory (ReadResponse, GatherListResponse), framed with one
 * copy of the data: the planned reads fix every size, so the frame is allocated once
 * (shared/protocol reply-frames.ts: prefix, Response header and chunk headers written
 * once) and each chunk's bytes are read from the platform straight into their place.
 *
 * Frames (Chunk.frames) are an aid to the client's cache: a reply that would exceed the
 * frame limit with them is sent without them (as an agent from before frames would);
 * only a reply too large even then is refused (TOO_LARGE).
 *
 * If the platform refuses a page after planning (the only thing that can change a
 * chunk's shape), the half-filled frame is dropped and the reads are settled one by one
 * (memory.ts `settle`: UNAVAILABLE from the refused page on), then framed again.
 */
import { encodeGatherListReplyFrame, encodeReadReplyFrame, planGatherListReply, planReadReply, writeReplyFrame } from "../../shared/protocol/index.js";
import type { ChunkShape, ChunkWithData, ReplyHead, ReplyPlan } from "../../shared/protocol/index.js";
import { BackendAccessError, Status } from "../errors.js";
import type { MemoryOps, ReadPlan } from "./memory.js";

export type MemoryReply =
  | { readonly kind: "read"; readonly reads: readonly ReadPlan[] }
  | { readonly kind: "gather"; readonly nodes: readonly bigint[]; readonly reads: readonly ReadPlan[]; readonly stop: number };

const NO_FRAMES: readonly bigint[] = [];

function shape(p: ReadPlan, frames: boolean): ChunkShape {
  return frames ? p : { status: p.status, dataLength: p.dataLength, faultAddr: p.faultAddr, frames: NO_FRAMES };
}

function plan(head: ReplyHead, r: MemoryReply, frames: boolean): ReplyPlan {
  const shapes = r.reads.map((p) => shape(p, frames));
  return r.kind === "read" ? planReadReply(head, shapes) : planGatherListReply(head, r.nodes, shapes, r.stop);
}

/**
 * The reply frame for request `id`, or undefined when even without frames the message
 * would exceed `maxFrameBytes`.
 */
export function memoryReplyFrame(mem: MemoryOps, id: bigint, r: MemoryReply, maxFrameBytes: number): Uint8Array | undefined {
  const head: ReplyHead = { id, status: Status.OK, detail: "" };
  let frames = true;
  let p = plan(head, r, true);
  if (p.messageBytes > maxFrameBytes) {
    frames = false;
    p = plan(head, r, false);
    if (p.messageBytes > maxFrameBytes) return undefined;
  }
  const f = writeReplyFrame(p);
  try {
    r.reads.forEach((read, i) => mem.fill(read, f.bytes, f.dataOffsets[i]!));
    return f.bytes;
  } catch (e) {
    if (!(e instanceof BackendAccessError)) throw e;
  }
  const chunks: ChunkWithData[] = r.reads.map((read) => {
    const c = mem.settle(read);
    return frames ? c : { ...c, frames: NO_FRAMES };
  });
  return r.kind === "read" ? encodeReadReplyFrame(head, chunks) : encodeGatherListReplyFrame(head, r.nodes, chunks, r.stop);
}

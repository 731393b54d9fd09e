/**
 * GatherList (seven.proto `GatherListRequest`): pointer chasing in the agent, with no
 * knowledge of what the nodes are. From the 8-byte pointer stored at `head`, follow the
 * pointer at `node + next_offset` until it equals `stop` (REACHED), is zero (NULL),
 * repeats a visited node (CYCLE), cannot be read (FAULT), or the node budget is spent
 * (MAX_NODES); those checks apply in that order to every pointer, the first one included
 * (so `max_nodes` = 0 visits nothing). For each visited node, `read_len` bytes at
 * `node + read_offset` (64-bit wrap-around; the offset may be negative) are planned as a
 * virtual read through the request's page tables — a node whose bytes cannot be read
 * still counts, its chunk says why. Next pointers are read as the walk goes; the nodes'
 * bytes are copied afterwards, straight into the reply (read-replies.ts).
 *
 * Limits: `read_len` above maxRangeBytes is refused (TOO_LARGE). The node budget is not
 * an error: it is the smallest of `max_nodes`, maxBatchEntries, ⌊maxBatchBytes /
 * read_len⌋ and what fits in one reply frame (maxFrameBytes); a walk cut by the agent's
 * limits ends with MAX_NODES like one cut by `max_nodes`, and the client goes on from the
 * last node's next pointer.
 */
import { readU64 } from "../../shared/base/index.js";
import { chunkMessageSize, GATHER_NODE_OVERHEAD, v1 } from "../../shared/protocol/index.js";
import type { AgentLimits } from "../config.js";
import { BackendAccessError, RequestError, Status } from "../errors.js";
import type { MemoryOps, ReadPlan, Translate } from "./memory.js";

export interface GatherSpec {
  readonly head: bigint;
  readonly nextOffset: bigint;
  readonly stop: bigint;
  readonly maxNodes: number;
  readonly readOffset: bigint;
  readonly readLen: number;
}

export interface GatherResult {
  /** The visited nodes (pointer values), in order. */
  readonly nodes: bigint[];
  /** One planned read per node. */
  readonly reads: ReadPlan[];
  readonly stop: v1.GatherStop;
}

/** Bytes of a reply frame left for the Response header, the nodes' field header and the stop reason. */
export const GATHER_REPLY_RESERVE = 128;

/** The node budget of one walk under the agent's limits (before the frame size). */
export function gatherNodeCap(limits: AgentLimits, maxNodes: number, readLen: number): number {
  const byBytes = readLen > 0 ? Math.floor(limits.maxBatchBytes / readLen) : Number.MAX_SAFE_INTEGER;
  return Math.max(0, Math.min(maxNodes, limits.maxBatchEntries, byBytes));
}

export function gatherList(mem: MemoryOps, tr: Translate, spec: GatherSpec, limits: AgentLimits): GatherResult {
  if (spec.readLen > limits.maxRangeBytes) {
    throw new RequestError(Status.TOO_LARGE, `a node read of ${spec.readLen} bytes exceeds the limit of ${limits.maxRangeBytes}`, { readLen: spec.readLen, limit: limits.maxRangeBytes });
  }
  const cap = gatherNodeCap(limits, spec.maxNodes, spec.readLen);
  let budget = limits.maxFrameBytes - GATHER_REPLY_RESERVE;
  const scratch = new Uint8Array(8);
  const pointerAt = (at: bigint): bigint | undefined => {
    const p = mem.planVirt(tr, BigInt.asUintN(64, at), 8);
    if (p.status !== Status.OK) return undefined;
    try {
      mem.fill(p, scratch, 0);
    } catch (e) {
      if (e instanceof BackendAccessError) return undefined;
      throw e;
    }
    return readU64(scratch, 0);
  };
  const nodes: bigint[] = [];
  const reads: ReadPlan[] = [];
  const seen = new Set<bigint>();
  let p = pointerAt(spec.head);
  for (;;) {
    if (p === undefined) return { nodes, reads, stop: v1.GatherStop.FAULT };
    if (p === spec.stop) return { nodes, reads, stop: v1.GatherStop.REACHED };
    if (p === 0n) return { nodes, reads, stop: v1.GatherStop.NULL };
    if (seen.has(p)) return { nodes, reads, stop: v1.GatherStop.CYCLE };
    if (nodes.length >= cap) return { nodes, reads, stop: v1.GatherStop.MAX_NODES };
    const read = mem.planVirt(tr, BigInt.asUintN(64, p + spec.readOffset), spec.readLen);
    const cost = GATHER_NODE_OVERHEAD + chunkMessageSize(read);
    if (cost > budget) return { nodes, reads, stop: v1.GatherStop.MAX_NODES };
    budget -= cost;
    seen.add(p);
    nodes.push(p);
    reads.push(read);
    p = pointerAt(p + spec.nextOffset);
  }
}

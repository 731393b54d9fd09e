/**
 * GatherList over protocol v1 (seven.proto `GatherListRequest`): pointer chasing in the
 * agent, one request per list — or a few, when the agent's limits cap how many nodes one
 * reply may carry (frame size, batch bytes and entries). The walk then continues from the
 * last node's next pointer, and a node seen in an earlier request ends it as a cycle, as
 * the agent would within one request. An agent that predates GatherList answers
 * INVALID_ARGUMENT (an operation it cannot decode) or UNIMPLEMENTED: both become
 * `UNSUPPORTED`, so the caller walks the list itself.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { v1 } from "../../shared/protocol/index.js";
import { VmiError, badArgument, unsupported, type GatherListResult, type GatherListSpec, type GatherStop, type ReadResult } from "../vmi/index.js";
import { ENTRY_OVERHEAD, FRAME_OVERHEAD, type AgentLimits } from "./batching.js";
import { statusError } from "./status.js";

/** Room per node in a reply beyond its bytes: the node's varint and the chunk's header. */
const NODE_OVERHEAD = ENTRY_OVERHEAD + 12;

export interface GatherTransport {
  readonly driver: string;
  readonly limits: AgentLimits;
  readonly levels: number;
  /** Sends one GatherListRequest; resolves with the reply whatever its status. */
  call(value: MessageInitShape<typeof v1.GatherListRequestSchema>): Promise<v1.Response>;
  /** Ends the session for a reply that breaks the protocol; returns what to throw. */
  protocolError(message: string): Error;
}

const STOPS: Partial<Record<v1.GatherStop, GatherStop>> = {
  [v1.GatherStop.REACHED]: "reached",
  [v1.GatherStop.NULL]: "null",
  [v1.GatherStop.CYCLE]: "cycle",
  [v1.GatherStop.MAX_NODES]: "max-nodes",
  [v1.GatherStop.FAULT]: "fault",
};

/** Nodes one reply can carry under the agent's limits. */
export function gatherNodesPerRequest(l: AgentLimits, readLen: number): number {
  const byFrame = Math.floor((l.maxFrameBytes - FRAME_OVERHEAD) / (readLen + NODE_OVERHEAD));
  const byBytes = readLen > 0 ? Math.floor(l.maxBatchBytes / readLen) : Number.MAX_SAFE_INTEGER;
  return Math.max(1, Math.min(l.maxBatchEntries, byFrame, byBytes));
}

export async function gatherList(spec: GatherListSpec, t: GatherTransport): Promise<GatherListResult> {
  const l = t.limits;
  if (!Number.isSafeInteger(spec.readLen) || spec.readLen < 0 || spec.readLen > Math.min(l.maxRangeBytes, l.maxBatchBytes)) {
    throw badArgument("readLen", `gatherList: ${spec.readLen} bytes per node is over the agent's limits`, { readLen: spec.readLen, maxRangeBytes: l.maxRangeBytes });
  }
  if (!Number.isSafeInteger(spec.maxNodes) || spec.maxNodes < 0) throw badArgument("maxNodes", `gatherList: bad maxNodes ${spec.maxNodes}`);
  let perRequest = gatherNodesPerRequest(l, spec.readLen);
  const nodes: bigint[] = [];
  const reads: ReadResult[] = [];
  const seen = new Set<bigint>();
  let head = spec.head;
  for (;;) {
    const want = Math.min(perRequest, spec.maxNodes - nodes.length);
    if (want <= 0) return { nodes, reads, stop: "max-nodes" };
    const r = await t.call({
      dtb: spec.dtb,
      pagingLevels: t.levels,
      head,
      nextOffset: BigInt(spec.nextOffset),
      stop: spec.stop,
      maxNodes: want,
      readOffset: BigInt(spec.readOffset),
      readLen: spec.readLen,
    });
    if (r.status === v1.Status.TOO_LARGE && perRequest > 1) {
      perRequest = Math.max(1, Math.floor(perRequest / 2));
      continue;
    }
    if (r.status === v1.Status.UNIMPLEMENTED || r.status === v1.Status.INVALID_ARGUMENT) {
      const e = unsupported(t.driver, "gatherList");
      throw new VmiError("UNSUPPORTED", `${e.message} (the agent answered ${v1.Status[r.status]})`, { ...e.details, agentDetail: r.detail });
    }
    if (r.status !== v1.Status.OK) throw statusError(r.status, { driver: t.driver, op: "gatherList", addr: head, layer: "virtual", dtb: spec.dtb, detail: r.detail });
    const rep = r.body.value as v1.GatherListResponse;
    const stop = STOPS[rep.stopReason];
    if (rep.chunks.length !== rep.nodes.length || rep.nodes.length > want || stop === undefined) {
      throw t.protocolError(`gatherList: ${rep.nodes.length} nodes, ${rep.chunks.length} chunks for at most ${want} nodes, stop reason ${rep.stopReason}`);
    }
    for (let i = 0; i < rep.nodes.length; i++) {
      const node = rep.nodes[i]!;
      // A node an earlier request visited: the list loops (the agent sees one request only).
      if (seen.has(node)) return { nodes, reads, stop: "cycle" };
      seen.add(node);
      const c = rep.chunks[i]!;
      nodes.push(node);
      if (c.status !== v1.Status.OK) {
        const at = BigInt.asUintN(64, node + BigInt(spec.readOffset));
        reads.push(statusError(c.status, { driver: t.driver, op: "gatherList", addr: at, faultAddr: c.faultAddr, layer: "virtual", dtb: spec.dtb }));
      } else if (c.data.length !== spec.readLen) {
        throw t.protocolError(`gatherList: ${c.data.length} bytes for a ${spec.readLen}-byte node read`);
      } else reads.push(c.data);
    }
    // The agent stopped at its own cap: go on from the last node's next pointer.
    if (stop === "max-nodes" && rep.nodes.length > 0 && nodes.length < spec.maxNodes) {
      head = BigInt.asUintN(64, nodes[nodes.length - 1]! + BigInt(spec.nextOffset));
      continue;
    }
    return { nodes, reads, stop };
  }
}

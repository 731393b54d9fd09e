import { test } from "node:test";
import assert from "node:assert/strict";
import { chunkMessageSize, GATHER_NODE_OVERHEAD, v1 } from "../../shared/protocol/index.js";
import { GATHER_REPLY_RESERVE, gatherList } from "./gather.js";
import { serviceRig, V1Client } from "../testing/harness.js";
import { TestPageTables } from "../testing/page-tables.js";

const S = v1.Status;
const G = v1.GatherStop;
const BASE = 0xffff_8880_0000_0000n;

/** A rig with 8 virtual pages at BASE mapped to physical pages 0x200000.. (page 5 left unmapped). */
function rig(p: Parameters<typeof serviceRig>[0] = {}) {
  const r = serviceRig(p);
  const pt = new TestPageTables(r.m, 0x100000n);
  for (let i = 0n; i < 8n; i++) if (i !== 5n) pt.map4k(BASE + i * 0x1000n, 0x200000n + i * 0x3000n);
  const phys = (va: bigint) => 0x200000n + ((va - BASE) >> 12n) * 0x3000n + (va & 0xfffn);
  const put64 = (va: bigint, v: bigint) => r.m.poke64(phys(va), v);
  const gather = (q: { head?: bigint; nextOffset?: bigint; stop?: bigint; maxNodes?: number; readOffset?: bigint; readLen?: number; pagingLevels?: number }) =>
    new V1Client(r.core).call({ case: "gatherList", value: { dtb: pt.root, maxNodes: 100, ...q } });
  return { ...r, pt, phys, put64, gather };
}

function body(r: v1.Response): v1.GatherListResponse {
  assert.equal(r.status, S.OK, r.detail);
  assert.equal(r.body.case, "gatherList");
  return r.body.value as v1.GatherListResponse;
}

test("a circular list_head list embedded in larger structures: nodes in order, REACHED at the head, each structure read at a negative offset", () => {
  const { m, put64, phys, gather } = rig();
  // struct { u64 tag; list_head list (at +0x10); } at A, B, C; the head is a bare list_head at H.
  const H = BASE + 0x40n;
  const A = BASE + 0x1100n, B = BASE + 0x3200n, C = BASE + 0x2300n;
  put64(H, A + 0x10n);
  put64(A + 0x10n, B + 0x10n);
  put64(B + 0x10n, C + 0x10n);
  put64(C + 0x10n, H);
  for (const [s, t] of [[A, 0xaan], [B, 0xbbn], [C, 0xccn]] as const) put64(s, t);
  const g = body(gather({ head: H, nextOffset: 0n, stop: H, readOffset: -0x10n, readLen: 0x18 }));
  assert.deepEqual(g.nodes, [A + 0x10n, B + 0x10n, C + 0x10n]);
  assert.equal(g.stopReason, G.REACHED);
  assert.deepEqual(g.chunks.map((c) => c.data[0]), [0xaa, 0xbb, 0xcc]);
  assert.deepEqual(g.chunks.map((c) => c.frames), [[phys(A) >> 12n], [phys(B) >> 12n], [phys(C) >> 12n]]);
  assert.ok(g.chunks.every((c) => c.status === S.OK && c.data.length === 0x18));
  assert.deepEqual(m.peek(phys(B), 0x18), g.chunks[1]!.data);
});

test("NULL-terminated, a cycle that avoids the stop value, a node read that faults (the walk goes on), and next pointers that fault", () => {
  const { put64, gather } = rig();
  const N = [BASE + 0x100n, BASE + 0x1200n, BASE + 0x2300n];
  put64(BASE, N[0]!);
  put64(N[0]!, N[1]!);
  put64(N[1]!, N[2]!);
  put64(N[2]!, 0n);
  const nul = body(gather({ head: BASE, stop: BASE, readLen: 8 }));
  assert.deepEqual(nul.nodes, N);
  assert.equal(nul.stopReason, G.NULL);
  // stop = 0 turns the NULL into REACHED (the stop value is checked first).
  assert.equal(body(gather({ head: BASE, stop: 0n, readLen: 8 })).stopReason, G.REACHED);
  put64(N[2]!, N[1]!);
  const cyc = body(gather({ head: BASE, stop: BASE, readLen: 8 }));
  assert.deepEqual(cyc.nodes, N);
  assert.equal(cyc.stopReason, G.CYCLE);
  // The node's bytes lie on the unmapped page 5: its chunk says PAGE_FAULT, the walk goes on.
  const far = body(gather({ head: BASE, stop: BASE, readOffset: 0x4000n, readLen: 16 }));
  assert.deepEqual(far.nodes, N);
  assert.deepEqual(far.chunks.map((c) => c.status), [S.OK, S.PAGE_FAULT, S.OK]);
  assert.equal(far.chunks[1]!.faultAddr, BASE + 0x5200n);
  assert.equal(far.chunks[1]!.data.length, 0);
  // A read that runs into page 5 keeps the bytes and the frame before it.
  const edge = body(gather({ head: BASE, stop: BASE, readOffset: 0x3d00n, readLen: 0x200 }));
  assert.equal(edge.chunks[1]!.status, S.PAGE_FAULT);
  assert.equal(edge.chunks[1]!.data.length, 0x100);
  assert.equal(edge.chunks[1]!.frames.length, 1);
  // A next pointer into page 5: FAULT after that node; a head on page 5: FAULT with no node.
  put64(N[1]!, BASE + 0x5008n);
  const f = body(gather({ head: BASE, stop: BASE, readLen: 8 }));
  assert.deepEqual(f.nodes, [N[0], N[1], BASE + 0x5008n]);
  assert.equal(f.stopReason, G.FAULT);
  const f0 = body(gather({ head: BASE + 0x5000n, readLen: 8 }));
  assert.deepEqual(f0.nodes, []);
  assert.equal(f0.stopReason, G.FAULT);
  // A pointer outside every mapping (non-canonical garbage): FAULT too.
  put64(N[0]!, 0x1234_5678_9abc_def0n);
  assert.equal(body(gather({ head: BASE, stop: BASE, readLen: 0 })).stopReason, G.FAULT);
});

test("max_nodes, and the agent's own caps: a truncated walk ends with MAX_NODES, never an error; read_len over the range limit is TOO_LARGE", () => {
  const { put64, gather } = rig({ limits: { maxBatchEntries: 4, maxBatchBytes: 8192, maxRangeBytes: 4096 } });
  // A 10-node ring (no stop value in it).
  const nodes = Array.from({ length: 10 }, (_, i) => BASE + BigInt(i) * 0x80n);
  nodes.forEach((n, i) => put64(n + 8n, nodes[(i + 1) % nodes.length]!));
  put64(BASE + 0x7000n, nodes[0]!);
  const head = BASE + 0x7000n;
  const two = body(gather({ head, nextOffset: 8n, maxNodes: 2, readLen: 16 }));
  assert.deepEqual(two.nodes, nodes.slice(0, 2));
  assert.equal(two.stopReason, G.MAX_NODES);
  const zero = body(gather({ head, nextOffset: 8n, maxNodes: 0, readLen: 16 }));
  assert.deepEqual(zero.nodes, []);
  assert.equal(zero.stopReason, G.MAX_NODES);
  // maxBatchEntries = 4 caps the walk.
  const byEntries = body(gather({ head, nextOffset: 8n, maxNodes: 1000, readLen: 16 }));
  assert.deepEqual(byEntries.nodes, nodes.slice(0, 4));
  assert.equal(byEntries.stopReason, G.MAX_NODES);
  // maxBatchBytes = 8192 with 3000-byte reads caps it at 2.
  const byBytes = body(gather({ head, nextOffset: 8n, maxNodes: 1000, readLen: 3000 }));
  assert.equal(byBytes.nodes.length, 2);
  assert.equal(byBytes.stopReason, G.MAX_NODES);
  // The client goes on from the last node's next pointer and finds the cycle's end itself.
  const more = body(gather({ head: byEntries.nodes[3]! + 8n, nextOffset: 8n, maxNodes: 4, readLen: 0 }));
  assert.deepEqual(more.nodes, nodes.slice(4, 8));
  assert.equal(gather({ head, nextOffset: 8n, readLen: 4097 }).status, S.TOO_LARGE);
  assert.equal(gather({ head, nextOffset: 8n, readLen: 8, pagingLevels: 3 }).status, S.INVALID_ARGUMENT);
});

test("a walk is bounded by the reply frame too, and never reads the agent's region", () => {
  const { m, core, pt, put64, gather } = rig({ limits: { maxBatchBytes: 32 << 10, maxRangeBytes: 4096, maxBatchEntries: 1024 } });
  // A self-contained ring of 512 nodes, 8 bytes apart: 512 × 64 bytes fit the batch limit exactly.
  const nodes = Array.from({ length: 512 }, (_, i) => BASE + 0x6000n + BigInt(i) * 8n);
  nodes.forEach((n, i) => put64(n, nodes[(i + 1) % nodes.length]!));
  const g = body(gather({ head: nodes[511]!, maxNodes: 1000, readLen: 64, stop: 1n }));
  assert.equal(g.nodes.length, 512);
  assert.equal(g.stopReason, G.CYCLE);
  // With a frame limit below what 512 nodes need (limits no measured configuration allows), the frame decides.
  const tr = core.memory.translator(pt.root, 4);
  const small = gatherList(core.memory, tr, { head: nodes[511]!, nextOffset: 0n, stop: 1n, maxNodes: 1000, readOffset: 0n, readLen: 64 }, { ...core.limits, maxFrameBytes: 8192 });
  assert.equal(small.stop, G.MAX_NODES);
  assert.ok(small.nodes.length > 50 && small.nodes.length < 100, `${small.nodes.length} nodes`);
  const sizes = small.reads.reduce((n, r) => n + GATHER_NODE_OVERHEAD + chunkMessageSize(r), 0);
  assert.ok(sizes <= 8192 - GATHER_REPLY_RESERVE);
  // Reads the agent's region through a mapping: OUT_OF_RANGE chunks, FAULT for next pointers.
  pt.map4k(BASE + 0x9000n, m.layout.secrets);
  put64(BASE, BASE + 0x9000n);
  const reads = m.ops.reads;
  const a = body(gather({ head: BASE, readLen: 8 }));
  assert.deepEqual(a.nodes, [BASE + 0x9000n]);
  assert.equal(a.chunks[0]!.status, S.OUT_OF_RANGE);
  assert.equal(a.stopReason, G.FAULT);
  assert.ok(m.ops.reads - reads < 16, "only page-table entries and the head were read");
});

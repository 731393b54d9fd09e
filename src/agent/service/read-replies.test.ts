import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { decodeMessage, decodeVarint, encodeMessageFrame, v1 } from "../../shared/protocol/index.js";
import { serviceRig, V1Client } from "../testing/harness.js";
import { TestPageTables } from "../testing/page-tables.js";
import { memoryReplyFrame } from "./read-replies.js";

const S = v1.Status;
const K = 0xffff_8000_0000_0000n;

function rig(p: Parameters<typeof serviceRig>[0] = {}) {
  const r = serviceRig(p);
  const c = new V1Client(r.core);
  const pt = new TestPageTables(r.m, 0x100000n);
  return { ...r, c, pt };
}

/** The raw frame of the last reply, and that reply re-encoded by protobuf-es. */
function lastFrame(c: V1Client): { raw: Uint8Array; reencoded: Uint8Array; reply: v1.Response } {
  const raw = c.io.frames.at(-1)!;
  const reply = decodeMessage(v1.ResponseSchema, raw.subarray(decodeVarint(raw)!.length));
  return { raw, reencoded: encodeMessageFrame(v1.ResponseSchema, reply), reply };
}

function send(c: V1Client, op: Parameters<V1Client["call"]>[0]): { raw: Uint8Array; reencoded: Uint8Array; reply: v1.Response } {
  c.sendRaw(encodeMessageFrame(v1.RequestSchema, create(v1.RequestSchema, { id: 9n, op })));
  return lastFrame(c);
}

test("virtual reads name the frame behind every 4 KiB page they read, in order (4 KiB and 2 MiB mappings, partial reads)", () => {
  const { m, c, pt } = rig();
  pt.map4k(K + 0x1000n, 0x300000n);
  pt.map4k(K + 0x2000n, 0x2f0000n);
  pt.map2m(K + 0x20_0000n, 0x400000n);
  m.poke(0x300ff0n, Uint8Array.of(1, 2, 3));
  const { raw, reencoded, reply } = send(c, {
    case: "readVirt",
    value: {
      dtb: pt.root,
      ranges: [
        { addr: K + 0x1ff0n, len: 0x20 },
        { addr: K + 0x20_0800n, len: 0x2000 },
        { addr: K + 0x2ff8n, len: 0x10 },
        { addr: K + 0x5000n, len: 4 },
        { addr: K + 0x1000n, len: 0 },
      ],
    },
  });
  assert.deepEqual(raw, reencoded, "byte for byte what protobuf-es encodes");
  const ch = (reply.body.value as v1.ReadResponse).chunks;
  assert.deepEqual(ch[0]!.frames, [0x300n, 0x2f0n]);
  assert.deepEqual([...ch[0]!.data.subarray(0, 3)], [1, 2, 3]);
  // Inside a 2 MiB page each 4 KiB page has its own frame.
  assert.deepEqual(ch[1]!.frames, [0x400n, 0x401n, 0x402n]);
  // Stops at the unmapped page: the frame of the page it read, PAGE_FAULT at the next.
  assert.equal(ch[2]!.status, S.PAGE_FAULT);
  assert.equal(ch[2]!.faultAddr, K + 0x3000n);
  assert.equal(ch[2]!.data.length, 8);
  assert.deepEqual(ch[2]!.frames, [0x2f0n]);
  assert.deepEqual(ch[3]!.frames, []);
  assert.deepEqual(ch[4]!.frames, []);
  // Physical reads name no frames.
  const p = send(c, { case: "readPhys", value: { ranges: [{ addr: 0x300000n, len: 8192 }] } });
  assert.deepEqual(p.raw, p.reencoded);
  assert.deepEqual((p.reply.body.value as v1.ReadResponse).chunks[0]!.frames, []);
});

test("guest memory goes to the platform once per contiguous run, straight into the reply", () => {
  const { m, c, pt } = rig();
  for (let i = 0n; i < 256n; i++) pt.map4k(K + i * 0x1000n, 0x400000n + i * 0x1000n);
  m.poke(0x400000n, new Uint8Array(1 << 20).fill(0x5a));
  const before = m.ops.reads;
  const { raw, reencoded, reply } = send(c, { case: "readPhys", value: { ranges: [{ addr: 0x400000n, len: 1 << 20 }] } });
  assert.equal(m.ops.reads - before, 1, "one platform read for 1 MiB of private pages");
  assert.deepEqual(raw, reencoded);
  assert.ok((reply.body.value as v1.ReadResponse).chunks[0]!.data.every((b) => b === 0x5a));
  // Virtually: the page walk's entry reads, then one read for the physically contiguous run.
  const walked = m.ops.reads;
  const v = send(c, { case: "readVirt", value: { dtb: pt.root, ranges: [{ addr: K, len: 1 << 20 }] } });
  const entryReads = 4 + 255; // the first walk reads four levels, every other page only its PTE
  assert.ok(m.ops.reads - walked <= entryReads + 1, `${m.ops.reads - walked} platform reads`);
  assert.deepEqual(v.raw, v.reencoded);
  assert.equal((v.reply.body.value as v1.ReadResponse).chunks[0]!.frames.length, 256);
});

test("a page the platform refuses after planning: that chunk ends there with UNAVAILABLE, the others are intact", () => {
  const { m, c, pt } = rig();
  for (let i = 0n; i < 4n; i++) pt.map4k(K + i * 0x1000n, 0x500000n + i * 0x1000n);
  m.poke(0x500000n, new Uint8Array(0x4000).map((_, i) => i & 0xff));
  m.rmp.set(0x502, { assigned: true, validated: false, vmsa: false, perms1: 0 });
  const { raw, reencoded, reply } = send(c, {
    case: "readVirt",
    value: { dtb: pt.root, ranges: [{ addr: K + 0x10n, len: 0x3000 }, { addr: K + 0x3000n, len: 0x100 }] },
  });
  assert.deepEqual(raw, reencoded);
  const ch = (reply.body.value as v1.ReadResponse).chunks;
  assert.equal(ch[0]!.status, S.UNAVAILABLE);
  assert.equal(ch[0]!.faultAddr, K + 0x2000n);
  assert.equal(ch[0]!.data.length, 0x2000 - 0x10);
  assert.deepEqual(ch[0]!.data, m.peek(0x500010n, 0x2000 - 0x10));
  assert.deepEqual(ch[0]!.frames, [0x500n, 0x501n]);
  assert.equal(ch[1]!.status, S.OK);
  assert.deepEqual(ch[1]!.data, m.peek(0x503000n, 0x100));
  const p = send(c, { case: "readPhys", value: { ranges: [{ addr: 0x501000n, len: 0x2000 }, { addr: 0x500000n, len: 4 }] } });
  const pc = (p.reply.body.value as v1.ReadResponse).chunks;
  assert.equal(pc[0]!.status, S.UNAVAILABLE);
  assert.equal(pc[0]!.faultAddr, 0x502000n);
  assert.equal(pc[0]!.data.length, 0);
  assert.deepEqual([...pc[1]!.data], [0, 1, 2, 3]);
});

test("a reply over the frame limit goes without frames; still over it, nothing is framed", () => {
  const { core, pt } = rig();
  for (let i = 0n; i < 16n; i++) pt.map4k(K + i * 0x1000n, 0x600000n + i * 0x2000n);
  const tr = core.memory.translator(pt.root, 4);
  const reads = [core.memory.planVirt(tr, K, 16 * 4096)];
  const full = memoryReplyFrame(core.memory, 1n, { kind: "read", reads }, 1 << 20)!;
  const noFrames = memoryReplyFrame(core.memory, 1n, { kind: "read", reads }, 16 * 4096 + 20)!;
  assert.ok(noFrames.length < full.length);
  const r = decodeMessage(v1.ResponseSchema, noFrames.subarray(decodeVarint(noFrames)!.length));
  const ch = (r.body.value as v1.ReadResponse).chunks[0]!;
  assert.equal(ch.data.length, 16 * 4096);
  assert.deepEqual(ch.frames, []);
  assert.equal(memoryReplyFrame(core.memory, 1n, { kind: "read", reads }, 16 * 4096), undefined);
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeMessage } from "./codec.js";
import { decodeVarint } from "./framing.js";
import { v1 } from "./index.js";
import {
  chunkMessageSize,
  planGatherListReply,
  planReadReply,
  varintSize,
  varintSize64,
  writeReplyFrame,
} from "./reply-frames.js";

test("varint sizes agree with the bytes at every boundary", () => {
  for (let bits = 0; bits <= 64; bits++) {
    for (const v of [(1n << BigInt(bits)) - 1n, 1n << BigInt(bits)]) {
      if (v >= 1n << 64n) continue;
      const want = Math.max(1, Math.ceil(v.toString(2).length / 7));
      assert.equal(varintSize64(v), want, `2^${bits}: ${v}`);
      if (v <= BigInt(Number.MAX_SAFE_INTEGER)) assert.equal(varintSize(Number(v)), want, `number ${v}`);
    }
  }
});

test("the plan knows the frame's size before anything is written; data regions are where the plan says", () => {
  const chunks = [
    { status: 0, dataLength: 4096, faultAddr: 0n, frames: [0x1234n] },
    { status: 3, dataLength: 0, faultAddr: 0xffff_8880_0000_1000n, frames: [] },
    { status: 2, dataLength: 10, faultAddr: 0x4000n, frames: [1n, 2n] },
  ];
  const plan = planReadReply({ id: 77n, status: 0, detail: "" }, chunks);
  const f = writeReplyFrame(plan);
  assert.equal(f.bytes.length, plan.frameBytes);
  f.bytes.fill(0xab, f.dataOffsets[0]!, f.dataOffsets[0]! + 4096);
  f.bytes.fill(0xcd, f.dataOffsets[2]!, f.dataOffsets[2]! + 10);
  const back = decodeMessage(v1.ResponseSchema, f.bytes.subarray(decodeVarint(f.bytes)!.length));
  const got = (back.body.value as v1.ReadResponse).chunks;
  assert.ok(got[0]!.data.every((x) => x === 0xab) && got[0]!.data.length === 4096);
  assert.equal(got[1]!.data.length, 0);
  assert.ok(got[2]!.data.every((x) => x === 0xcd) && got[2]!.data.length === 10);
  assert.deepEqual(got[2]!.frames, [1n, 2n]);
  assert.equal(chunkMessageSize(chunks[0]!), 1 + 2 + 4096 + 1 + 1 + 2);
  const g = planGatherListReply({ id: 1n, status: 0, detail: "" }, [], [], 0);
  // id, then gather_list (tag 0x8a 0x02) present though empty.
  assert.deepEqual([...writeReplyFrame(g).bytes], [5, 0x08, 0x01, 0x8a, 0x02, 0x00]);
});

test("values outside uint64 are refused before anything is written", () => {
  assert.throws(() => planReadReply({ id: -1n, status: 0, detail: "" }, []), RangeError);
  assert.throws(() => planReadReply({ id: 1n, status: 0, detail: "" }, [{ status: 0, dataLength: 0, faultAddr: 1n << 64n, frames: [] }]), RangeError);
  assert.throws(() => planGatherListReply({ id: 1n, status: 0, detail: "" }, [-5n], [], 0), RangeError);
  assert.throws(() => planReadReply({ id: 1n, status: 0, detail: "" }, [{ status: 0, dataLength: -1, faultAddr: 0n, frames: [] }]), RangeError);
});

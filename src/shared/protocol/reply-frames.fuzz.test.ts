import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { create } from "@bufbuild/protobuf";
import { decodeMessage, encodeMessageFrame } from "./codec.js";
import { decodeVarint } from "./framing.js";
import { v1 } from "./index.js";
import { encodeGatherListReplyFrame, encodeReadReplyFrame } from "./reply-frames.js";
import type { ChunkWithData } from "./reply-frames.js";

const RUNS = Number(process.env.SEVEN_FUZZ_RUNS ?? 200);

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
/** Small values most of the time (the usual case), any u64 sometimes. */
const addr = fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 1n << 40n }), u64);
const status = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 10 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }));
const chunk: fc.Arbitrary<ChunkWithData> = fc.record({
  status,
  data: fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: 100, maxLength: 20_000 })),
  faultAddr: addr,
  frames: fc.array(addr, { maxLength: 12 }),
});
const head = fc.record({ id: addr, status, detail: fc.oneof(fc.constant(""), fc.string({ maxLength: 40 }), fc.string({ unit: "binary", maxLength: 20 })) });

function protobufEs(h: { id: bigint; status: number; detail: string }, body: v1.Response["body"]): Uint8Array {
  return encodeMessageFrame(v1.ResponseSchema, create(v1.ResponseSchema, { ...h, body }));
}

test("property: ReadResponse replies encode byte for byte as protobuf-es does, and decode back", () => {
  fc.assert(
    fc.property(head, fc.array(chunk, { maxLength: 8 }), (h, chunks) => {
      const ours = encodeReadReplyFrame(h, chunks);
      const theirs = protobufEs(h, { case: "read", value: create(v1.ReadResponseSchema, { chunks: chunks.map((c) => create(v1.ChunkSchema, { ...c, frames: [...c.frames] })) }) });
      assert.deepEqual(ours, theirs);
      const p = decodeVarint(ours)!;
      const back = decodeMessage(v1.ResponseSchema, ours.subarray(p.length));
      assert.equal(Number(p.value), ours.length - p.length);
      assert.equal(back.id, h.id);
      assert.equal(back.body.case, "read");
      const got = (back.body.value as v1.ReadResponse).chunks;
      assert.equal(got.length, chunks.length);
      got.forEach((c, i) => {
        assert.deepEqual(c.data, chunks[i]!.data);
        assert.deepEqual(c.frames, chunks[i]!.frames);
        assert.equal(c.faultAddr, chunks[i]!.faultAddr);
      });
    }),
    { numRuns: RUNS },
  );
});

test("property: GatherListResponse replies encode byte for byte as protobuf-es does, and decode back", () => {
  fc.assert(
    fc.property(head, fc.array(addr, { maxLength: 10 }), fc.array(chunk, { maxLength: 6 }), status, (h, nodes, chunks, stop) => {
      const ours = encodeGatherListReplyFrame(h, nodes, chunks, stop);
      const value = create(v1.GatherListResponseSchema, { nodes, chunks: chunks.map((c) => create(v1.ChunkSchema, { ...c, frames: [...c.frames] })), stopReason: stop as v1.GatherStop });
      assert.deepEqual(ours, protobufEs(h, { case: "gatherList", value }));
      const p = decodeVarint(ours)!;
      const back = decodeMessage(v1.ResponseSchema, ours.subarray(p.length));
      assert.equal(back.body.case, "gatherList");
      const g = back.body.value as v1.GatherListResponse;
      assert.deepEqual(g.nodes, nodes);
      assert.equal(g.chunks.length, chunks.length);
      assert.equal(g.stopReason, stop);
    }),
    { numRuns: RUNS },
  );
});

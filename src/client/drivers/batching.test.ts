import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { VmiError } from "../vmi/index.js";
import { ENTRY_OVERHEAD, FRAME_OVERHEAD, assemble, chunksOf, maxPieceBytes, planBatches, type AgentLimits } from "./batching.js";

const RUNS = Number(process.env.SEVEN_FUZZ_RUNS ?? 200);

const limitsArb = fc.record({
  maxFrameBytes: fc.integer({ min: 8192, max: 4 << 20 }),
  maxBatchEntries: fc.integer({ min: 1, max: 64 }),
  maxBatchBytes: fc.integer({ min: 4096, max: 2 << 20 }),
  maxRangeBytes: fc.integer({ min: 4096, max: 2 << 20 }),
  maxTraps: fc.constant(8),
  maxInFlight: fc.integer({ min: 1, max: 64 }),
});

describe("batching by the agent's limits", () => {
  it("covers every range exactly, in order, and keeps every batch within the limits", () => {
    fc.assert(
      fc.property(limitsArb, fc.array(fc.record({ addr: fc.bigInt({ min: 0n, max: 1n << 40n }), len: fc.integer({ min: 0, max: 3 << 20 }) }), { maxLength: 12 }), (l: AgentLimits, ranges) => {
        const batches = planBatches(ranges, l);
        const seen = ranges.map(() => 0);
        for (const b of batches) {
          assert.ok(b.length >= 1 && b.length <= l.maxBatchEntries);
          const bytes = b.reduce((s, p) => s + p.len, 0);
          assert.ok(bytes <= l.maxBatchBytes);
          assert.ok(bytes + b.length * ENTRY_OVERHEAD <= l.maxFrameBytes - FRAME_OVERHEAD);
          for (const p of b) {
            assert.ok(p.len > 0 && p.len <= l.maxRangeBytes);
            assert.equal(p.offset, seen[p.index], "pieces are contiguous and in order");
            assert.equal(p.addr, ranges[p.index]!.addr + BigInt(p.offset));
            seen[p.index]! += p.len;
          }
        }
        assert.deepEqual(
          seen,
          ranges.map((r) => r.len),
        );
      }),
      { numRuns: RUNS },
    );
  });

  it("uses page-multiple pieces when the limits allow", () => {
    assert.equal(maxPieceBytes({ maxFrameBytes: 1310720, maxBatchEntries: 4096, maxBatchBytes: 1 << 20, maxRangeBytes: 1 << 20, maxTraps: 1, maxInFlight: 1 }), 1 << 20);
    assert.equal(maxPieceBytes({ maxFrameBytes: 70000, maxBatchEntries: 4096, maxBatchBytes: 1 << 20, maxRangeBytes: 1 << 20, maxTraps: 1, maxInFlight: 1 }) % 4096, 0);
  });

  it("reassembles pieces, and a range with a failed piece gets that piece's error", () => {
    const l: AgentLimits = { maxFrameBytes: 1 << 20, maxBatchEntries: 2, maxBatchBytes: 8192, maxRangeBytes: 4096, maxTraps: 1, maxInFlight: 1 };
    const ranges = [
      { addr: 0n, len: 10000 },
      { addr: 0x10000n, len: 5000 },
    ];
    const pieces = planBatches(ranges, l).flat();
    const err = new VmiError("INVALID_ADDRESS", "x");
    const results = pieces.map((p) => (p.index === 1 && p.offset > 0 ? err : new Uint8Array(p.len).fill(p.index + 1)));
    const [a, b] = assemble(
      ranges.map((r) => r.len),
      pieces,
      results,
    );
    assert.deepEqual(a, new Uint8Array(10000).fill(1));
    assert.equal(b, err);
    assert.deepEqual(chunksOf([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
  });

  it("hands over a whole range's piece as it is when it was alone in its reply, and copies it otherwise", () => {
    const lens = [4096, 4096, 8192, 0];
    const pieces = [
      { index: 0, offset: 0, addr: 0n, len: 4096 },
      { index: 1, offset: 0, addr: 0x1000n, len: 4096 },
      { index: 2, offset: 0, addr: 0x2000n, len: 4096 },
      { index: 2, offset: 4096, addr: 0x3000n, len: 4096 },
    ];
    const results = pieces.map((p) => new Uint8Array(p.len).fill(p.index + 1 + p.offset / 4096));
    const out = assemble(lens, pieces, results, [true, false, true, true]);
    assert.equal(out[0], results[0], "alone and whole: the same bytes, no copy");
    assert.notEqual(out[1], results[1], "shares its reply: copied");
    assert.deepEqual(out[1], results[1]);
    assert.deepEqual(out[2], Uint8Array.from([...results[2]!, ...results[3]!]), "two pieces: assembled");
    assert.deepEqual(out[3], new Uint8Array(0));
  });
});

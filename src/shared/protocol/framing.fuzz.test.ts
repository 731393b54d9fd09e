import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeFrames, FrameDecoder, FramingError } from "./framing.js";

const RUNS = Number(process.env.SEVEN_FUZZ_RUNS ?? 200);

/** Splits `b` at the given cut points (any order, any values). */
function split(b: Uint8Array, cuts: number[]): Uint8Array[] {
  const pts = [...new Set(cuts.map((c) => (b.length === 0 ? 0 : c % (b.length + 1))))].sort((x, y) => x - y);
  const out: Uint8Array[] = [];
  let at = 0;
  for (const p of pts) {
    out.push(b.subarray(at, p));
    at = p;
  }
  out.push(b.subarray(at));
  return out;
}

test("property: random byte streams split anywhere give frames or a typed FramingError, bounded", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), fc.array(fc.nat(), { maxLength: 20 }), fc.integer({ min: 0, max: 300 }), (bytes, cuts, max) => {
      const d = new FrameDecoder({ maxFrameBytes: max });
      let total = 0;
      try {
        for (const c of split(bytes, cuts)) {
          d.push(c);
          assert.ok(d.buffered <= d.maxBufferedBytes);
          for (const f of d.drain()) {
            assert.ok(f.length <= max);
            total += f.length;
          }
        }
      } catch (e) {
        assert.ok(e instanceof FramingError, `unexpected ${String(e)}`);
        assert.ok(d.failed);
      }
      assert.ok(total <= bytes.length);
    }),
    { numRuns: RUNS },
  );
});

test("property: valid frame streams decode to the same messages however they are split", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 10 }), fc.array(fc.nat(), { maxLength: 30 }), (msgs, cuts) => {
      const d = new FrameDecoder({ maxFrameBytes: 300 });
      const out: Uint8Array[] = [];
      for (const c of split(encodeFrames(msgs), cuts)) {
        d.push(c);
        out.push(...d.drain());
      }
      assert.deepEqual(out, msgs);
      assert.equal(d.buffered, 0);
    }),
    { numRuns: RUNS },
  );
});

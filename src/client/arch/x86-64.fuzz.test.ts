/** Page walks over arbitrary table contents: always a Translation or a VmiError, bounded reads. */
import { it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { VmiError } from "../vmi/errors.js";
import { translateBatch, pagingConfig, type TableReader } from "./x86-64.js";

const RUNS = Number(process.env.SEVEN_FUZZ_RUNS ?? 200);

it("page walks over garbage tables end after at most one read per level, with typed results", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { minLength: 1, maxLength: 64 }),
      fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { minLength: 1, maxLength: 16 }),
      fc.constantFrom(4 as const, 5 as const),
      fc.integer({ min: 40, max: 52 }),
      async (words, vas, levels, cBit) => {
        // Memory: a few frames repeating `words`; addresses above 2^36 are "outside memory".
        let reads = 0;
        const read: TableReader = (addrs) => {
          reads++;
          return Promise.resolve(
            addrs.map((a) => (a >= 1n << 36n ? new VmiError("INVALID_ADDRESS", "out", { layer: "physical", address: a }) : words[Number((a >> 3n) % BigInt(words.length))]!)),
          );
        };
        const dtb = words[0]!;
        const rs = await translateBatch(read, vas.map((va) => ({ dtb, va })), pagingConfig({ levels, cBit }));
        assert.equal(rs.length, vas.length);
        assert.ok(reads <= levels);
        for (const r of rs) {
          if (r instanceof VmiError) continue;
          assert.ok(r.pa < 1n << BigInt(cBit), "C-bit and above masked");
          assert.ok([0x1000n, 1n << 21n, 1n << 30n].includes(r.pageSize));
        }
      },
    ),
    { numRuns: RUNS },
  );
});

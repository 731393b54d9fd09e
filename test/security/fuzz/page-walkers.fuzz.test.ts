/**
 * Threat: the guest (or a corrupted image) builds page tables that point back at
 * themselves — a table referencing itself, two tables referencing each other, entries with
 * garbage high bits, large-page bits at every level — hoping a walker loops forever or
 * returns an address outside the guest. Both walkers that hostile tables reach are
 * covered: the shared walker the agent uses for readVirt/translate (walkPageTable) and the
 * client's own x86-64 walker (translateBatch, used on images and for owner-side walks).
 * Expected: every walk ends after at most one entry read per level, never throws, and a
 * translation stays below the C-bit. Budget: SEVEN_FUZZ_RUNS (CI default 200).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { walkPageTable, type PagingLevels } from "../../../src/shared/spec/index.js";
import { VmiError, pagingConfig, translateBatch, type TableReader } from "../../../src/client/index.js";

const RUNS = Number(process.env.SEVEN_FUZZ_RUNS ?? 200);
const FRAME0 = 0x10_0000n;
const P = 1n;
const RW = 2n;
const US = 4n;
const PS = 0x80n;
const NX = 1n << 63n;

/** A few table frames; entry i of frame f is templates[f][i % 8]. Targets are frames of this set (cycles), or anywhere. */
const entryArb = (frames: number) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.record({ target: fc.nat(frames - 1), present: fc.boolean(), ps: fc.nat(3), nx: fc.boolean(), low: fc.nat(0x7f) }).map((e) => (BigInt(e.target) * 0x1000n + FRAME0) | (e.present ? P : 0n) | RW | US | (e.ps === 0 ? PS : 0n) | (e.nx ? NX : 0n) | BigInt(e.low & 0x60)) },
    { weight: 2, arbitrary: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) },
    { weight: 1, arbitrary: fc.constant(FRAME0 | P | RW | US) }, // the first frame, mapped recursively
  );

const memoryArb = fc
  .integer({ min: 1, max: 6 })
  .chain((frames) => fc.tuple(fc.constant(frames), fc.array(fc.array(entryArb(frames), { minLength: 8, maxLength: 8 }), { minLength: frames, maxLength: frames })));

function reader(frames: number, templates: bigint[][]): (gpa: bigint) => bigint | undefined {
  return (gpa) => {
    const f = Number((gpa - FRAME0) >> 12n);
    if (gpa < FRAME0 || f >= frames || (gpa & 7n) !== 0n) return undefined;
    return templates[f]![Number((gpa & 0xfffn) >> 3n) % 8]!;
  };
}

const vaArb = fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: (1n << 47n) - 1n }), fc.bigInt({ min: 0xffff_8000_0000_0000n, max: (1n << 64n) - 1n }));

test("the agent's walker (walkPageTable) on cyclic and garbage tables: ≤ one read per level, typed result, below the C-bit", () => {
  fc.assert(
    fc.property(memoryArb, vaArb, fc.constantFrom<PagingLevels>(4, 5), fc.integer({ min: 40, max: 51 }), fc.nat(5), ([frames, templates], va, levels, cBit, rootFrame) => {
      const read = reader(frames, templates);
      let reads = 0;
      const r = walkPageTable({ root: FRAME0 + BigInt(rootFrame % frames) * 0x1000n, va, levels, cBit, readEntry: (g) => (reads++, read(g)) });
      assert.ok(reads <= levels, `${reads} reads for ${levels} levels`);
      assert.ok(r.steps.length <= levels);
      if (r.ok) assert.ok(r.gpa < 1n << BigInt(cBit), "the translation is below the C-bit");
      else assert.ok(["non-canonical", "not-present", "reserved", "unreadable"].includes(r.reason));
    }),
    { numRuns: RUNS },
  );
});

test("the client's walker (translateBatch) on cyclic and garbage tables: one batched read per level at most, typed results", async () => {
  await fc.assert(
    fc.asyncProperty(memoryArb, fc.array(vaArb, { minLength: 1, maxLength: 8 }), fc.constantFrom(4 as const, 5 as const), fc.integer({ min: 40, max: 51 }), async ([frames, templates], vas, levels, cBit) => {
      const read = reader(frames, templates);
      let batches = 0;
      const tr: TableReader = (addrs) => {
        batches++;
        return Promise.resolve(addrs.map((a) => read(a) ?? new VmiError("INVALID_ADDRESS", "no memory", { layer: "physical", address: a })));
      };
      const rs = await translateBatch(tr, vas.map((va) => ({ dtb: FRAME0, va })), pagingConfig({ levels, cBit }));
      assert.equal(rs.length, vas.length);
      assert.ok(batches <= levels, `${batches} batched reads for ${levels} levels`);
      for (const r of rs) if (!(r instanceof VmiError)) assert.ok(r.pa < 1n << BigInt(cBit));
    }),
    { numRuns: RUNS },
  );
});

test("explicit cycles: a self-referencing table and two tables referencing each other end after `levels` reads", async () => {
  for (const levels of [4, 5] as const) {
    for (const templates of [[Array<bigint>(8).fill(FRAME0 | P | RW | US)], [Array<bigint>(8).fill((FRAME0 + 0x1000n) | P | RW | US), Array<bigint>(8).fill(FRAME0 | P | RW | US)]]) {
      const read = reader(templates.length, templates);
      let reads = 0;
      const r = walkPageTable({ root: FRAME0, va: 0x7fff_ffff_f000n, levels, cBit: 51, readEntry: (g) => (reads++, read(g)) });
      assert.equal(reads, levels);
      assert.ok(r.ok && r.pageSize === 0x1000n, "a recursive mapping translates to one of the table frames");
      assert.ok(r.ok && (r.pageBase === FRAME0 || r.pageBase === FRAME0 + 0x1000n));
      let batches = 0;
      const [c] = await translateBatch((a) => (batches++, Promise.resolve(a.map((x) => read(x)!))), [{ dtb: FRAME0, va: 0x7fff_ffff_f000n }], pagingConfig({ levels }));
      assert.equal(batches, levels);
      assert.ok(!(c instanceof VmiError) && [FRAME0, FRAME0 + 0x1000n].includes((c!.pa >> 12n) << 12n));
    }
  }
});

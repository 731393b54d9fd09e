import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { isCanonicalVa, walkPageTable } from "./paging-walk.js";
import type { PagingLevels } from "./paging-walk.js";

const P = 1n, RW = 2n, US = 4n, PS = 0x80n, NX = 1n << 63n, C = 1n << 51n;
const RUNS = Number(process.env.SEVEN_FUZZ_RUNS ?? 200);

/** Tiny builder: page tables in a Map of 8-byte entries. */
function tables() {
  const mem = new Map<bigint, bigint>();
  const reads: bigint[] = [];
  return {
    set: (table: bigint, index: bigint, entry: bigint) => mem.set(table + index * 8n, entry),
    read: (gpa: bigint) => {
      reads.push(gpa);
      return mem.get(gpa) ?? 0n;
    },
    reads,
  };
}
const idx = (va: bigint, shift: bigint) => (va >> shift) & 0x1ffn;

test("4-level, 4 KiB page, C-bit set in every entry and in CR3 (with PCID bits)", () => {
  const t = tables();
  const va = 0xffff_8880_1234_5678n;
  t.set(0x1000n, idx(va, 39n), 0x2000n | P | RW | US | C);
  t.set(0x2000n, idx(va, 30n), 0x3000n | P | RW | US | C);
  t.set(0x3000n, idx(va, 21n), 0x4000n | P | RW | C);
  t.set(0x4000n, idx(va, 12n), 0x7654_3000n | P | RW | NX | C);
  const r = walkPageTable({ root: 0x1000n | 0x5n | C, va, levels: 4, cBit: 51, readEntry: t.read });
  assert.ok(r.ok);
  assert.equal(r.gpa, 0x7654_3678n);
  assert.equal(r.pageSize, 4096n);
  assert.equal(r.writable, true);
  assert.equal(r.user, false);
  assert.equal(r.nx, true);
  assert.equal(r.steps.length, 4);
  assert.deepEqual(r.steps.map((s) => s.level), [4, 3, 2, 1]);
  assert.equal(t.reads.length, 4);
});

test("2 MiB and 1 GiB pages", () => {
  const t = tables();
  const va = 0x0000_7f12_3456_789an;
  t.set(0x1000n, idx(va, 39n), 0x2000n | P | RW | US);
  t.set(0x2000n, idx(va, 30n), 0x3000n | P | RW | US);
  t.set(0x3000n, idx(va, 21n), 0x4020_0000n | P | US | PS | (1n << 12n) /* PAT */);
  const r = walkPageTable({ root: 0x1000n, va, levels: 4, cBit: 51, readEntry: t.read });
  assert.ok(r.ok);
  assert.equal(r.pageSize, 2n << 20n);
  assert.equal(r.gpa, 0x4020_0000n | (va & 0x1f_ffffn));
  assert.equal(r.writable, false);
  const t2 = tables();
  t2.set(0x1000n, idx(va, 39n), 0x2000n | P | RW | US);
  t2.set(0x2000n, idx(va, 30n), 0x8000_0000n | P | RW | US | PS | C);
  const g = walkPageTable({ root: 0x1000n, va, levels: 4, cBit: 51, readEntry: t2.read });
  assert.ok(g.ok);
  assert.equal(g.pageSize, 1n << 30n);
  assert.equal(g.gpa, 0x8000_0000n | (va & 0x3fff_ffffn));
});

test("5-level walks read five entries; 57-bit canonical addresses", () => {
  const t = tables();
  const va = 0xff12_3456_789a_b000n;
  assert.ok(isCanonicalVa(va, 5));
  assert.ok(!isCanonicalVa(va, 4));
  t.set(0x1000n, idx(va, 48n), 0x2000n | P | RW);
  t.set(0x2000n, idx(va, 39n), 0x3000n | P | RW);
  t.set(0x3000n, idx(va, 30n), 0x4000n | P | RW);
  t.set(0x4000n, idx(va, 21n), 0x5000n | P | RW);
  t.set(0x5000n, idx(va, 12n), 0x9000n | P | RW);
  const r = walkPageTable({ root: 0x1000n, va, levels: 5, cBit: 51, readEntry: t.read });
  assert.ok(r.ok);
  assert.equal(r.gpa, 0x9000n);
  assert.equal(t.reads.length, 5);
});

test("failures: not present (level), reserved PS at PML4 and in a large-page address, non-canonical, unreadable", () => {
  const va = 0x1000_0000n;
  const t = tables();
  t.set(0x1000n, idx(va, 39n), 0x2000n | P);
  let r = walkPageTable({ root: 0x1000n, va, levels: 4, cBit: 51, readEntry: t.read });
  assert.deepEqual([r.ok, !r.ok && r.reason, !r.ok && r.level], [false, "not-present", 3]);
  t.set(0x1000n, idx(va, 39n), 0x2000n | P | PS);
  r = walkPageTable({ root: 0x1000n, va, levels: 4, cBit: 51, readEntry: t.read });
  assert.deepEqual([r.ok, !r.ok && r.reason, !r.ok && r.level], [false, "reserved", 4]);
  t.set(0x1000n, idx(va, 39n), 0x2000n | P);
  t.set(0x2000n, idx(va, 30n), 0x4000_2000n | P | PS);
  r = walkPageTable({ root: 0x1000n, va, levels: 4, cBit: 51, readEntry: t.read });
  assert.deepEqual([r.ok, !r.ok && r.reason, !r.ok && r.level], [false, "reserved", 3]);
  r = walkPageTable({ root: 0x1000n, va: 0x0000_8000_0000_0000n, levels: 4, cBit: 51, readEntry: t.read });
  assert.deepEqual([r.ok, !r.ok && r.reason], [false, "non-canonical"]);
  r = walkPageTable({ root: 0x1000n, va, levels: 4, cBit: 51, readEntry: () => undefined });
  assert.deepEqual([r.ok, !r.ok && r.reason, !r.ok && r.level], [false, "unreadable", 4]);
  assert.throws(() => walkPageTable({ root: 0n, va, levels: 3 as PagingLevels, cBit: 51, readEntry: t.read }), RangeError);
});

test("property: random tables never throw, read at most `levels` entries, and results stay below the C-bit", () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { minLength: 5, maxLength: 5 }), fc.constantFrom<PagingLevels>(4, 5), (root, va, entries, levels) => {
      let i = 0;
      const r = walkPageTable({ root, va, levels, cBit: 51, readEntry: () => (i < entries.length ? entries[i++] : 0n) });
      assert.ok(i <= levels);
      assert.ok(r.steps.length <= levels);
      if (r.ok) assert.ok(r.gpa < 1n << 51n);
    }),
    { numRuns: RUNS },
  );
});

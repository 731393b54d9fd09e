import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { readU64 } from "../../shared/base/index.js";
import { v1 } from "../../shared/protocol/index.js";
import { serviceRig, V1Client } from "../testing/harness.js";
import { TestPageTables } from "../testing/page-tables.js";

const RUNS = Number(process.env.SEVEN_FUZZ_RUNS ?? 200);
const S = v1.Status;
const G = v1.GatherStop;
const BASE = 0xffff_8880_0000_0000n;
const PAGES = 6;

interface World {
  /** Virtual page index → physical page number (absent: unmapped). */
  readonly map: (number | undefined)[];
  /** Physical pages the platform refuses (not validated). */
  readonly refused: number[];
  /** Pointers planted at (virtual offset from BASE, 8-byte aligned within a page, value). */
  readonly plants: [number, bigint][];
  readonly seed: number;
}

interface Spec {
  readonly head: bigint;
  readonly nextOffset: bigint;
  readonly stop: bigint;
  readonly maxNodes: number;
  readonly readOffset: bigint;
  readonly readLen: number;
}

interface Chunk {
  status: number;
  data: Uint8Array;
  faultAddr: bigint;
  frames: bigint[];
}

/** Addresses in the test's region most of the time (so pointers lead somewhere), else 0, a fixed few, or any u64. */
const pointer = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: PAGES * 4096 - 1 }).map((o) => BASE + BigInt(o)) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: PAGES * 512 - 1 }).map((i) => BASE + BigInt(i * 8)) },
  { weight: 1, arbitrary: fc.constantFrom(0n, BASE, BASE + 0x10n) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) },
);

/** Node slots (8-aligned offsets from BASE) linked to each other, with some ends, holes and garbage. */
const world: fc.Arbitrary<World & { readonly nextOffset: bigint; readonly nodes: bigint[] }> = fc
  .record({
    map: fc.array(fc.option(fc.integer({ min: 0x200, max: 0x240 }), { nil: undefined, freq: 15 }), { minLength: PAGES, maxLength: PAGES }),
    refused: fc.array(fc.integer({ min: 0x200, max: 0x240 }), { maxLength: 1 }),
    nextOffset: fc.constantFrom(0n, 8n, 16n, -8n, 0x40n),
    slots: fc.uniqueArray(fc.integer({ min: 16, max: PAGES * 512 - 16 }).map((i) => i * 8), { minLength: 8, maxLength: 60 }),
    links: fc.array(fc.oneof({ weight: 30, arbitrary: fc.nat() }, { weight: 1, arbitrary: fc.constantFrom(-1, -2) }, { weight: 1, arbitrary: pointer.map((p) => p) }), { minLength: 60, maxLength: 60 }),
    seed: fc.integer({ min: 0, max: 255 }),
  })
  .map((r) => {
    const nodes = r.slots.map((o) => BASE + BigInt(o));
    const plants: [number, bigint][] = r.slots.map((o, i) => {
      const l = r.links[i]!;
      const to = typeof l === "bigint" ? l : l === -1 ? 0n : l === -2 ? BASE : nodes[l % nodes.length]!;
      return [o + Number(r.nextOffset), to];
    });
    return { map: r.map, refused: r.refused, plants, seed: r.seed, nextOffset: r.nextOffset, nodes };
  });

const spec = (w: { nextOffset: bigint; nodes: bigint[] }): fc.Arbitrary<Spec> =>
  fc.record({
    head: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...w.nodes).map((n) => n + w.nextOffset) }, { weight: 1, arbitrary: pointer }),
    nextOffset: fc.oneof({ weight: 6, arbitrary: fc.constant(w.nextOffset) }, { weight: 1, arbitrary: fc.integer({ min: -64, max: 64 }).map((n) => BigInt(n)) }),
    stop: fc.oneof(fc.constantFrom(BASE, 0n), fc.constantFrom(...w.nodes), pointer),
    maxNodes: fc.oneof(fc.integer({ min: 0, max: 60 }), fc.constant(1000)),
    readOffset: fc.oneof(fc.integer({ min: -64, max: 64 }), fc.integer({ min: -5000, max: 5000 })).map((n) => BigInt(n)),
    readLen: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 6000 })),
  });

const limits = fc.record({ maxBatchEntries: fc.integer({ min: 1, max: 64 }), maxBatchBytes: fc.integer({ min: 4096, max: 65536 }) });

/** The .proto's semantics over the test's own view of memory (no page walker, no agent code). */
function reference(w: World, m: { peek(gpa: bigint, len: number): Uint8Array }, s: Spec, cap: number): { nodes: bigint[]; chunks: Chunk[]; stop: number } {
  const distinct = distinctMap(w);
  const vread = (va: bigint, len: number): Chunk => {
    const data = new Uint8Array(len);
    const frames: bigint[] = [];
    let done = 0;
    while (done < len) {
      const at = BigInt.asUintN(64, va + BigInt(done));
      const n = Math.min(len - done, 4096 - Number(at & 0xfffn));
      const idx = at >= BASE && at < BASE + BigInt(PAGES * 4096) ? Number((at - BASE) >> 12n) : -1;
      const pfn = idx >= 0 ? distinct[idx] : undefined;
      if (pfn === undefined) return { status: S.PAGE_FAULT, data: data.subarray(0, done), faultAddr: at, frames };
      if (w.refused.includes(pfn)) return { status: S.UNAVAILABLE, data: data.subarray(0, done), faultAddr: at, frames };
      data.set(m.peek(BigInt(pfn) * 4096n + (at & 0xfffn), n), done);
      frames.push(BigInt(pfn));
      done += n;
    }
    return { status: S.OK, data, faultAddr: 0n, frames };
  };
  const ptr = (at: bigint): bigint | undefined => {
    const c = vread(BigInt.asUintN(64, at), 8);
    return c.status === S.OK ? readU64(c.data, 0) : undefined;
  };
  const nodes: bigint[] = [];
  const chunks: Chunk[] = [];
  let p = ptr(s.head);
  for (;;) {
    if (p === undefined) return { nodes, chunks, stop: G.FAULT };
    if (p === s.stop) return { nodes, chunks, stop: G.REACHED };
    if (p === 0n) return { nodes, chunks, stop: G.NULL };
    if (nodes.includes(p)) return { nodes, chunks, stop: G.CYCLE };
    if (nodes.length >= cap) return { nodes, chunks, stop: G.MAX_NODES };
    nodes.push(p);
    chunks.push(vread(BigInt.asUintN(64, p + s.readOffset), s.readLen));
    p = ptr(p + s.nextOffset);
  }
}

/** The map with duplicate physical pages dropped (each virtual page gets its own frame). */
function distinctMap(w: World): (number | undefined)[] {
  const used = new Set<number>();
  return w.map.map((p) => {
    if (p === undefined || used.has(p)) return undefined;
    used.add(p);
    return p;
  });
}

test("property: GatherList over random memory (mappings, holes, refused pages, planted pointers) equals the .proto's semantics", () => {
  fc.assert(
    fc.property(world.chain((w) => fc.tuple(fc.constant(w), spec(w), limits)), ([w, s, l]) => {
      const r = serviceRig({ limits: { ...l, maxRangeBytes: 4096 } });
      const pt = new TestPageTables(r.m, 0x100000n);
      const map = distinctMap(w);
      map.forEach((pfn, i) => {
        if (pfn === undefined) return;
        const page = new Uint8Array(4096).map((_, k) => (k * 13 + pfn * 7 + w.seed) & 0xff);
        r.m.poke(BigInt(pfn) * 4096n, page);
        pt.map4k(BASE + BigInt(i) * 4096n, BigInt(pfn) * 4096n);
      });
      for (const [off, value] of w.plants) {
        const pfn = map[off >> 12];
        if (pfn !== undefined) r.m.poke64(BigInt(pfn) * 4096n + BigInt(off & 0xfff), value);
      }
      for (const pfn of w.refused) r.m.rmp.set(pfn, { assigned: true, validated: false, vmsa: false, perms1: 0 });
      const res = new V1Client(r.core).call({ case: "gatherList", value: { dtb: pt.root, ...s } });
      if (s.readLen > 4096) {
        assert.equal(res.status, S.TOO_LARGE);
        return;
      }
      assert.equal(res.status, S.OK, res.detail);
      const got = res.body.value as v1.GatherListResponse;
      const cap = Math.min(s.maxNodes, l.maxBatchEntries, s.readLen > 0 ? Math.floor(l.maxBatchBytes / s.readLen) : Infinity);
      const want = reference(w, r.m, s, cap);
      assert.deepEqual(got.nodes, want.nodes);
      assert.equal(got.stopReason, want.stop);
      assert.equal(got.chunks.length, want.chunks.length);
      got.chunks.forEach((c, i) => {
        const e = want.chunks[i]!;
        assert.equal(c.status, e.status, `chunk ${i}`);
        assert.deepEqual(c.data, e.data, `chunk ${i} data`);
        assert.equal(c.faultAddr, e.faultAddr, `chunk ${i} fault`);
        assert.deepEqual(c.frames, e.frames, `chunk ${i} frames`);
      });
    }),
    { numRuns: RUNS },
  );
});

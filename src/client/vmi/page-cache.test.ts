import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { PageCache, cachedReadPhys } from "./page-cache.js";
import { SparseDriver } from "./testing/sparse-driver.js";
import { VmiError } from "./errors.js";
import type { PhysRange, ReadResult } from "./driver.js";

const frame = (v: number) => new Uint8Array(4096).fill(v);

describe("PageCache", () => {
  it("evicts the least recently used frame", () => {
    const c = new PageCache(2);
    c.put(1n, frame(1));
    c.put(2n, frame(2));
    c.get(1n); // 2 is now the oldest
    c.put(3n, frame(3));
    assert.deepEqual([c.has(1n), c.has(2n), c.has(3n)], [true, false, true]);
    assert.equal(c.stats.evictions, 1);
  });

  it("invalidates all, by frame, or by range, and tells listeners", () => {
    const c = new PageCache(8);
    const seen: Array<readonly bigint[] | undefined> = [];
    c.onInvalidate((f) => seen.push(f));
    for (let i = 0n; i < 4n; i++) c.put(i, frame(Number(i)));
    c.invalidateFrames([1n]);
    assert.deepEqual([c.has(0n), c.has(1n), c.has(2n)], [true, false, true]);
    c.invalidateRange(0x2ff0n, 0x20); // touches frames 2 and 3
    assert.deepEqual([c.has(2n), c.has(3n), c.has(0n)], [false, false, true]);
    c.invalidateAll();
    assert.equal(c.size, 0);
    assert.deepEqual(seen, [[1n], [2n, 3n], undefined]);
  });

  it("refuses a fill from a fetch that started before an invalidation", () => {
    const c = new PageCache(8);
    const epoch = c.epoch;
    c.invalidateFrames([5n]);
    c.put(5n, frame(5), epoch);
    assert.equal(c.has(5n), false);
  });
});

describe("cachedReadPhys", () => {
  it("serves repeated reads from the cache and fetches missing frames in one driver call", async () => {
    const d = new SparseDriver(1n << 20n);
    d.poke(0x1ffen, new Uint8Array([1, 2, 3, 4]));
    const c = new PageCache(16);
    const a = await cachedReadPhys(d, c, [{ gpa: 0x1ffen, len: 4 }, { gpa: 0x5000n, len: 8 }]);
    assert.deepEqual(a[0], new Uint8Array([1, 2, 3, 4]));
    assert.equal(d.count("readPhys"), 1);
    assert.equal(d.calls[0]!.count, 2, "frames 1-2 merged into one run, frame 5 another");
    const b = await cachedReadPhys(d, c, [{ gpa: 0x1fffn, len: 2 }]);
    assert.deepEqual(b[0], new Uint8Array([2, 3]));
    assert.equal(d.count("readPhys"), 1, "no driver call for cached frames");
  });

  it("sees new memory after invalidation, and stale memory before", async () => {
    const d = new SparseDriver(1n << 20n);
    const c = new PageCache(16);
    d.poke(0x3000n, new Uint8Array([7]));
    await cachedReadPhys(d, c, [{ gpa: 0x3000n, len: 1 }]);
    d.poke(0x3000n, new Uint8Array([9]));
    assert.deepEqual((await cachedReadPhys(d, c, [{ gpa: 0x3000n, len: 1 }]))[0], new Uint8Array([7]));
    c.invalidateFrames([3n]);
    assert.deepEqual((await cachedReadPhys(d, c, [{ gpa: 0x3000n, len: 1 }]))[0], new Uint8Array([9]));
  });

  it("does not cache a fetch that an invalidation overtook", async () => {
    const d = new SparseDriver(1n << 20n);
    const c = new PageCache(16);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = { ...d, name: "slow", capabilities: d.capabilities, info: () => d.info(), close: () => d.close(),
      readPhys: async (r: readonly PhysRange[]): Promise<ReadResult[]> => {
        const out = await d.readPhys(r);
        await gate;
        return out;
      } };
    const p = cachedReadPhys(slow, c, [{ gpa: 0x4000n, len: 8 }]);
    c.invalidateAll();
    release();
    await p;
    assert.equal(c.has(4n), false);
  });

  it("reads the exact bytes when a whole frame is not backed, and names the first bad address", async () => {
    const d = new SparseDriver(0x1800n);
    d.poke(0x17fen, new Uint8Array([5, 6]));
    const c = new PageCache(16);
    const [ok, bad] = await cachedReadPhys(d, c, [{ gpa: 0x17fen, len: 2 }, { gpa: 0x17f0n, len: 0x20 }]);
    assert.deepEqual(ok, new Uint8Array([5, 6]));
    assert.ok(bad instanceof VmiError && bad.code === "INVALID_ADDRESS");
    assert.equal(bad.details["address"], 0x1800n);
  });

  it("bypasses the cache for large ranges and passes through with capacity 0", async () => {
    const d = new SparseDriver(1n << 24n);
    const c = new PageCache(16);
    const [big] = await cachedReadPhys(d, c, [{ gpa: 0n, len: 1 << 20 }]);
    assert.equal((big as Uint8Array).length, 1 << 20);
    assert.equal(c.size, 0);
    const off = new PageCache(0);
    await cachedReadPhys(d, off, [{ gpa: 0n, len: 8 }]);
    await cachedReadPhys(d, off, [{ gpa: 0n, len: 8 }]);
    assert.equal(d.count("readPhys"), 3);
  });
});

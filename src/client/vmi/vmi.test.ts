import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Vmi } from "./vmi.js";
import { SparseDriver } from "./testing/sparse-driver.js";
import { PageTableBuilder } from "../arch/testing/page-tables.js";
import { kva, pa, dtbVa, pidVa, ksym, ctxAdd, formatCtx } from "./access-context.js";
import { PageFaultError, VmiError } from "./errors.js";
import type { DriverEvent } from "./driver.js";

const KBASE = 0xffffffff81000000n;

/** Kernel VA pages KBASE+i*4K → frames in reverse order (so neighbours are never contiguous). */
function world(caps: ConstructorParameters<typeof SparseDriver>[1] = {}) {
  const d = new SparseDriver(1n << 32n, caps);
  const pt = new PageTableBuilder(d);
  for (let i = 0n; i < 16n; i++) pt.map(KBASE + i * 0x1000n, 0x800000n - i * 0x1000n);
  return { d, pt };
}

async function rejects(p: Promise<unknown>, code: string): Promise<VmiError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof VmiError, String(e));
    assert.equal(e.code, code);
    return e;
  }
  assert.fail(`expected ${code}`);
}

describe("Vmi read path", () => {
  it("splits reads at page boundaries onto non-contiguous frames", async () => {
    const { d, pt } = world();
    d.poke(0x800ffcn, new Uint8Array([1, 2, 3, 4])); // end of page 0
    d.poke(0x7ff000n, new Uint8Array([5, 6, 7, 8])); // start of page 1
    const vmi = await Vmi.open(d, { kernelDtb: pt.root });
    assert.deepEqual(await vmi.read(kva(KBASE + 0xffcn), 8), new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    assert.equal(await vmi.translate(kva(KBASE + 0x1004n)), 0x7ff004n);
    assert.deepEqual(await vmi.read(dtbVa(pt.root, KBASE + 0xffcn), 8), await vmi.read(kva(KBASE + 0xffcn), 8));
  });

  it("has typed readers: integers, pointers, arrays and bounded C strings across pages", async () => {
    const { d, pt } = world();
    const vmi = await Vmi.open(d, { kernelDtb: pt.root });
    d.poke(0x800000n, new Uint8Array([0xfe, 0xff, 0xff, 0xff, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]));
    assert.equal(await vmi.u8(kva(KBASE)), 0xfe);
    assert.equal(await vmi.u16(kva(KBASE)), 0xfffe);
    assert.equal(await vmi.u32(kva(KBASE)), 0xfffffffe);
    assert.equal(await vmi.i32(kva(KBASE)), -2);
    assert.equal(await vmi.u64(kva(KBASE + 4n)), 0x1122334455667788n);
    assert.equal(await vmi.pointer(kva(KBASE + 4n)), 0x1122334455667788n);
    assert.deepEqual(await vmi.u32Array(kva(KBASE), 2), [0xfffffffe, 0x55667788]);
    assert.deepEqual(await vmi.u64Array(kva(KBASE + 4n), 1), [0x1122334455667788n]);
    // "hello world" straddling pages 0 and 1.
    const s = new TextEncoder().encode("hello world\0");
    d.poke(0x800ffan, s.subarray(0, 6));
    d.poke(0x7ff000n, s.subarray(6));
    vmi.invalidate(); // memory changed behind the Vmi's back
    assert.equal(await vmi.readCString(kva(KBASE + 0xffan)), "hello world");
    assert.equal(await vmi.readCString(kva(KBASE + 0xffan), 5), "hello");
    // A string ending just before an unmapped page still reads.
    d.poke(0x7f2000n - 3n, new TextEncoder().encode("ok\0"));
    vmi.invalidate();
    assert.equal(await vmi.readCString(kva(KBASE + 0x10000n - 3n), 100), "ok");
    // Without a NUL before the unmapped page: the fault.
    d.poke(0x7f2000n - 3n, new TextEncoder().encode("abc"));
    vmi.invalidate([0x7f1n]);
    const e = await rejects(vmi.readCString(kva(KBASE + 0x10000n - 3n), 100), "PAGE_FAULT");
    assert.equal((e as PageFaultError).va, KBASE + 0x10000n);
  });

  it("batches readMany: cold, one table read per level plus one data read; warm, no driver call", async () => {
    const { d, pt } = world();
    const vmi = await Vmi.open(d, { kernelDtb: pt.root });
    const reqs = Array.from({ length: 16 }, (_, i) => ({ ctx: kva(KBASE + BigInt(i) * 0x1000n + 0x10n), len: 16 }));
    const before = d.count("readPhys");
    const out = await vmi.readMany(reqs);
    assert.equal(out.length, 16);
    assert.equal(d.count("readPhys") - before, 5);
    await vmi.readMany(reqs);
    assert.equal(d.count("readPhys") - before, 5);
  });

  it("reports failures per request in readManySettled and throws the first in readMany", async () => {
    const { d, pt } = world();
    const vmi = await Vmi.open(d, { kernelDtb: pt.root });
    const rs = await vmi.readManySettled([
      { ctx: kva(KBASE), len: 4 },
      { ctx: kva(0xffffffff90000000n), len: 4 },
      { ctx: pa((1n << 32n) - 2n), len: 4 },
      { ctx: kva(KBASE), len: -1 },
    ]);
    assert.ok(rs[0] instanceof Uint8Array);
    assert.ok(rs[1] instanceof PageFaultError);
    assert.ok(rs[2] instanceof VmiError && rs[2].code === "INVALID_ADDRESS" && rs[2].details["address"] === 1n << 32n);
    assert.ok(rs[3] instanceof VmiError && rs[3].code === "BAD_ARGUMENT");
    await rejects(vmi.readMany([{ ctx: kva(KBASE), len: 4 }, { ctx: kva(0xffffffff90000000n), len: 4 }]), "PAGE_FAULT");
    await rejects(vmi.read(kva((1n << 64n) - 2n), 4), "INVALID_ADDRESS");
  });

  it("resolves pid and ksym contexts through the hooks, once per name per batch", async () => {
    const { d, pt } = world();
    const user = new PageTableBuilder(d, 4, 0x2000000n);
    user.map(0x400000n, 0x900000n);
    d.poke(0x900010n, new Uint8Array([0xaa]));
    d.poke(0x800020n, new Uint8Array([0xbb]));
    const vmi = await Vmi.open(d, { kernelDtb: pt.root });
    await rejects(vmi.read(pidVa(1, 0x400010n), 1), "NO_RESOLVER");
    await rejects(vmi.read(ksym("init_task"), 1), "NO_RESOLVER");
    let pidCalls = 0;
    let symCalls = 0;
    vmi.setPidResolver(async (pid) => {
      pidCalls++;
      if (pid !== 42) throw new VmiError("RESOLVE_FAILED", "no such pid", { pid });
      return user.root;
    });
    vmi.setSymbolResolver((s) => {
      symCalls++;
      if (s === "init_task") return KBASE;
      throw new Error(`unknown symbol ${s}`);
    });
    const [a, b, c] = await vmi.readMany([
      { ctx: pidVa(42, 0x400010n), len: 1 },
      { ctx: pidVa(42, 0x400011n), len: 1 },
      { ctx: ksym("init_task", 0x20n), len: 1 },
    ]);
    assert.deepEqual([a![0], b![0], c![0]], [0xaa, 0, 0xbb]);
    assert.equal(pidCalls, 1);
    assert.equal(await vmi.u8(ksym("init_task", 0x20n)), 0xbb);
    assert.equal(symCalls, 2);
    await rejects(vmi.read(pidVa(7, 0n), 1), "RESOLVE_FAILED");
    const e = await rejects(vmi.read(ksym("nope"), 1), "RESOLVE_FAILED");
    assert.equal(e.details["symbol"], "nope");
    vmi.setKernelDtb(undefined);
    await rejects(vmi.read(kva(KBASE), 1), "NO_KERNEL_DTB");
  });

  it("writes across pages and invalidates what it wrote (including translations)", async () => {
    const { d, pt } = world();
    const vmi = await Vmi.open(d, { kernelDtb: pt.root });
    assert.deepEqual(await vmi.read(kva(KBASE + 0xffen), 4), new Uint8Array(4));
    await vmi.write(kva(KBASE + 0xffen), new Uint8Array([1, 2, 3, 4]));
    assert.deepEqual(d.peek(0x800ffen, 2), new Uint8Array([1, 2]));
    assert.deepEqual(d.peek(0x7ff000n, 2), new Uint8Array([3, 4]));
    assert.deepEqual(await vmi.read(kva(KBASE + 0xffen), 4), new Uint8Array([1, 2, 3, 4]));
    // Remap page 0 by writing its PTE through the Vmi: the next read follows the new mapping.
    const pte = pt.entryAddress(KBASE, "PT");
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, pt.entry(0x7ff000n, {}), true);
    await vmi.write(pa(pte), b);
    assert.equal(await vmi.translate(kva(KBASE + 1n)), 0x7ff001n);
    await rejects(vmi.write(pa(1n << 32n), new Uint8Array(1)), "INVALID_ADDRESS");
  });

  it("drops cached memory when the driver's invalidation sink is called", async () => {
    const { d, pt } = world();
    const vmi = await Vmi.open(d, { kernelDtb: pt.root });
    assert.equal(await vmi.u8(kva(KBASE)), 0);
    d.poke(0x800000n, new Uint8Array([9]));
    assert.equal(await vmi.u8(kva(KBASE)), 0, "cached");
    d.sink!.invalidateFrames([0x800n]);
    assert.equal(await vmi.u8(kva(KBASE)), 9);
    d.poke(0x800000n, new Uint8Array([10]));
    d.sink!.invalidateAll();
    assert.equal(await vmi.u8(kva(KBASE)), 10);
  });

  it("caches a live driver only while paused; resume and events invalidate", async () => {
    const { d, pt } = world({ live: true, pause: true, events: true });
    let handler: ((e: DriverEvent) => void) | undefined;
    Object.assign(d, {
      pause: () => Promise.resolve(),
      resume: () => Promise.resolve(),
      subscribe: (h: (e: DriverEvent) => void) => {
        handler = h;
        return { dispose: () => (handler = undefined) };
      },
    });
    const vmi = await Vmi.open(d, { kernelDtb: pt.root });
    assert.equal(vmi.caching, false);
    await vmi.u8(kva(KBASE));
    d.poke(0x800000n, new Uint8Array([1]));
    assert.equal(await vmi.u8(kva(KBASE)), 1, "running: never stale");
    await vmi.pause();
    assert.equal(vmi.caching, true);
    await vmi.u8(kva(KBASE));
    d.poke(0x800000n, new Uint8Array([2]));
    assert.equal(await vmi.u8(kva(KBASE)), 1, "paused: cached");
    const seen: string[] = [];
    const sub = vmi.onEvent((e) => seen.push(`${e.kind}:${vmi.cache.has(0x800n)}`));
    handler!({ kind: "memory-access", changedFrames: [0x800n] });
    assert.deepEqual(seen, ["memory-access:false"]);
    assert.equal(await vmi.u8(kva(KBASE)), 2);
    d.poke(0x800000n, new Uint8Array([3]));
    await vmi.resume();
    assert.equal(vmi.cache.size, 0);
    assert.equal(await vmi.u8(kva(KBASE)), 3);
    sub.dispose();
    assert.equal(handler, undefined);
  });

  it("uses the driver's remote translation when it has one", async () => {
    const { d, pt } = world({ translate: true });
    d.remoteTranslate = (_dtb, va) =>
      va >= KBASE && va < KBASE + 0x10000n
        ? { va, pa: 0x800000n - (va - KBASE) + (va & 0xfffn), pageSize: 0x1000n, writable: true, user: false, nx: false }
        : new PageFaultError({ va, dtb: _dtb, level: "PT", reason: "not-present", entry: 0n, entryAddress: 0n });
    d.poke(0x7ff008n, new Uint8Array([0x42]));
    const vmi = await Vmi.open(d, { kernelDtb: pt.root });
    const before = d.count("readPhys");
    assert.equal(await vmi.u8(kva(KBASE + 0x1008n)), 0x42);
    assert.equal(d.count("translate"), 1);
    assert.equal(d.count("readPhys") - before, 1, "only the data read");
    await rejects(vmi.read(kva(KBASE + 0x20000n), 1), "PAGE_FAULT");
    const local = await Vmi.open(d, { kernelDtb: pt.root, walk: "local" });
    assert.equal(await local.u8(kva(KBASE + 0x1008n)), 0x42);
    assert.equal(d.count("translate"), 2);
  });

  it("sends virtual reads to readVirt when uncached and the driver walks remotely", async () => {
    const { d, pt } = world({ translate: true, readVirt: true });
    const asked: bigint[] = [];
    Object.assign(d, {
      readVirt: (dtb: bigint, ranges: readonly { va: bigint; len: number }[]) => {
        d.calls.push({ op: "readVirt", count: ranges.length });
        asked.push(dtb);
        return Promise.resolve(ranges.map((r) => new Uint8Array(r.len).fill(Number(r.va & 0xffn))));
      },
    });
    const vmi = await Vmi.open(d, { kernelDtb: pt.root, cacheFrames: 0 });
    const [a, b] = await vmi.readMany([{ ctx: kva(KBASE + 3n), len: 2 }, { ctx: kva(KBASE + 5n), len: 1 }]);
    assert.deepEqual([a, b], [new Uint8Array([3, 3]), new Uint8Array([5])]);
    assert.equal(d.count("readVirt"), 1);
    assert.deepEqual(asked, [pt.root]);
  });

  it("says UNSUPPORTED for capabilities the driver lacks", async () => {
    const { d, pt } = world({ write: false });
    const vmi = await Vmi.open(d, { kernelDtb: pt.root });
    const e = await rejects(vmi.registers(0), "UNSUPPORTED");
    assert.equal(e.details["capability"], "registers");
    await rejects(vmi.write(kva(KBASE), new Uint8Array(1)), "UNSUPPORTED");
    await rejects(vmi.pause(), "UNSUPPORTED");
    assert.throws(() => vmi.onEvent(() => undefined), (x: unknown) => x instanceof VmiError && x.code === "UNSUPPORTED");
    await assert.rejects(Vmi.open(d, { walk: "remote" }), (x: unknown) => x instanceof VmiError && x.code === "UNSUPPORTED");
  });

  it("moves and prints contexts", () => {
    assert.deepEqual(ctxAdd(kva((1n << 64n) - 1n), 2), kva(1n));
    assert.deepEqual(ctxAdd(ksym("init_task"), 0x10), ksym("init_task", 0x10n));
    assert.equal(formatCtx(ksym("init_task", 0x10n)), "ksym:init_task+0x10");
    assert.equal(formatCtx(pidVa(1, 0x400000n)), "pid(1):0x400000");
  });
});

describe("Vmi over a driver that reads pages with their frames", () => {
  /** The world above, with the driver walking, reading and gathering on its side (like the agent). */
  function remote(o: Parameters<SparseDriver["enableRemote"]>[0] = {}) {
    const w = world();
    w.d.enableRemote(o);
    return w;
  }
  const ops = (d: SparseDriver) => d.calls.map((c) => `${c.op}:${c.count}`);

  it("serves a page miss with ONE framed read of the page, caches it by frame and keeps the translation", async () => {
    const { d, pt } = remote();
    d.poke(0x7ff008n, new Uint8Array([0x42, 0x43]));
    const vmi = await Vmi.open(d, { kernelDtb: pt.root });
    assert.equal(await vmi.u8(kva(KBASE + 0x1008n)), 0x42);
    assert.deepEqual(ops(d), ["readVirtFrames:1"], "no translate, no readPhys");
    assert.ok(vmi.cache.has(0x7ffn), "cached by the frame the driver named");
    // The rest of the page, its physical address and its translation: no call.
    assert.equal(await vmi.u8(kva(KBASE + 0x1009n)), 0x43);
    assert.equal(await vmi.u8(pa(0x7ff009n)), 0x43);
    assert.equal(await vmi.translate(kva(KBASE + 0x1004n)), 0x7ff004n);
    assert.equal(d.calls.length, 1);
    // Several missing pages in one batch: one call; a read across a page boundary lands on both frames.
    const [x] = await vmi.readMany([{ ctx: kva(KBASE + 0x2ffen), len: 4 }, { ctx: kva(KBASE + 0x5000n), len: 8 }]);
    assert.deepEqual(ops(d).slice(1), ["readVirtFrames:3"]);
    assert.deepEqual(x, new Uint8Array(4));
    assert.deepEqual([0x7fen, 0x7fdn, 0x7fbn].map((f) => vmi.cache.has(f)), [true, true, true]);
  });

  it("joins the page misses of concurrent reads into one framed read", async () => {
    const { d, pt } = remote();
    const vmi = await Vmi.open(d, { kernelDtb: pt.root });
    await Promise.all([vmi.u8(kva(KBASE)), vmi.u8(kva(KBASE + 0x1000n)), vmi.read(kva(KBASE + 0x1ff0n), 0x20), vmi.u8(kva(KBASE + 0x3000n))]);
    assert.deepEqual(ops(d), ["readVirtFrames:4"]);
  });

  it("drops the page and the translation on invalidation, writes and events; an invalidation during the read keeps nothing", async () => {
    const { d, pt } = remote({});
    const vmi = await Vmi.open(d, { kernelDtb: pt.root });
    assert.equal(await vmi.u8(kva(KBASE)), 0);
    d.poke(0x800000n, new Uint8Array([1]));
    assert.equal(await vmi.u8(kva(KBASE)), 0, "cached");
    d.sink!.invalidateFrames([0x800n]);
    assert.equal(await vmi.u8(kva(KBASE)), 1);
    assert.equal(d.count("readVirtFrames"), 2);
    // A write through the Vmi: the next read is fresh.
    await vmi.write(kva(KBASE), new Uint8Array([7]));
    assert.equal(await vmi.u8(kva(KBASE)), 7);
    // Memory changes and the driver says so while the framed read is in flight.
    const inner = d.readVirtFrames.bind(d);
    d.readVirtFrames = async (dtb, ranges) => {
      const r = await inner(dtb, ranges);
      d.poke(0x7ff000n, new Uint8Array([9]));
      d.sink!.invalidateAll();
      return r;
    };
    assert.equal(await vmi.u8(kva(KBASE + 0x1000n)), 0, "the caller gets what was read");
    assert.equal(vmi.cache.has(0x7ffn), false, "but it is not kept");
    d.readVirtFrames = inner;
    assert.equal(await vmi.u8(kva(KBASE + 0x1000n)), 9);
  });

  it("reads failures exactly as without frames (the failing pages are translated again)", async () => {
    const { d, pt } = remote();
    pt.map(KBASE + 0x20000n, (1n << 32n) + 0x1000n); // maps beyond memory
    const plainD = new SparseDriver(1n << 32n, {}, d.frames).enableRemote({ frames: false, gather: false });
    const vmi = await Vmi.open(d, { kernelDtb: pt.root });
    const ref = await Vmi.open(plainD, { kernelDtb: pt.root });
    for (const at of [KBASE + 0x30000n, KBASE + 0x20010n]) {
      const got = await rejects(vmi.read(kva(at), 4), at === KBASE + 0x30000n ? "PAGE_FAULT" : "INVALID_ADDRESS");
      const want = await rejects(ref.read(kva(at), 4), got.code);
      assert.deepEqual([got.message, got.details], [want.message, want.details]);
    }
    assert.ok(d.count("translate") >= 2, "the failed pages were translated");
  });

  it("falls back to translate + readPhys for good when the peer sends no frames", async () => {
    const { d, pt } = remote({ framesSent: false });
    d.poke(0x800010n, new Uint8Array([5]));
    const vmi = await Vmi.open(d, { kernelDtb: pt.root });
    assert.equal(await vmi.u8(kva(KBASE + 0x10n)), 5);
    assert.deepEqual(ops(d), ["readVirtFrames:1", "translate:1", "readPhys:1"]);
    assert.equal(await vmi.u8(kva(KBASE + 0x1000n)), 0);
    assert.deepEqual(ops(d).slice(3), ["translate:1", "readPhys:1"]);
  });

  it("uses plain virtual reads while not caching, and local walks when asked", async () => {
    const { d, pt } = remote();
    const uncached = await Vmi.open(d, { kernelDtb: pt.root, cacheFrames: 0 });
    await uncached.u8(kva(KBASE));
    assert.deepEqual(ops(d), ["readVirt:1"]);
    const local = await Vmi.open(d, { kernelDtb: pt.root, walk: "local" });
    await local.u8(kva(KBASE));
    assert.equal(d.count("readVirtFrames") + d.count("translate"), 0);
    assert.equal(local.canGatherList, false);
  });
});

describe("Vmi.gatherList", () => {
  /** A circular list of three nodes (next at +0, a tag at +8) on different pages, its head at KBASE + 0x10. */
  function list() {
    const { d, pt } = world();
    d.enableRemote();
    const head = KBASE + 0x10n;
    const nodes = [KBASE + 0x1020n, KBASE + 0x3040n, KBASE + 0x2060n];
    const paOf = (va: bigint) => 0x800000n - ((va - KBASE) & ~0xfffn) + (va & 0xfffn);
    [head, ...nodes].forEach((n, i, all) => {
      d.poke64(paOf(n), all[(i + 1) % all.length]!);
      d.poke64(paOf(n) + 8n, BigInt(0x100 + i));
    });
    return { d, pt, head, nodes, paOf };
  }
  const spec = (head: bigint) => ({ head: kva(head), nextOffset: 0, stop: head, maxNodes: 10, readOffset: 8, readLen: 8 });

  it("returns the nodes and each node's bytes in one driver call, remembered while caching", async () => {
    const { d, pt, head, nodes } = list();
    const vmi = await Vmi.open(d, { kernelDtb: pt.root });
    assert.equal(vmi.canGatherList, true);
    const g = await vmi.gatherList(spec(head));
    assert.deepEqual(g.nodes, nodes);
    assert.deepEqual(
      g.reads.map((r) => (r instanceof Uint8Array ? new DataView(r.buffer, r.byteOffset).getBigUint64(0, true) : r)),
      [0x101n, 0x102n, 0x103n],
    );
    assert.equal(g.stop, "reached");
    assert.equal(d.count("gatherList"), 1);
    assert.equal(await vmi.gatherList(spec(head)), g, "remembered");
    vmi.invalidate();
    await vmi.gatherList(spec(head));
    assert.equal(d.count("gatherList"), 2);
    const uncached = await Vmi.open(d, { kernelDtb: pt.root, cacheFrames: 0 });
    await uncached.gatherList(spec(head));
    await uncached.gatherList(spec(head));
    assert.equal(d.count("gatherList"), 4);
  });

  it("stops on the node budget, NULL, a cycle and an unreadable next pointer; per-node read failures are per node", async () => {
    const { d, pt, head, nodes, paOf } = list();
    const vmi = await Vmi.open(d, { kernelDtb: pt.root, cacheFrames: 0 });
    assert.deepEqual(await vmi.gatherList({ ...spec(head), maxNodes: 2 }).then((g) => [g.nodes, g.stop]), [nodes.slice(0, 2), "max-nodes"]);
    d.poke64(paOf(nodes[1]!), nodes[0]!);
    assert.deepEqual(await vmi.gatherList(spec(head)).then((g) => [g.nodes, g.stop]), [nodes.slice(0, 2), "cycle"]);
    d.poke64(paOf(nodes[1]!), 0n);
    assert.equal((await vmi.gatherList(spec(head))).stop, "null");
    d.poke64(paOf(nodes[1]!), 0xffffffff90000000n);
    const g = await vmi.gatherList({ ...spec(head), readOffset: 0x10000 }); // 16 pages on: unmapped
    assert.deepEqual([g.nodes.length, g.stop], [3, "fault"]);
    assert.ok(g.reads.every((r) => r instanceof VmiError && r.code === "PAGE_FAULT"));
  });

  it("refuses a physical head and bad numbers; says UNSUPPORTED without the capability, and stops asking a peer that refuses", async () => {
    const { d, pt, head } = list();
    const vmi = await Vmi.open(d, { kernelDtb: pt.root });
    await rejects(vmi.gatherList({ ...spec(head), head: pa(0x1000n) }), "BAD_ARGUMENT");
    await rejects(vmi.gatherList({ ...spec(head), readLen: -1 }), "BAD_ARGUMENT");
    await rejects(vmi.gatherList({ ...spec(head), nextOffset: 0.5 }), "BAD_ARGUMENT");
    const { d: bare, pt: pt2 } = world({ translate: true });
    const v2 = await Vmi.open(bare, { kernelDtb: pt2.root });
    assert.equal(v2.canGatherList, false);
    await rejects(v2.gatherList(spec(head)), "UNSUPPORTED");
    const old = list();
    old.d.enableRemote({ gatherRefused: true });
    const v3 = await Vmi.open(old.d, { kernelDtb: old.pt.root });
    assert.equal(v3.canGatherList, true);
    await rejects(v3.gatherList(spec(old.head)), "UNSUPPORTED");
    assert.equal(v3.canGatherList, false);
  });
});

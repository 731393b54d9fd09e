/** Image drivers: write → read round trips, strict rejection of bad headers, gzip. */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { DecodeError, SeededRng } from "../../../shared/base/index.js";
import { openImage, openImageBytes } from "./open-image.js";
import { writeLime } from "./lime-writer.js";
import { writeElfCore } from "./elf-core-writer.js";
import { FileSink, MemorySink, driverChunkSource, type ChunkSource } from "./dump-writer.js";
import { ElfCoreDecodeError, GzipDecodeError, ImageDecodeError, LimeDecodeError } from "./image-error.js";
import { LIME_HEADER } from "./lime-layout.js";
import { ELF64_PHDR } from "./elf-layout.js";
import { VmiError } from "../errors.js";
import { registerSet, REGISTER_NAMES, type RegisterSet } from "../registers.js";
import type { MemoryRange } from "../driver.js";

const RANGES: MemoryRange[] = [
  { gpa: 0x0n, len: 0x3000n },
  { gpa: 0x10000n, len: 0x2345n }, // not page-aligned
  { gpa: 0xfffc0000n, len: 0x1000n },
];

/** Deterministic guest memory: byte at gpa = hash of gpa. */
const byteAt = (gpa: bigint): number => Number((gpa * 2654435761n) >> 7n) & 0xff;
const source: ChunkSource = (gpa, len) => Promise.resolve(Uint8Array.from({ length: len }, (_, i) => byteAt(gpa + BigInt(i))));
const expected = (gpa: bigint, len: number) => Uint8Array.from({ length: len }, (_, i) => byteAt(gpa + BigInt(i)));

async function build(kind: "lime" | "elf", opts: { vcpus?: RegisterSet[]; chunkSize?: number } = {}): Promise<Uint8Array> {
  const sink = new MemorySink();
  if (kind === "lime") await writeLime(sink, RANGES, source, { chunkSize: opts.chunkSize ?? 0x1000 });
  else await writeElfCore(sink, RANGES, source, { chunkSize: opts.chunkSize ?? 0x1000, vcpus: opts.vcpus ?? [] });
  return sink.bytes();
}

function sampleRegs(seed: number): RegisterSet {
  const rng = new SeededRng(seed);
  const r: Record<string, unknown> = {};
  for (const n of REGISTER_NAMES) r[n] = rng.bigint(1n << 64n);
  const seg = (attrib: bigint) => ({ selector: rng.bigint(1n << 16n), base: rng.bigint(1n << 64n), limit: 0xffffffffn, attrib });
  return registerSet({
    ...(r as Partial<RegisterSet>),
    cs: seg(0xa9bn), ds: seg(0xc93n), es: seg(0xc93n), fs: seg(0xc93n), gs: seg(0xc93n), ss: seg(0xc93n),
    tr: { selector: 0x40n, base: 0xfffffe0000003000n, limit: 0x4087n, attrib: 0x089n },
    ldtr: { selector: 0n, base: 0n, limit: 0n, attrib: 0x082n },
    gdtr: { base: 0xfffffe0000001000n, limit: 0x7fn },
    idtr: { base: 0xfffffe0000000000n, limit: 0xfffn },
  });
}

async function rejectsWith(p: Promise<unknown>, cls: new (...a: never[]) => Error, code: string): Promise<ImageDecodeError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    assert.equal((e as DecodeError).code, code);
    return e as ImageDecodeError;
  }
  assert.fail(`expected ${code}`);
}

describe("LiME", () => {
  it("round-trips ranges and bytes, and names unbacked addresses", async () => {
    const drv = await openImageBytes(await build("lime"), "t.lime");
    assert.equal(drv.format, "lime");
    assert.deepEqual((await drv.info()).memoryRanges, RANGES);
    const rs = await drv.readPhys([
      { gpa: 0x1ff0n, len: 0x20 },
      { gpa: 0x12340n, len: 5 },
      { gpa: 0x12340n, len: 6 },
      { gpa: 0x3000n, len: 1 },
    ]);
    assert.deepEqual(rs[0], expected(0x1ff0n, 0x20));
    assert.deepEqual(rs[1], expected(0x12340n, 5));
    assert.ok(rs[2] instanceof VmiError && rs[2].code === "INVALID_ADDRESS" && rs[2].details["address"] === 0x12345n);
    assert.ok(rs[3] instanceof VmiError && rs[3].details["address"] === 0x3000n && rs[3].details["layer"] === "physical");
  });

  it("rejects bad magic, version, order, truncation, overlap and empty files by name", async () => {
    const good = await build("lime");
    const edit = (f: (b: Uint8Array, dv: DataView) => void) => {
      const b = new Uint8Array(good);
      f(b, new DataView(b.buffer));
      return b;
    };
    const secondHdr = LIME_HEADER.size + 0x3000;
    let e = await rejectsWith(openImageBytes(edit((_, dv) => dv.setUint32(secondHdr, 0x12345678, true)), "x.lime"), LimeDecodeError, "BAD_MAGIC");
    assert.equal(e.file, "x.lime");
    assert.equal(e.details["offset"], secondHdr);
    await rejectsWith(openImageBytes(edit((_, dv) => dv.setUint32(4, 2, true)), "x.lime"), LimeDecodeError, "BAD_VERSION");
    await rejectsWith(openImageBytes(edit((_, dv) => dv.setBigUint64(secondHdr + 16, 0n, true)), "x.lime", { format: "lime" }), LimeDecodeError, "BAD_RANGE");
    e = await rejectsWith(openImageBytes(good.subarray(0, good.length - 1), "x.lime"), LimeDecodeError, "TRUNCATED");
    assert.equal(e.details["index"], 2);
    await rejectsWith(openImageBytes(good.subarray(0, secondHdr + 10), "x.lime"), LimeDecodeError, "TRUNCATED");
    await rejectsWith(
      openImageBytes(edit((_, dv) => dv.setBigUint64(secondHdr + 8, 0x2000n, true)), "x.lime", { format: "lime" }),
      LimeDecodeError,
      "TRUNCATED", // the range grows past the file before any overlap could be seen
    );
    const overlapping = new MemorySink();
    await overlapping.write(LIME_HEADER.serialize({ magic: 0x4c694d45, version: 1, s_addr: 0n, e_addr: 0xfffn }));
    await overlapping.write(new Uint8Array(0x1000));
    await overlapping.write(LIME_HEADER.serialize({ magic: 0x4c694d45, version: 1, s_addr: 0x800n, e_addr: 0x17ffn }));
    await overlapping.write(new Uint8Array(0x1000));
    await rejectsWith(openImageBytes(overlapping.bytes(), "o.lime"), LimeDecodeError, "OVERLAP");
    await rejectsWith(openImageBytes(new Uint8Array(0), "e.lime", { format: "lime" }), LimeDecodeError, "EMPTY");
  });
});

describe("ELF core", () => {
  it("round-trips ranges, bytes and registers through NT_PRSTATUS and QEMU notes", async () => {
    const vcpus = [sampleRegs(1), sampleRegs(2), sampleRegs(3)];
    const drv = await openImageBytes(await build("elf", { vcpus }), "t.elf");
    assert.equal(drv.format, "elf-core");
    const info = await drv.info();
    assert.deepEqual(info.memoryRanges, RANGES);
    assert.equal(info.vcpuCount, 3);
    assert.deepEqual((await drv.readPhys([{ gpa: 0x10000n, len: 0x2345 }]))[0], expected(0x10000n, 0x2345));
    const got = await drv.getRegisters();
    got.forEach((v, i) => {
      for (const name of v.known) assert.deepEqual(v.regs[name], vcpus[i]![name], `vCPU ${i} ${name}`);
      assert.equal(v.regs.efer, 0n, "EFER is not in an ELF core");
      assert.equal(v.known.has("efer"), false);
    });
    assert.equal(got[1]!.regs.cr3, vcpus[1]!.cr3);
    assert.deepEqual(await drv.registers(2), got[2]!.regs);
    await assert.rejects(drv.getRegisters([3]), (e: unknown) => e instanceof VmiError && e.code === "BAD_ARGUMENT");
  });

  it("falls back to NT_PRSTATUS when there is no QEMU note", async () => {
    const regs = sampleRegs(9);
    const bytes = await build("elf", { vcpus: [regs] });
    // Rename the QEMU note to something unknown: only PRSTATUS remains for registers.
    const at = Buffer.from(bytes).indexOf("QEMU\0");
    bytes[at] = "X".charCodeAt(0);
    const [v] = await (await openImageBytes(bytes, "p.elf")).getRegisters();
    assert.deepEqual([v!.regs.rip, v!.regs.rsp, v!.regs.gs.base, v!.regs.cs.selector], [regs.rip, regs.rsp, regs.gs.base, regs.cs.selector]);
    assert.equal(v!.known.has("cr3"), false);
  });

  it("handles more than 65534 program headers (PN_XNUM)", async () => {
    const ranges = Array.from({ length: 70000 }, (_, i) => ({ gpa: BigInt(i) * 0x2000n, len: 1n }));
    const sink = new MemorySink();
    await writeElfCore(sink, ranges, source);
    const drv = await openImageBytes(sink.bytes(), "many.elf");
    const info = await drv.info();
    assert.equal(info.memoryRanges.length, 70000);
    assert.deepEqual((await drv.readPhys([{ gpa: 69999n * 0x2000n, len: 1 }]))[0], expected(69999n * 0x2000n, 1));
  });

  it("rejects bad identity, truncated tables and segments, overlaps, bad notes", async () => {
    const good = await build("elf", { vcpus: [sampleRegs(4)] });
    const edit = (f: (dv: DataView) => void) => {
      const b = new Uint8Array(good);
      f(new DataView(b.buffer));
      return b;
    };
    const ph = (i: number) => 64 + i * ELF64_PHDR.size;
    const cases: Array<[Uint8Array, string]> = [
      [edit((dv) => dv.setUint8(4, 1)), "BAD_CLASS"],
      [edit((dv) => dv.setUint8(5, 2)), "BAD_DATA"],
      [edit((dv) => dv.setUint16(16, 2, true)), "NOT_CORE"],
      [edit((dv) => dv.setUint16(18, 3, true)), "BAD_MACHINE"],
      [edit((dv) => dv.setUint16(54, 32, true)), "BAD_PHENTSIZE"],
      [edit((dv) => dv.setBigUint64(32, 1n << 60n, true)), "TRUNCATED"],
      [edit((dv) => dv.setBigUint64(ph(1) + 32, 1n << 40n, true)), "TRUNCATED"],
      [edit((dv) => dv.setBigUint64(ph(1) + 8, 0xffffffffffffff00n, true)), "TRUNCATED"],
      [edit((dv) => dv.setBigUint64(ph(1) + 40, 0n, true)), "BAD_SEGMENT"],
      [edit((dv) => dv.setBigUint64(ph(2) + 24, 0x1000n, true)), "OVERLAP"],
      [edit((dv) => dv.setBigUint64(ph(3) + 24, 0xffffffffffffff00n, true)), "BAD_SEGMENT"],
      [edit((dv) => dv.setUint32(dv.getUint32(ph(0) + 8, true) + 4, 0xfffffff0, true)), "BAD_NOTE"],
      [good.subarray(0, 40), "TRUNCATED"],
      [good.subarray(0, good.length - 1), "TRUNCATED"],
    ];
    for (const [bytes, code] of cases) {
      const e = await rejectsWith(openImageBytes(bytes, "bad.elf"), ElfCoreDecodeError, code);
      assert.equal(e.file, "bad.elf");
      assert.equal(e.format, "elf-core");
    }
  });
});

describe("raw images, files and gzip", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "seven-vmi-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads raw images flat from a base, from a file in place", async () => {
    const bytes = expected(0n, 0x3000);
    await writeFile(join(dir, "mem.raw"), bytes);
    const drv = await openImage(join(dir, "mem.raw"), { rawBase: 0x100000n });
    assert.equal(drv.format, "raw");
    assert.deepEqual((await drv.info()).memoryRanges, [{ gpa: 0x100000n, len: 0x3000n }]);
    const [a, b] = await drv.readPhys([{ gpa: 0x100ff0n, len: 0x20 }, { gpa: 0xfffffn, len: 2 }]);
    assert.deepEqual(a, bytes.subarray(0xff0, 0x1010));
    assert.ok(b instanceof VmiError && b.details["address"] === 0xfffffn);
    await assert.rejects(drv.writePhys([{ gpa: 0x100000n, data: new Uint8Array(1) }]), (e: unknown) => e instanceof VmiError && e.code === "UNSUPPORTED");
    await drv.close();
    await assert.rejects(drv.readPhys([]), (e: unknown) => e instanceof VmiError && e.code === "DRIVER_CLOSED");
  });

  it("writes in-memory images opened writable, never the file", async () => {
    await writeFile(join(dir, "w.raw"), new Uint8Array(0x2000));
    const drv = await openImage(join(dir, "w.raw"), { writable: true });
    assert.deepEqual(await drv.writePhys([{ gpa: 0xffen, data: new Uint8Array([1, 2, 3, 4]) }]), [undefined]);
    assert.deepEqual((await drv.readPhys([{ gpa: 0xffen, len: 4 }]))[0], new Uint8Array([1, 2, 3, 4]));
    assert.equal((await readFile(join(dir, "w.raw")))[0xffe], 0);
  });

  it("dumps a driver to LiME and ELF files and reads them back, gzip-compressed too", async () => {
    const src = await openImageBytes(await build("elf", { vcpus: [sampleRegs(5)] }), "src.elf");
    const ranges = (await src.info()).memoryRanges;
    const progress: bigint[] = [];
    for (const [name, write] of [
      ["d.lime", (s: FileSink) => writeLime(s, ranges, driverChunkSource(src), { chunkSize: 0x1800, onProgress: (p) => progress.push(p.done) })],
      ["d.elf", async (s: FileSink) => writeElfCore(s, ranges, driverChunkSource(src), { vcpus: [await src.registers(0)] })],
    ] as const) {
      const sink = await FileSink.create(join(dir, name));
      await write(sink);
      await sink.close();
      await writeFile(join(dir, name + ".gz"), gzipSync(await readFile(join(dir, name))));
      for (const file of [name, name + ".gz"]) {
        const drv = await openImage(join(dir, file));
        assert.deepEqual((await drv.info()).memoryRanges, RANGES);
        const all = await drv.readPhys(RANGES.map((r) => ({ gpa: r.gpa, len: Number(r.len) })));
        RANGES.forEach((r, i) => assert.deepEqual(all[i], expected(r.gpa, Number(r.len))));
        if (name === "d.elf") assert.equal((await drv.registers(0)).cr3, (await src.registers(0)).cr3);
        await drv.close();
      }
    }
    assert.equal(progress[progress.length - 1], 0x3000n + 0x2345n + 0x1000n);
  });

  it("rejects corrupt, truncated and oversized gzip with GzipDecodeError", async () => {
    const z = gzipSync(expected(0n, 0x40000));
    await writeFile(join(dir, "t.gz"), z.subarray(0, z.length >> 1));
    await rejectsWith(openImage(join(dir, "t.gz")), GzipDecodeError, "TRUNCATED");
    const bad = new Uint8Array(z);
    for (let i = 20; i < 60; i++) bad[i] = bad[i]! ^ 0x5a;
    await writeFile(join(dir, "c.gz"), bad);
    const e = await rejectsWith(openImage(join(dir, "c.gz")), GzipDecodeError, "BAD_GZIP");
    assert.equal(e.file, join(dir, "c.gz"));
    await writeFile(join(dir, "big.gz"), z);
    await rejectsWith(openImage(join(dir, "big.gz"), { maxBytes: 0x10000 }), GzipDecodeError, "TOO_LARGE");
    assert.ok(e instanceof DecodeError);
  });
});

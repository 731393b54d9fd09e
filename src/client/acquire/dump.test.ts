import assert from "node:assert/strict";
import { mkdtemp, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { VmiError, openImage, registerSet, type Driver, type PhysRange, type ReadResult } from "../vmi/index.js";
import { SparseDriver } from "../vmi/testing/sparse-driver.js";
import { AcquireError } from "./errors.js";
import { defaultReadAhead, dumpMemory, subtractRegions } from "./dump.js";
import { readJournal } from "./journal.js";

const MiB = 1n << 20n;

function machine(): SparseDriver {
  const d = new SparseDriver(6n * MiB, { registers: true });
  for (let i = 0n; i < 6n * MiB; i += 4096n) d.poke(i, Uint8Array.of(Number((i >> 12n) & 0xffn), 0xa5, Number(i & 0xffn)));
  return d;
}

/** A driver that fails its n-th readPhys (a dropped session). */
function failing(inner: Driver, n: number): Driver {
  let calls = 0;
  return {
    name: inner.name,
    capabilities: inner.capabilities,
    info: () => inner.info(),
    readPhys: (r: readonly PhysRange[]): Promise<ReadResult[]> => {
      if (++calls >= n) return Promise.reject(new VmiError("DRIVER_CLOSED", "the agent closed the session"));
      return inner.readPhys(r);
    },
    close: () => inner.close(),
  };
}

const tmp = (): Promise<string> => mkdtemp(join(tmpdir(), "seven-dump-"));
const exclude = [{ start: 4n * MiB, end: 5n * MiB }];

/** `src` answering each read a turn of the event loop later; `most` = the most reads in flight seen. */
function slowDriver(src: Driver): Driver & { readonly most: number } {
  let out = 0;
  let most = 0;
  return {
    name: "slow",
    capabilities: src.capabilities,
    info: () => src.info(),
    readPhys: async (r) => {
      most = Math.max(most, ++out);
      await new Promise((res) => setImmediate(res));
      out--;
      return src.readPhys(r);
    },
    close: () => src.close(),
    get most() {
      return most;
    },
  };
}

describe("dumpMemory", () => {
  it("subtracts excluded regions", () => {
    assert.deepEqual(subtractRegions([{ gpa: 0n, len: 6n * MiB }], exclude), [
      { gpa: 0n, len: 4n * MiB },
      { gpa: 5n * MiB, len: MiB },
    ]);
    assert.deepEqual(subtractRegions([{ gpa: 0n, len: MiB }], [{ start: 0n, end: 2n * MiB }]), []);
  });

  for (const format of ["lime", "elf", "raw"] as const) {
    it(`writes a ${format} image that the image driver loads with the same bytes`, async () => {
      const src = machine();
      const out = join(await tmp(), `mem.${format}`);
      const r = await dumpMemory(src, { out, format, source: "test", exclude, chunkSize: 1 << 20 });
      assert.equal(r.dataBytes, 5n * MiB);
      const img = await openImage(out);
      try {
        assert.equal(img.format, format === "elf" ? "elf-core" : format);
        for (const gpa of [0n, 0x1000n, 3n * MiB + 0x7000n, 5n * MiB, 6n * MiB - 4096n]) {
          const [got] = await img.readPhys([{ gpa, len: 4096 }]);
          assert.deepEqual(got, src.peek(gpa, 4096), `0x${gpa.toString(16)}`);
        }
        const [hole] = await img.readPhys([{ gpa: 4n * MiB + 16n, len: 16 }]);
        if (format === "raw") assert.deepEqual(hole, new Uint8Array(16), "the excluded region reads as zeros in a raw image");
        else assert.ok(hole instanceof VmiError && hole.code === "INVALID_ADDRESS", "the excluded region is not in the image");
      } finally {
        await img.close();
      }
      assert.equal(await stat(`${out}.journal`).catch(() => undefined), undefined);
      assert.equal(await stat(`${out}.partial`).catch(() => undefined), undefined);
    });
  }

  for (const format of ["lime", "elf", "raw"] as const) {
    it(`keeps FILE.partial and a journal when interrupted, and --resume finishes the same ${format} file`, async () => {
      const src = machine();
      const dir = await tmp();
      const whole = join(dir, "whole");
      await dumpMemory(src, { out: whole, format, source: "vm", exclude, chunkSize: 1 << 19, vcpus: [registerSet({ rip: 1n })] });
      const out = join(dir, "cut");
      await assert.rejects(dumpMemory(failing(src, 5), { out, format, source: "vm", exclude, chunkSize: 1 << 19, vcpus: [registerSet({ rip: 1n })] }), (e: unknown) => {
        assert.ok(e instanceof AcquireError);
        assert.equal(e.code, "DUMP_INTERRUPTED");
        assert.match(e.message, /dump stopped at [\d.]+ of 5\.0 MiB \(the agent closed the session\); .*\.partial and .*\.journal are kept: run the same command with --resume/);
        return true;
      });
      const j = await readJournal(`${out}.journal`);
      assert.ok(BigInt(j.dataBytes) > 0n && BigInt(j.dataBytes) < 5n * MiB);
      await assert.rejects(dumpMemory(src, { out, format, source: "vm", exclude, chunkSize: 1 << 19 }), (e: unknown) => e instanceof AcquireError && e.code === "PARTIAL_EXISTS");
      await assert.rejects(dumpMemory(src, { out, format: format === "raw" ? "lime" : "raw", source: "vm", exclude, chunkSize: 1 << 19, resume: true }), (e: unknown) => e instanceof AcquireError && e.code === "JOURNAL_MISMATCH");
      const r = await dumpMemory(src, { out, format, source: "vm", exclude, chunkSize: 1 << 19, resume: true, vcpus: [registerSet({ rip: 1n })] });
      assert.equal(r.resumedAt, BigInt(j.dataBytes));
      assert.equal(r.readBytes, 5n * MiB - BigInt(j.dataBytes), "only what was missing was read again");
      assert.deepEqual(await readFile(out), await readFile(whole));
    });
  }

  it("keeps readAhead + 1 chunk reads in flight, and writes the same file whatever the read-ahead", async () => {
    const src = machine();
    const dir = await tmp();
    for (const format of ["raw", "lime"] as const) {
      const files: Buffer[] = [];
      for (const readAhead of [0, 1, 3]) {
        const slow = slowDriver(src);
        const path = join(dir, `${format}-${readAhead}`);
        await dumpMemory(slow, { out: path, format, source: "vm", exclude, chunkSize: 1 << 19, readAhead });
        assert.equal(slow.most, readAhead + 1, `${format}, read-ahead ${readAhead}`);
        files.push(await readFile(path));
      }
      assert.deepEqual(files[1], files[0]);
      assert.deepEqual(files[2], files[0]);
    }
  });

  it("by default keeps about 24 MiB of chunk reads ahead (1 to 16 chunks)", async () => {
    assert.deepEqual([64 << 20, 8 << 20, 4 << 20, 1 << 20, 1 << 16].map(defaultReadAhead), [1, 3, 6, 16, 16]);
    const src = machine();
    const slow = slowDriver(src);
    const dir = await tmp();
    await dumpMemory(slow, { out: join(dir, "d.raw"), format: "raw", source: "vm", exclude, chunkSize: 1 << 16 });
    assert.equal(slow.most, defaultReadAhead(1 << 16) + 1);
    await dumpMemory(src, { out: join(dir, "e.raw"), format: "raw", source: "vm", exclude, chunkSize: 1 << 16, readAhead: 0 });
    assert.deepEqual(await readFile(join(dir, "d.raw")), await readFile(join(dir, "e.raw")));
  });

  it("reads a raw image's chunks as parts of at most 1 MiB in one readPhys each, and writes the guest's bytes, holes zero-filled", async () => {
    const src = machine();
    const calls: (readonly PhysRange[])[] = [];
    const spy: Driver = { name: "spy", capabilities: src.capabilities, info: () => src.info(), readPhys: (r) => (calls.push(r), src.readPhys(r)), close: () => src.close() };
    const out = join(await tmp(), "p.raw");
    await dumpMemory(spy, { out, format: "raw", source: "vm", exclude, chunkSize: 3 << 19 });
    for (const c of calls) {
      assert.ok(c.every((r) => r.len <= Number(MiB)));
      c.forEach((r, i) => i > 0 && assert.equal(r.gpa, c[i - 1]!.gpa + BigInt(c[i - 1]!.len), "the parts tile the chunk"));
    }
    assert.ok(calls.some((c) => c.length === 2));
    const file = await readFile(out);
    const want = await src.readPhys([{ gpa: 0n, len: Number(4n * MiB) }, { gpa: 5n * MiB, len: Number(MiB) }]);
    assert.deepEqual(file.subarray(0, Number(4n * MiB)), Buffer.from(want[0] as Uint8Array));
    assert.deepEqual(file.subarray(Number(4n * MiB), Number(5n * MiB)), Buffer.alloc(Number(MiB)), "the excluded hole is zeros");
    assert.deepEqual(file.subarray(Number(5n * MiB)), Buffer.from(want[1] as Uint8Array));
  });

  it("stops on an abort signal, and refuses --resume without a journal", async () => {
    const src = machine();
    const out = join(await tmp(), "m.lime");
    const ac = new AbortController();
    await assert.rejects(
      dumpMemory(src, { out, format: "lime", source: "vm", chunkSize: 1 << 19, signal: ac.signal, onProgress: (p) => p.done >= MiB && ac.abort() }),
      (e: unknown) => e instanceof AcquireError && e.code === "DUMP_INTERRUPTED" && /\(interrupted\)/.test(e.message),
    );
    await assert.rejects(dumpMemory(src, { out: join(await tmp(), "x"), format: "lime", source: "vm", resume: true }), (e: unknown) => e instanceof AcquireError && e.code === "NO_JOURNAL");
  });
});

/**
 * Image parsers on mutated and truncated files: they either open or throw an
 * ImageDecodeError naming the file — never another error, never a hang — and an opened
 * image answers every read with bytes or a VmiError.
 */
import { it, before, after } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { openImage, openImageBytes } from "./open-image.js";
import { writeLime } from "./lime-writer.js";
import { writeElfCore } from "./elf-core-writer.js";
import { MemorySink, type ChunkSource } from "./dump-writer.js";
import { ImageDecodeError } from "./image-error.js";
import { VmiError } from "../errors.js";
import { registerSet } from "../registers.js";
import type { ImageDriver } from "./image-driver.js";

const RUNS = Number(process.env.SEVEN_FUZZ_RUNS ?? 200);
const RANGES = [
  { gpa: 0n, len: 0x1000n },
  { gpa: 0x100000n, len: 0x800n },
  { gpa: 0xfffff000n, len: 0x1000n },
];
const src: ChunkSource = (gpa, len) => Promise.resolve(Uint8Array.from({ length: len }, (_, i) => Number((gpa + BigInt(i)) & 0xffn)));

let lime: Uint8Array;
let elf: Uint8Array;
let dir: string;

before(async () => {
  const a = new MemorySink();
  await writeLime(a, RANGES, src);
  lime = a.bytes();
  const b = new MemorySink();
  await writeElfCore(b, RANGES, src, { vcpus: [registerSet({ cr3: 0x1000n, rip: 0xffffffff81000000n }), registerSet({ cr3: 0x2000n })] });
  elf = b.bytes();
  dir = await mkdtemp(join(tmpdir(), "seven-vmi-fuzz-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Byte edits concentrated where the headers are, with values parsers care about. */
const edits = (span: number) =>
  fc.array(
    fc.record({
      at: fc.integer({ min: 0, max: span - 1 }),
      kind: fc.constantFrom("byte", "u32", "u64"),
      value: fc.oneof(
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.constantFrom(0n, 1n, 0xffn, 0xffffn, 0xffffffffn, (1n << 64n) - 1n, 1n << 63n, 0x38n, 0x40n),
      ),
    }),
    { minLength: 1, maxLength: 8 },
  );

function mutate(base: Uint8Array, es: Array<{ at: number; kind: string; value: bigint }>, cut: number | null): Uint8Array {
  const b = new Uint8Array(base);
  const dv = new DataView(b.buffer);
  for (const e of es) {
    const n = e.kind === "byte" ? 1 : e.kind === "u32" ? 4 : 8;
    if (e.at + n > b.length) continue;
    if (n === 1) dv.setUint8(e.at, Number(e.value & 0xffn));
    else if (n === 4) dv.setUint32(e.at, Number(e.value & 0xffffffffn), true);
    else dv.setBigUint64(e.at, e.value, true);
  }
  return cut === null ? b : b.subarray(0, Math.min(cut, b.length));
}

async function exercise(drv: ImageDriver, probes: Array<{ gpa: bigint; len: number }>): Promise<void> {
  const rs = await drv.readPhys(probes);
  rs.forEach((r, i) => assert.ok(r instanceof VmiError || r.length === probes[i]!.len));
  if (drv.capabilities.registers) await drv.getRegisters();
}

const probes = fc.array(
  fc.record({ gpa: fc.oneof(fc.bigInt({ min: 0n, max: 0x100002000n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })), len: fc.integer({ min: 0, max: 0x3000 }) }),
  { maxLength: 6 },
);

for (const [name, get, span] of [
  ["LiME", () => lime, 0x1100],
  ["ELF core", () => elf, 0x900],
] as const) {
  it(`${name}: mutated headers and truncation give a typed error or a working image`, async () => {
    await fc.assert(
      fc.asyncProperty(edits(span), fc.option(fc.nat({ max: 0x3000 })), probes, async (es, cut, ps) => {
        const bytes = mutate(get(), es, cut);
        let drv: ImageDriver;
        try {
          drv = await openImageBytes(bytes, "fuzz.img");
        } catch (e) {
          assert.ok(e instanceof ImageDecodeError, `unexpected ${String(e)}`);
          assert.equal(e.file, "fuzz.img");
          return;
        }
        await exercise(drv, ps);
      }),
      { numRuns: RUNS },
    );
  });
}

it("gzip: corrupted compressed images give a typed error or a working image", async () => {
  const z = gzipSync(elf);
  let n = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(fc.record({ at: fc.nat({ max: z.length - 1 }), v: fc.nat({ max: 255 }) }), { minLength: 1, maxLength: 4 }), fc.option(fc.nat({ max: z.length })), async (flips, cut) => {
      const b = new Uint8Array(z);
      for (const f of flips) b[f.at] = f.v;
      const path = join(dir, `f${n++}.gz`);
      await writeFile(path, cut === null ? b : b.subarray(0, cut));
      try {
        const drv = await openImage(path);
        try {
          await exercise(drv, [{ gpa: 0n, len: 16 }]);
        } finally {
          await drv.close();
        }
      } catch (e) {
        assert.ok(e instanceof ImageDecodeError, `unexpected ${String(e)}`);
        assert.equal(e.file, path);
      }
    }),
    { numRuns: Math.max(20, Math.floor(RUNS / 4)) },
  );
});

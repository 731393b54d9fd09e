/**
 * The VMI core against real Debian 6.1 memory images (../shared/fixtures/linux): the ELF
 * core parses, its ranges and QEMU register notes match what QEMU printed, and page walks
 * with the dumped CR3 find the kernel banner and the IDT.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileSink, driverChunkSource } from "./images/dump-writer.js";
import { writeElfCore } from "./images/elf-core-writer.js";
import { writeLime } from "./images/lime-writer.js";
import { readU64 } from "../../shared/base/index.js";
import { openImage } from "./images/open-image.js";
import type { ImageDriver } from "./images/image-driver.js";
import type { LoadProgress } from "./images/gzip.js";
import { Vmi } from "./vmi.js";
import { kva, ksym, pa, dtbVa } from "./access-context.js";
import { VmiError } from "./errors.js";
import { qemuFlagsToAttrib } from "./registers.js";
import { tableReader, translate, DEFAULT_PAGING } from "../arch/x86-64.js";
import { FIXTURE_IMAGES, fixtureSkip, parseInfoRegisters, systemMapAddress, type FixtureImage } from "./testing/fixtures.js";

const BANNER = "Linux version 6.1.0-56-amd64";
const IDT_BASE = 0xfffffe0000000000n;

/** Numbers copied by hand from each image's registers.txt. */
const EXPECTED: Record<FixtureImage["name"], Array<{ cr3: bigint; rip: bigint; gsBase: bigint; idtBase: bigint; rsp: bigint }>> = {
  "nokaslr-256M": [
    { cr3: 0x5f8a000n, rip: 0xffffffff81a592ebn, gsBase: 0xffff88800f800000n, idtBase: 0xfffffe0000000000n, rsp: 0xffffffff82a03e98n },
    { cr3: 0x5f8a000n, rip: 0xffffffff81a592ebn, gsBase: 0xffff88800f900000n, idtBase: 0xfffffe0000000000n, rsp: 0xffffc9000009bed8n },
  ],
  "kaslr-256M": [
    { cr3: 0xb410000n, rip: 0xffffffff9a2592ebn, gsBase: 0xffff8f0a0f800000n, idtBase: 0xfffffe0000000000n, rsp: 0xffffffff9b203e98n },
    { cr3: 0x2a60000n, rip: 0xffffffff9a2592ebn, gsBase: 0xffff8f0a0f900000n, idtBase: 0xfffffe0000000000n, rsp: 0xffffd18a4009bed8n },
  ],
};

/** PT_LOAD ranges from the fixture README: low RAM, RAM above the VGA hole, VGA, BIOS. */
const README_RANGES = [
  { gpa: 0x0n, len: 0xa0000n },
  { gpa: 0xc0000n, len: 0x10000000n - 0xc0000n },
  { gpa: 0xfd000000n, len: 16n << 20n },
  { gpa: 0xfffc0000n, len: 0x40000n },
];

/** Handler address of an IDT gate (16 bytes). */
function gateHandler(g: Uint8Array): bigint {
  const lo = BigInt(g[0]! | (g[1]! << 8));
  const mid = BigInt(g[6]! | (g[7]! << 8));
  const hi = BigInt((g[8]! | (g[9]! << 8) | (g[10]! << 16) | (g[11]! << 24)) >>> 0);
  return lo | (mid << 16n) | (hi << 32n);
}

for (const img of FIXTURE_IMAGES) {
  describe(`real image ${img.name}`, { skip: fixtureSkip(img) }, () => {
    let drv: ImageDriver;
    const progress: LoadProgress[] = [];
    const banner = () => systemMapAddress("linux_banner") + img.slide;

    before(async () => {
      drv = await openImage(img.vmcore, { onProgress: (p) => progress.push(p) });
    });
    after(async () => {
      await drv?.close();
    });

    it("decompresses with progress reports ending at the file size", () => {
      assert.ok(progress.length > 1);
      const last = progress[progress.length - 1]!;
      assert.equal(last.done, last.total);
      assert.equal(last.output, drv.source.size);
      for (let i = 1; i < progress.length; i++) assert.ok(progress[i]!.output >= progress[i - 1]!.output);
    });

    it("parses as an x86-64 ELF core with the README's PT_LOAD ranges", async () => {
      assert.equal(drv.format, "elf-core");
      const info = await drv.info();
      assert.deepEqual(info.memoryRanges, README_RANGES);
      assert.equal(info.vcpuCount, 2);
      assert.equal(info.maxPhysAddress, 0x100000000n);
      assert.equal(drv.notes.filter((n) => n.name === "CORE" && n.type === 1).length, 2);
      assert.equal(drv.notes.filter((n) => n.name === "QEMU" && n.type === 0).length, 2);
    });

    it("gives CR3, RIP, GS base, IDT base and RSP of both vCPUs as registers.txt shows", async () => {
      const vcpus = await drv.getRegisters();
      assert.equal(vcpus.length, 2);
      EXPECTED[img.name].forEach((e, i) => {
        const r = vcpus[i]!.regs;
        assert.equal(r.cr3, e.cr3, `CPU#${i} CR3`);
        assert.equal(r.rip, e.rip, `CPU#${i} RIP`);
        assert.equal(r.gs.base, e.gsBase, `CPU#${i} GS base`);
        assert.equal(r.idtr.base, e.idtBase, `CPU#${i} IDT base`);
        assert.equal(r.rsp, e.rsp, `CPU#${i} RSP`);
        assert.ok(vcpus[i]!.known.has("cr3") && !vcpus[i]!.known.has("efer"));
      });
    });

    it("matches every GPR, control register, segment and table of registers.txt", async () => {
      const text = parseInfoRegisters(readFileSync(img.registersTxt, "utf8"));
      const vcpus = await drv.getRegisters();
      assert.equal(text.length, vcpus.length);
      text.forEach((t, i) => {
        const r = vcpus[i]!.regs;
        const gprs = ["RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "RSP", "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15", "RIP"] as const;
        for (const g of gprs) assert.equal(r[g.toLowerCase() as Lowercase<typeof g>], t.values.get(g), `CPU#${i} ${g}`);
        assert.equal(r.rflags, t.values.get("RFL"));
        for (const c of ["CR0", "CR2", "CR3", "CR4"] as const) assert.equal(r[c.toLowerCase() as Lowercase<typeof c>], t.values.get(c), `CPU#${i} ${c}`);
        const segs = { ES: r.es, CS: r.cs, SS: r.ss, DS: r.ds, FS: r.fs, GS: r.gs, LDT: r.ldtr, TR: r.tr };
        for (const [name, s] of Object.entries(segs)) {
          const [sel, base, limit, flags] = t.segments.get(name)!;
          assert.deepEqual([s.selector, s.base, s.limit, s.attrib], [sel, base, limit, qemuFlagsToAttrib(flags)], `CPU#${i} ${name}`);
        }
        assert.deepEqual([r.gdtr.base, r.gdtr.limit], t.tables.get("GDT"));
        assert.deepEqual([r.idtr.base, r.idtr.limit], t.tables.get("IDT"));
      });
    });

    it("translates linux_banner with each vCPU's CR3 to the kernel banner", async () => {
      const read = tableReader((r) => drv.readPhys(r));
      for (const v of await drv.getRegisters()) {
        const t = await translate(read, v.regs.cr3, banner(), DEFAULT_PAGING);
        assert.equal(t.pa & 0x1fffffn, banner() & 0x1fffffn, "2 MiB-aligned physical placement keeps the low 21 bits");
        assert.equal(t.nx, true, "linux_banner is data");
        assert.equal(t.user, false);
        const [bytes] = await drv.readPhys([{ gpa: t.pa, len: BANNER.length }]);
        assert.equal(new TextDecoder().decode(bytes as Uint8Array), BANNER);
      }
    });

    it("translates the IDT base; gate 0 is asm_exc_divide_error plus the slide", async () => {
      const regs = (await drv.getRegisters())[0]!.regs;
      const t = await translate(tableReader((r) => drv.readPhys(r)), regs.cr3, IDT_BASE);
      const [gate] = await drv.readPhys([{ gpa: t.pa, len: 16 }]);
      assert.equal(gateHandler(gate as Uint8Array) - systemMapAddress("asm_exc_divide_error"), img.slide);
    });

    it("reads the same through kva, dtb, ksym and pa access contexts", async () => {
      const regs = (await drv.getRegisters())[0]!.regs;
      const vmi = await Vmi.open(drv, { kernelDtb: regs.cr3, symbolResolver: (s) => systemMapAddress(s) + img.slide });
      assert.equal(await vmi.readCString(kva(banner()), 28), BANNER);
      assert.equal(await vmi.readCString(dtbVa(regs.cr3, banner()), 28), BANNER);
      assert.match(await vmi.readCString(ksym("linux_banner")), /^Linux version 6\.1\.0-56-amd64 .*Debian 6\.1\.192-2/);
      const phys = await vmi.translate(ksym("linux_banner"));
      assert.equal(await vmi.readCString(pa(phys), 28), BANNER);
      const gate = await vmi.read(kva(IDT_BASE), 16);
      assert.equal(gateHandler(gate) - systemMapAddress("asm_exc_divide_error"), img.slide);
      // gs base is this CPU's per-CPU area: its first pointer-sized field is readable too.
      assert.equal(typeof (await vmi.pointer(kva(regs.gs.base))), "bigint");
    });

    it("batches many reads and reports unmapped ones per request", async () => {
      const regs = (await drv.getRegisters())[0]!.regs;
      const vmi = await Vmi.open(drv, { kernelDtb: regs.cr3 });
      const gates = Array.from({ length: 32 }, (_, i) => ({ ctx: kva(IDT_BASE + BigInt(i) * 16n), len: 16 }));
      const res = await vmi.readManySettled([...gates, { ctx: kva(0x1000n), len: 8 }, { ctx: pa(0x20000000n), len: 8 }]);
      for (let i = 0; i < 32; i++) assert.ok(res[i] instanceof Uint8Array);
      const faults = res.slice(32);
      assert.ok(faults[0] instanceof VmiError && faults[0].code === "PAGE_FAULT");
      assert.ok(faults[1] instanceof VmiError && faults[1].code === "INVALID_ADDRESS");
      assert.equal((faults[1] as VmiError).details["address"], 0x20000000n);
      // Pointers read in one batch equal those read one by one.
      const one = await vmi.pointer(kva(banner()));
      const [many] = await vmi.pointerMany([kva(banner())]);
      assert.equal(many, one);
      assert.equal(readU64(await vmi.read(kva(banner()), 8), 0), one);
    });

    it("re-dumps to ELF (with register notes) and LiME files that read back the same", async () => {
      const dir = await mkdtemp(join(tmpdir(), "seven-redump-"));
      try {
        const info = await drv.info();
        const vcpus = await drv.getRegisters();
        const read = driverChunkSource(drv);
        const elfSink = await FileSink.create(join(dir, "core.elf"));
        await writeElfCore(elfSink, info.memoryRanges, read, { vcpus: vcpus.map((v) => v.regs), chunkSize: 4 << 20 });
        await elfSink.close();
        const limeSink = await FileSink.create(join(dir, "mem.lime"));
        await writeLime(limeSink, info.memoryRanges, read, { chunkSize: 4 << 20 });
        await limeSink.close();

        const elf = await openImage(join(dir, "core.elf"));
        const lime = await openImage(join(dir, "mem.lime"));
        try {
          assert.deepEqual((await elf.info()).memoryRanges, info.memoryRanges);
          assert.deepEqual((await lime.info()).memoryRanges, info.memoryRanges);
          const again = await elf.getRegisters();
          vcpus.forEach((v, i) => {
            for (const name of v.known) assert.deepEqual(again[i]!.regs[name], v.regs[name], `CPU#${i} ${name}`);
          });
          // Sample 64 KiB windows across all ranges: identical in all three images.
          for (const r of info.memoryRanges) {
            for (const at of [r.gpa, r.gpa + r.len / 2n, r.gpa + r.len - 0x10000n]) {
              const want = (await drv.readPhys([{ gpa: at, len: 0x10000 }]))[0];
              assert.deepEqual((await elf.readPhys([{ gpa: at, len: 0x10000 }]))[0], want);
              assert.deepEqual((await lime.readPhys([{ gpa: at, len: 0x10000 }]))[0], want);
            }
          }
          // The re-dumped core is as introspectable as the original: CR3 from its notes finds the banner.
          const vmi = await Vmi.open(elf, { kernelDtb: again[0]!.regs.cr3 });
          assert.equal(await vmi.readCString(kva(banner()), 28), BANNER);
        } finally {
          await elf.close();
          await lime.close();
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
}

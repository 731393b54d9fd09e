/**
 * Kernel discovery on synthetic kernels placed like KASLR places them: both memory routes
 * find the slides with no registers, register routes agree, decoys and damage are handled,
 * and failures say why.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { testProfile } from "../testing/profile.js";
import { SyntheticKernel } from "../testing/synthetic-kernel.js";
import { LinuxError } from "../errors.js";
import { discoverKernel } from "./discover.js";
import { registerSet } from "../../vmi/index.js";
import { START_KERNEL_MAP } from "../constants.js";

const RUNS = Math.min(Number(process.env.SEVEN_FUZZ_RUNS ?? 200), 12);
const MIB2 = 0x200000n;

describe("discoverKernel", () => {
  it("finds any KASLR placement from memory alone, and the register routes agree", async () => {
    const p = await testProfile();
    const imageSize = p.requireSymbol("_end") - p.requireSymbol("_text");
    await fc.assert(
      fc.asyncProperty(fc.nat(0x1b0), fc.nat(0x60), fc.nat(0x7f), async (vs, ps, dm) => {
        const virtSlide = BigInt(vs) * MIB2;
        const physText = 0x1000000n + BigInt(ps) * MIB2;
        fc.pre(physText + imageSize < 0x10000000n && p.requireSymbol("_end") + virtSlide <= START_KERNEL_MAP + (1n << 30n));
        const pageOffsetBase = 0xffff888000000000n + BigInt(dm) * (1n << 30n);
        const s = new SyntheticKernel(p, { virtSlide, physText, pageOffsetBase });
        const vmi = await s.vmi();
        const loc = await discoverKernel(vmi, p, { useRegisters: false });
        assert.equal(loc.virtSlide, virtSlide);
        assert.equal(loc.physText, physText);
        assert.equal(loc.physSlide, physText - 0x1000000n);
        assert.equal(loc.pageOffsetBase, pageOffsetBase);
        assert.equal(loc.dtb, s.dtb);
        assert.equal(loc.physBase, BigInt.asUintN(64, physText - (p.requireSymbol("_text") + virtSlide - START_KERNEL_MAP)));
        assert.deepEqual(loc.routes.map((r) => [r.route, r.status]), [["banner", "found"], ["swapper", "found"]]);
        const withRegs = await discoverKernel(vmi, p);
        assert.deepEqual(withRegs.routes.map((r) => [r.route, r.status, r.virtSlide]), [
          ["banner", "found", virtSlide],
          ["swapper", "found", virtSlide],
          ["idt", "found", virtSlide],
          ["lstar", "found", virtSlide],
        ]);
        assert.ok(withRegs.checks.every((c) => c.ok));
      }),
      { numRuns: RUNS },
    );
  });

  it("probes one place per 2 MiB, in one batched read per route", async () => {
    const p = await testProfile();
    const s = new SyntheticKernel(p);
    const vmi = await s.vmi();
    s.mem.calls.length = 0;
    const loc = await discoverKernel(vmi, p, { useRegisters: false, routes: ["banner"] });
    const banner = loc.routes[0]!;
    assert.equal(banner.probed, Number(s.memoryEnd / MIB2));
    assert.equal(banner.hits, 1);
    assert.ok(banner.ms >= 0);
    assert.ok(s.mem.calls.filter((c) => c.op === "readPhys" && c.count === banner.probed).length === 1);
  });

  it("ignores a planted banner that no page table maps", async () => {
    const p = await testProfile();
    const s = new SyntheticKernel(p, { virtSlide: 0x600000n, physText: 0x5000000n });
    const decoy = s.pa(s.sym("linux_banner")) + 0x4000000n;
    s.mem.poke(decoy, new TextEncoder().encode(p.banner ?? "Linux version x"));
    const loc = await discoverKernel(await s.vmi(), p, { useRegisters: false });
    assert.equal(loc.routes[0]!.hits, 2);
    assert.equal(loc.virtSlide, 0x600000n);
    assert.equal(loc.bannerPa, s.pa(s.sym("linux_banner")));
  });

  it("falls back to the swapper route when the banner is gone, and says why when both are", async () => {
    const p = await testProfile();
    const s = new SyntheticKernel(p, { virtSlide: 0x800000n, physText: 0x3000000n });
    s.cstr(s.sym("linux_banner"), "overwritten");
    const loc = await discoverKernel(await s.vmi(), p, { useRegisters: false });
    assert.deepEqual(loc.routes.map((r) => r.status), ["not-found", "found"]);
    assert.equal(loc.virtSlide, 0x800000n);
    s.cstr(s.initTask + s.off("task_struct", "comm"), "nobody");
    s.mem.poke(0x7000123n, new TextEncoder().encode("Linux version 9.9.9-other (x) #1\n\0"));
    await assert.rejects(discoverKernel(await s.vmi(), p, { useRegisters: false }), (e: unknown) => {
      assert.ok(e instanceof LinuxError && e.code === "KERNEL_NOT_FOUND");
      assert.deepEqual(e.details["bannersAt"], [0x7000123n]);
      assert.match(e.message, /Linux version 9\.9\.9-other/);
      return true;
    });
  });

  it("refuses a placement whose phys_base contradicts it", async () => {
    const p = await testProfile();
    const s = new SyntheticKernel(p);
    s.u64(s.sym("phys_base"), 0x200000n);
    await assert.rejects(discoverKernel(await s.vmi(), p, { useRegisters: false }), (e: unknown) => e instanceof LinuxError && e.code === "DISCOVERY_MISMATCH");
  });

  it("reports a hooked LSTAR or IDT as a failed cross-check without giving up", async () => {
    const p = await testProfile();
    const s = new SyntheticKernel(p, { virtSlide: 0xa00000n });
    s.setGate(0, { handler: s.sym("asm_exc_divide_error") + MIB2 });
    s.mem.setVcpus(s.vcpuRegisters().map((v) => ({ ...v, regs: registerSet({ ...v.regs, lstar: s.alloc(8) }) })));
    const loc = await discoverKernel(await s.vmi(), p);
    assert.equal(loc.virtSlide, 0xa00000n);
    assert.equal(loc.routes.find((r) => r.route === "lstar")!.status, "not-found");
    const idt = loc.checks.find((c) => c.name === "banner vs idt")!;
    assert.equal(idt.ok, false);
    assert.match(idt.detail, /0xc00000/);
  });

  it("skips the register routes for a driver without registers", async () => {
    const p = await testProfile();
    const s = new SyntheticKernel(p, { registers: false });
    const loc = await discoverKernel(await s.vmi(), p);
    assert.deepEqual(loc.routes.map((r) => r.route), ["banner", "swapper", "idt", "lstar"]);
    assert.deepEqual(loc.routes.slice(2).map((r) => r.status), ["skipped", "skipped"]);
  });
});

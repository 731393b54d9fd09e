import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { physBaseOf, placeKernel, LOAD_PHYSICAL_ADDR, PAGE_OFFSET_BASE_L4, CPU_ENTRY_AREA_BASE, KERNEL_IMAGE_SIZE, START_KERNEL_MAP } from "./placement.js";
import { GuestError } from "../errors.js";

const TEXT = 0xffffffff81000000n;
const END = 0xffffffff84430000n;
const MIB = 1n << 20n;
const RUNS = Number(process.env["SEVEN_FUZZ_RUNS"] ?? 200);

test("nokaslr: _text at 0xffffffff81000000 / PA 16 MiB, phys_base 0, the fixed region bases", () => {
  const p = placeKernel({ seed: "x", kaslr: false, textSym: TEXT, endSym: END, guestRamEnd: 240n * MIB, reserveBytes: 8n * MIB });
  assert.equal(p.virtSlide, 0n);
  assert.equal(p.physText, LOAD_PHYSICAL_ADDR);
  assert.equal(p.physBase, 0n);
  assert.equal(p.pageOffsetBase, PAGE_OFFSET_BASE_L4);
  assert.equal(p.vmallocBase, 0xffffc90000000000n);
  assert.equal(p.vmemmapBase, 0xffffea0000000000n);
});

test("KASLR choices: 2 MiB steps, inside their ranges, phys_base consistent, independent, deterministic", () => {
  fc.assert(
    fc.property(fc.string(), fc.integer({ min: 128, max: 4096 }), (seed, ramMib) => {
      const ram = BigInt(ramMib) * MIB;
      const p = placeKernel({ seed, kaslr: true, textSym: TEXT, endSym: END, guestRamEnd: ram, reserveBytes: 8n * MIB });
      assert.equal(p.virtSlide % (2n * MIB), 0n);
      assert.equal(p.physText % (2n * MIB), 0n);
      assert.ok(p.physText >= LOAD_PHYSICAL_ADDR && p.physText + p.imageBytes + 8n * MIB <= ram);
      const va = TEXT + p.virtSlide;
      assert.ok(va >= START_KERNEL_MAP + LOAD_PHYSICAL_ADDR && va + p.imageBytes <= START_KERNEL_MAP + KERNEL_IMAGE_SIZE);
      // VA → PA = VA − __START_KERNEL_map + phys_base for every image address.
      assert.equal(BigInt.asUintN(64, va - START_KERNEL_MAP + p.physBase), p.physText);
      for (const b of [p.pageOffsetBase, p.vmallocBase, p.vmemmapBase]) {
        assert.equal(b % (1n << 30n), 0n);
        assert.ok(b >= PAGE_OFFSET_BASE_L4 && b < CPU_ENTRY_AREA_BASE);
      }
      assert.ok(p.pageOffsetBase + ram <= p.vmallocBase && p.vmallocBase + (32n << 40n) <= p.vmemmapBase);
      assert.deepEqual(placeKernel({ seed, kaslr: true, textSym: TEXT, endSym: END, guestRamEnd: ram, reserveBytes: 8n * MIB }), p);
    }),
    { numRuns: RUNS },
  );
});

test("both slides vary with the seed, and 0 can be chosen", () => {
  const ps = Array.from({ length: 64 }, (_, i) => placeKernel({ seed: `s${i}`, kaslr: true, textSym: TEXT, endSym: END, guestRamEnd: 96n * MIB, reserveBytes: 8n * MIB }));
  assert.ok(new Set(ps.map((p) => p.virtSlide)).size > 10);
  const phys = new Set(ps.map((p) => p.physText));
  assert.ok(phys.size > 1 && phys.has(LOAD_PHYSICAL_ADDR), "with little room the lowest slot (slide 0) is drawn too");
});

test("not enough guest RAM is GUEST_RAM_TOO_SMALL", () => {
  assert.throws(
    () => placeKernel({ seed: "x", kaslr: true, textSym: TEXT, endSym: END, guestRamEnd: 48n * MIB, reserveBytes: 8n * MIB }),
    (e: unknown) => e instanceof GuestError && e.code === "GUEST_RAM_TOO_SMALL",
  );
});

test("phys_base wraps as Linux's does: the fixture's KASLR boot (VA slide 0x18800000, PA 0x9a00000)", () => {
  // ../shared/fixtures/linux/kaslr-256M: _text at 0xffffffff99800000, "Kernel code" at 0x9a00000,
  // and the phys_base variable in that image holds 0xfffffffff0200000.
  assert.equal(physBaseOf(0x9a00000n, 0xffffffff99800000n), 0xfffffffff0200000n);
  assert.equal(physBaseOf(0x1000000n, 0xffffffff81000000n), 0n);
});

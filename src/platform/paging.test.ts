/**
 * Paging corner cases of the access path: 4- and 5-level walks, 2 MiB and 1 GiB pages,
 * NX, U/S, WP, SMEP/SMAP, C-bit masking, non-present entries at each level, reserved
 * bits, cyclic tables, paging off.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CR4_SMAP, CR4_SMEP, PF_ERROR, PTE, RMP_PERM_RWX } from "../shared/spec/index.js";
import { K_FETCH, K_READ } from "./access-path.js";
import { CpuFault } from "./fault.js";
import { PageTables, ctx, grant, pagingRegs, testMachine, vmsaImage } from "./testing/world.js";

const TABLES = 0x100000;
const DATA = 0x400000;
const RW = PTE.P | PTE.RW;
const URW = PTE.P | PTE.RW | PTE.US;

function pagingWorld(o: { levels?: 4 | 5; cBit?: number } = {}) {
  const parts = testMachine(o.cBit === undefined ? {} : { cBit: o.cBit });
  grant(parts.rmp!, 0, 0x800000 / 4096, RMP_PERM_RWX);
  const pt = new PageTables(parts.mem, { tableBase: TABLES, levels: o.levels ?? 4, cBit: o.cBit ?? 51 });
  const fill = new Uint8Array(0x10000);
  for (let i = 0; i < fill.length; i++) fill[i] = (i * 7 + 3) & 0xff;
  for (let p = 0; p < 16; p++) parts.mem.writeFrom(DATA / 4096 + p, 0, fill, p * 4096, 4096);
  const at = (gpa: number, n: number): Uint8Array => fill.slice(gpa - DATA, gpa - DATA + n);
  return { ...parts, pt, at };
}

function regs(pt: PageTables, o: Parameters<typeof pagingRegs>[1] & { cpl?: number; rflags?: bigint } = {}): Uint8Array {
  return vmsaImage({ ...pagingRegs(pt.cr3, { ...o, la57: o.la57 ?? pt.levels === 5 }), cpl: o.cpl ?? 0, rflags: o.rflags ?? 2n });
}

function pfWith(code: number, va: bigint) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof CpuFault, `expected CpuFault, got ${String(e)}`);
    assert.equal(e.code, "pf");
    assert.equal(e.vector, 14);
    assert.equal(e.errorCode, BigInt(code), `error code 0x${e.errorCode.toString(16)} != 0x${code.toString(16)}`);
    assert.equal(e.va, va);
    return true;
  };
}

describe("4-level and 5-level walks", () => {
  it("translates a 4 KiB page through four levels", () => {
    const w = pagingWorld();
    const va = 0xffff_8880_1234_5000n;
    w.pt.map(va, DATA + 0x3000, { flags: RW });
    assert.deepEqual(w.path.readVirt(ctx(regs(w.pt), 0), va + 0x123n, 9), w.at(DATA + 0x3123, 9));
  });

  it("translates through five levels with CR4.LA57; the same address is non-canonical (#GP) with four", () => {
    const w = pagingWorld({ levels: 5 });
    const va = 0x00ab_cdef_1234_5000n;
    w.pt.map(va, DATA + 0x5000, { flags: RW });
    assert.deepEqual(w.path.readVirt(ctx(regs(w.pt), 0), va + 1n, 4), w.at(DATA + 0x5001, 4));
    assert.throws(
      () => w.path.readVirt(ctx(regs(w.pt, { la57: false }), 0), va, 1),
      (e: unknown) => e instanceof CpuFault && e.code === "gp" && e.vector === 13 && e.va === va,
    );
  });

  it("rejects non-canonical 5-level addresses too", () => {
    const w = pagingWorld({ levels: 5 });
    assert.throws(() => w.path.readVirt(ctx(regs(w.pt), 0), 0x0100_0000_0000_0000n, 1), (e: unknown) => e instanceof CpuFault && e.code === "gp");
  });
});

describe("large pages", () => {
  it("maps a 2 MiB page (offset bits 20:0 from the address)", () => {
    const w = pagingWorld();
    const va = 0xffff_c900_0020_0000n;
    w.pt.map(va, DATA, { size: "2m", flags: RW });
    assert.deepEqual(w.path.readVirt(ctx(regs(w.pt), 0), va + 0xabcdn, 5), w.at(DATA + 0xabcd, 5));
  });

  it("maps a 1 GiB page (offset bits 29:0 from the address)", () => {
    const w = pagingWorld();
    const va = 0x0000_0040_0000_0000n;
    w.pt.map(va, 0, { size: "1g", flags: RW });
    assert.deepEqual(w.path.readVirt(ctx(regs(w.pt), 0), va + BigInt(DATA + 0x777), 3), w.at(DATA + 0x777, 3));
  });

  it("reserved bits 20:13 of a 2 MiB entry and 29:13 of a 1 GiB entry → #PF RSVD", () => {
    const w = pagingWorld();
    const va2 = 0x0000_0001_0020_0000n;
    const va1 = 0x0000_0080_0000_0000n;
    w.pt.map(va2, DATA | 0x2000, { size: "2m", flags: RW });
    w.pt.map(va1, 0x100000, { size: "1g", flags: RW });
    const code = PF_ERROR.P | PF_ERROR.RSVD;
    assert.throws(() => w.path.readVirt(ctx(regs(w.pt), 0), va2, 1), pfWith(code, va2));
    assert.throws(() => w.path.readVirt(ctx(regs(w.pt), 0), va1, 1), pfWith(code, va1));
  });

  it("PS in a PML4 entry is reserved", () => {
    const w = pagingWorld();
    const va = 0x0000_0100_0000_0000n;
    w.pt.map(va, DATA, { flags: RW });
    const e = w.pt.entryGpa(va, 4)!;
    w.pt.writeEntry(e, w.pt.readEntry(e) | PTE.PS);
    assert.throws(() => w.path.readVirt(ctx(regs(w.pt), 0), va, 1), pfWith(PF_ERROR.P | PF_ERROR.RSVD, va));
  });
});

describe("protection", () => {
  const va = 0x0000_5555_0000_0000n;

  it("NX with EFER.NXE: fetch faults with P|I, reads work; NX at an upper level counts too", () => {
    const w = pagingWorld();
    w.pt.map(va, DATA, { flags: RW | PTE.NX });
    assert.throws(() => w.path.readVirt(ctx(regs(w.pt), 0), va, 1, K_FETCH), pfWith(PF_ERROR.P | PF_ERROR.I, va));
    assert.deepEqual(w.path.readVirt(ctx(regs(w.pt), 0), va, 1), w.at(DATA, 1));
    const va2 = 0x0000_5556_0000_0000n;
    w.pt.map(va2, DATA, { flags: RW, tableFlags: URW | PTE.NX });
    assert.throws(() => w.path.readVirt(ctx(regs(w.pt), 0), va2, 1, K_FETCH), pfWith(PF_ERROR.P | PF_ERROR.I, va2));
  });

  it("without EFER.NXE the NX bit is reserved (and fetches report no I bit)", () => {
    const w = pagingWorld();
    w.pt.map(va, DATA, { flags: RW | PTE.NX });
    assert.throws(() => w.path.readVirt(ctx(regs(w.pt, { nxe: false }), 0), va, 1), pfWith(PF_ERROR.P | PF_ERROR.RSVD, va));
    w.pt.map(va, DATA, { flags: RW });
    assert.deepEqual(w.path.readVirt(ctx(regs(w.pt, { nxe: false }), 0), va, 1, K_FETCH), w.at(DATA, 1));
  });

  it("U/S: CPL 3 needs US at every level", () => {
    const w = pagingWorld();
    w.pt.map(va, DATA, { flags: RW });
    assert.throws(() => w.path.readVirt(ctx(regs(w.pt, { cpl: 3 }), 0), va, 1), pfWith(PF_ERROR.P | PF_ERROR.U, va));
    w.pt.map(va, DATA, { flags: URW });
    assert.deepEqual(w.path.readVirt(ctx(regs(w.pt, { cpl: 3 }), 0), va, 1), w.at(DATA, 1));
    w.pt.map(va, DATA, { flags: URW, tableFlags: RW });
    assert.throws(() => w.path.readVirt(ctx(regs(w.pt, { cpl: 3 }), 0), va, 1, K_FETCH), pfWith(PF_ERROR.P | PF_ERROR.U | PF_ERROR.I, va));
  });

  it("R/W: supervisor writes to read-only pages fault only with CR0.WP; user writes always", () => {
    const w = pagingWorld();
    w.pt.map(va, DATA, { flags: PTE.P | PTE.US });
    const data = new Uint8Array([0xee]);
    assert.throws(() => w.path.writeVirt(ctx(regs(w.pt), 0), va, data), pfWith(PF_ERROR.P | PF_ERROR.W, va));
    w.path.writeVirt(ctx(regs(w.pt, { wp: false }), 0), va, data);
    assert.deepEqual(w.path.readVirt(ctx(regs(w.pt), 0), va, 1), data);
    assert.throws(() => w.path.writeVirt(ctx(regs(w.pt, { wp: false, cpl: 3 }), 0), va, data), pfWith(PF_ERROR.P | PF_ERROR.W | PF_ERROR.U, va));
    w.pt.map(va, DATA, { flags: URW, tableFlags: PTE.P | PTE.US });
    assert.throws(() => w.path.writeVirt(ctx(regs(w.pt), 0), va, data), pfWith(PF_ERROR.P | PF_ERROR.W, va), "RW clear at an upper level");
  });

  it("SMEP: supervisor fetch from a user page; SMAP: supervisor data access to a user page unless RFLAGS.AC", () => {
    const w = pagingWorld();
    w.pt.map(va, DATA, { flags: URW });
    assert.throws(() => w.path.readVirt(ctx(regs(w.pt, { cr4: CR4_SMEP }), 0), va, 1, K_FETCH), pfWith(PF_ERROR.P | PF_ERROR.I, va));
    assert.deepEqual(w.path.readVirt(ctx(regs(w.pt, { cr4: CR4_SMEP }), 0), va, 1), w.at(DATA, 1));
    assert.throws(() => w.path.readVirt(ctx(regs(w.pt, { cr4: CR4_SMAP }), 0), va, 1), pfWith(PF_ERROR.P, va));
    assert.deepEqual(w.path.readVirt(ctx(regs(w.pt, { cr4: CR4_SMAP, rflags: 2n | (1n << 18n) }), 0), va, 1), w.at(DATA, 1));
  });
});

describe("the C-bit", () => {
  it("is masked out of table and leaf addresses (C=51)", () => {
    const w = pagingWorld();
    const va = 0x0000_1000_0000_0000n;
    w.pt.map(va, DATA + 0x1000, { flags: RW, private: true });
    const leaf = w.pt.readEntry(w.pt.entryGpa(va, 1)!);
    assert.equal(leaf >> 51n & 1n, 1n);
    assert.deepEqual(w.path.readVirt(ctx(regs(w.pt), 0), va, 2), w.at(DATA + 0x1000, 2));
  });

  it("sits at a configurable position; bits above it are not address bits", () => {
    const w = pagingWorld({ cBit: 47 });
    const va = 0x0000_1000_0000_0000n;
    w.pt.map(va, DATA + 0x2000, { flags: RW, private: true });
    const e = w.pt.entryGpa(va, 1)!;
    w.pt.writeEntry(e, w.pt.readEntry(e) | (1n << 49n));
    assert.deepEqual(w.path.readVirt(ctx(regs(w.pt), 0), va, 2), w.at(DATA + 0x2000, 2));
  });
});

describe("non-present entries", () => {
  const va = 0x0000_7abc_def0_1000n;
  for (const levels of [4, 5] as const) {
    for (let level = levels; level >= 1; level--) {
      it(`${levels}-level walk, not present at level ${level} → #PF with the access's W/U/I bits`, () => {
        const w = pagingWorld({ levels });
        w.pt.map(va, DATA, { flags: URW });
        const e = w.pt.entryGpa(va, level)!;
        w.pt.writeEntry(e, w.pt.readEntry(e) & ~PTE.P);
        assert.throws(() => w.path.readVirt(ctx(regs(w.pt), 0), va, 1, K_READ), pfWith(0, va));
        assert.throws(() => w.path.writeVirt(ctx(regs(w.pt, { cpl: 3 }), 0), va, new Uint8Array(1)), pfWith(PF_ERROR.W | PF_ERROR.U, va));
        assert.throws(() => w.path.readVirt(ctx(regs(w.pt), 0), va, 1, K_FETCH), pfWith(PF_ERROR.I, va));
      });
    }
  }

  it("an entirely empty CR3 page → #PF", () => {
    const w = pagingWorld();
    assert.throws(() => w.path.readVirt(ctx(regs(w.pt), 0), 0x1000n, 1), pfWith(0, 0x1000n));
  });
});

describe("cyclic tables", () => {
  it("a self-referencing PML4 entry ends after four reads (the recursive mapping maps the table itself)", () => {
    const w = pagingWorld();
    const i = 0x1ed;
    const root = w.pt.root;
    w.pt.writeEntry(root + i * 8, BigInt(root) | RW | (1n << 51n));
    const ix = BigInt(i);
    const va = BigInt.asUintN(64, ((ix << 39n) | (ix << 30n) | (ix << 21n) | (ix << 12n)) | (0xffffn << 48n));
    const got = w.path.readVirt(ctx(regs(w.pt), 0), va + BigInt(i * 8), 8);
    assert.deepEqual(got, w.mem.copyPage(root / 4096).slice(i * 8, i * 8 + 8));
  });

  it("a table whose every entry points back at itself never loops, for any address", () => {
    const w = pagingWorld();
    const root = w.pt.root;
    for (let k = 0; k < 512; k++) w.pt.writeEntry(root + k * 8, BigInt(root) | RW | (1n << 51n));
    for (const va of [0n, 0x7fff_ffff_f000n, 0xffff_8000_0000_0000n, 0x1234_5678n]) {
      assert.equal(w.path.readVirt(ctx(regs(w.pt), 0), va, 1).length, 1);
    }
    // The same with PS set everywhere: the PML4 entry is reserved → #PF, no loop.
    for (let k = 0; k < 512; k++) w.pt.writeEntry(root + k * 8, BigInt(root) | RW | PTE.PS | (1n << 51n));
    assert.throws(() => w.path.readVirt(ctx(regs(w.pt), 0), 0n, 1), pfWith(PF_ERROR.P | PF_ERROR.RSVD, 0n));
  });
});

describe("paging off", () => {
  it("is an identity map and every access is private", () => {
    const w = pagingWorld();
    const flat = vmsaImage({ cr0: 1n });
    assert.deepEqual(w.path.readVirt(ctx(flat, 0), BigInt(DATA + 0x40), 4), w.at(DATA + 0x40, 4));
    const shared = 0xa00000;
    assert.throws(() => w.path.readVirt(ctx(flat, 0), BigInt(shared), 1), (e: unknown) => e instanceof CpuFault && e.code === "npf" && e.gpa === BigInt(shared));
  });
});

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { PTE } from "../../shared/spec/index.js";
import { PageFaultError, VmiError } from "../vmi/errors.js";
import { SparseDriver } from "../vmi/testing/sparse-driver.js";
import { PageTableBuilder } from "./testing/page-tables.js";
import {
  canonicalize, pagingConfig, pagingFromRegisters, ptiKernelDtb, ptiUserDtb, tableReader, translate, translateBatch, type TableReader,
} from "./x86-64.js";

const K4 = 0x1000n;
const M2 = 1n << 21n;
const G1 = 1n << 30n;

function setup(levels: 4 | 5 = 4) {
  const mem = new SparseDriver(1n << 40n);
  const pt = new PageTableBuilder(mem, levels);
  let calls = 0;
  const inner = tableReader((r) => mem.readPhys(r));
  const read: TableReader = (a) => {
    calls++;
    return inner(a);
  };
  return { mem, pt, read, calls: () => calls };
}

async function fault(p: Promise<unknown>): Promise<VmiError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof VmiError, String(e));
    return e;
  }
  assert.fail("expected a fault");
}

describe("x86-64 translation", () => {
  it("walks 4-level tables to a 4 KiB page with its rights and raw entries", async () => {
    const { pt, read } = setup();
    const va = 0xffffffff81234567n;
    pt.map(va & ~0xfffn, 0x7654000n, K4, { rw: false, us: false });
    const t = await translate(read, pt.root, va);
    assert.equal(t.pa, 0x7654567n);
    assert.equal(t.pageBase, 0x7654000n);
    assert.equal(t.pageSize, K4);
    assert.equal(t.level, "PT");
    assert.equal(t.writable, false);
    assert.equal(t.user, false);
    assert.equal(t.nx, false);
    assert.equal(t.encrypted, false);
    assert.equal(t.entries.length, 4);
  });

  it("walks 5-level tables for a VA only LA57 can express, and rejects it in 4-level mode", async () => {
    const { pt, read, calls } = setup(5);
    const va = 0xff5a_1234_5678_9abcn; // bits 56:48 in use, sign-extended from bit 56
    assert.equal(canonicalize(va, 5), va);
    pt.map(va & ~0xfffn, 0x3000n);
    const t = await translate(read, pt.root, va, pagingConfig({ levels: 5 }));
    assert.equal(t.pa, 0x3abcn);
    assert.equal(t.entries.length, 5);
    assert.equal(calls(), 5);
    const e = await fault(translate(read, pt.root, va, pagingConfig({ levels: 4 })));
    assert.equal(e.code, "INVALID_ADDRESS");
    assert.equal(e.details["layer"], "virtual");
    assert.equal(e.details["reason"], "non-canonical");
  });

  it("maps 2 MiB and 1 GiB pages, ignoring the large-page PAT bit", async () => {
    const { pt, mem, read } = setup();
    pt.map(0xffff888000000000n, 0x40000000n, G1);
    pt.map(0xffffffff80200000n, 0x1600000n, M2);
    const big = await translate(read, pt.root, 0xffff888000000000n + 0x1234567n);
    assert.deepEqual([big.pa, big.pageSize, big.level, big.entries.length], [0x41234567n, G1, "PDPT", 2]);
    const mid = await translate(read, pt.root, 0xffffffff80200000n + 0x12345n);
    assert.deepEqual([mid.pa, mid.pageSize, mid.level, mid.entries.length], [0x1612345n, M2, "PD", 3]);
    // Set PAT (bit 12) in the PD entry: the page base must not move.
    const pde = pt.entryAddress(0xffffffff80200000n, "PD");
    mem.poke64(pde, pt.entry(0x1600000n, {}, true) | PTE.PAT_LARGE);
    assert.equal((await translate(read, pt.root, 0xffffffff80200010n)).pa, 0x1600010n);
  });

  it("masks the C-bit (default 51, or configured) from DTB, tables and pages, and reports it", async () => {
    const { pt, read } = setup();
    pt.map(0x400000n, 0x5000n, K4, { cBit: 51 });
    const dtb = pt.root | (1n << 51n);
    const t = await translate(read, dtb, 0x400123n);
    assert.equal(t.pa, 0x5123n);
    assert.equal(t.encrypted, true);

    const other = setup();
    other.pt.map(0x400000n, 0x6000n, K4, { cBit: 47 });
    const t47 = await translate(other.read, other.pt.root, 0x400008n, pagingConfig({ cBit: 47 }));
    assert.equal(t47.pa, 0x6008n);
    assert.equal(t47.encrypted, true);
    // With the default position the same tables point into nonexistent high memory.
    const e = await fault(translate(other.read, other.pt.root, 0x400008n));
    assert.equal(e.code, "INVALID_ADDRESS");
    assert.equal(e.details["layer"], "physical");
  });

  it("ANDs RW and US down the walk and ORs NX, which EFER.NXE = 0 turns off", async () => {
    const { pt, mem, read } = setup();
    pt.map(0x7f0000000000n, 0x9000n, K4, { rw: true, us: true, nx: false });
    const pde = pt.entryAddress(0x7f0000000000n, "PD");
    const cur = new DataView(mem.peek(pde, 8).buffer).getBigUint64(0, true);
    mem.poke64(pde, (cur | PTE.NX) & ~PTE.RW);
    const t = await translate(read, pt.root, 0x7f0000000000n);
    assert.deepEqual([t.writable, t.user, t.nx], [false, true, true]);
    const t2 = await translate(read, pt.root, 0x7f0000000000n, pagingConfig({ nxe: false }));
    assert.equal(t2.nx, false);
    assert.deepEqual(pagingFromRegisters({ cr4: 1n << 12n, efer: 0xd01n }), { levels: 5, cBit: 51, nxe: true });
    assert.deepEqual(pagingFromRegisters({ cr4: 0x6f0n, efer: 0x501n }), { levels: 4, cBit: 51, nxe: false });
  });

  for (const levels of [4, 5] as const) {
    const names = levels === 5 ? (["PML5", "PML4", "PDPT", "PD", "PT"] as const) : (["PML4", "PDPT", "PD", "PT"] as const);
    for (const level of names) {
      it(`faults with level ${level} and the VA when that ${levels}-level entry is not present`, async () => {
        const { pt, mem, read } = setup(levels);
        const va = 0xffff_8880_1234_5000n;
        pt.map(va, 0x8000n);
        const ea = pt.entryAddress(va, level);
        mem.poke64(ea, 0xdead_beef_0000_0000n); // P clear, garbage elsewhere
        const e = await fault(translate(read, pt.root, va + 0x10n, pagingConfig({ levels })));
        assert.ok(e instanceof PageFaultError);
        assert.equal(e.code, "PAGE_FAULT");
        assert.equal(e.level, level);
        assert.equal(e.va, va + 0x10n);
        assert.equal(e.reason, "not-present");
        assert.equal(e.details["entryAddress"], ea);
      });
    }
  }

  it("treats PS in a PML4 entry as a reserved-bit fault", async () => {
    const { pt, mem, read } = setup();
    pt.map(0x200000n, 0x1000n);
    const ea = pt.entryAddress(0x200000n, "PML4");
    mem.poke64(ea, new DataView(mem.peek(ea, 8).buffer).getBigUint64(0, true) | PTE.PS);
    const e = await fault(translate(read, pt.root, 0x200000n));
    assert.ok(e instanceof PageFaultError);
    assert.deepEqual([e.level, e.reason], ["PML4", "reserved-bit"]);
  });

  it("terminates on cyclic tables: a self-referencing PML4 costs exactly one read per level", async () => {
    const { mem, read, calls } = setup();
    const root = 0x10000n;
    for (let i = 0n; i < 512n; i++) mem.poke64(root + i * 8n, root | PTE.P | PTE.RW);
    const t = await translate(read, root, 0x0000_7fff_ffff_f000n);
    assert.equal(t.pa, root, "every level lands back on the root table");
    assert.equal(calls(), 4);
  });

  it("walks a batch level by level: one reader call per level, shared entries read once", async () => {
    const { pt, read, calls } = setup();
    const vas = Array.from({ length: 200 }, (_, i) => 0xffffc90000000000n + BigInt(i) * 0x1000n);
    vas.forEach((va, i) => pt.map(va, 0x200000n + BigInt(i) * 0x1000n));
    const seen: number[] = [];
    const counting: TableReader = (a) => {
      seen.push(a.length);
      return read(a);
    };
    const rs = await translateBatch(counting, vas.map((va) => ({ dtb: pt.root, va: va + 5n })));
    assert.equal(calls(), 4);
    assert.deepEqual(seen, [1, 1, 1, 200]);
    rs.forEach((r, i) => assert.equal((r as { pa: bigint }).pa, 0x200005n + BigInt(i) * 0x1000n));
  });

  it("keeps per-VA failures in a batch apart from successes", async () => {
    const { pt, read } = setup();
    pt.map(0x1000n, 0x2000n);
    const rs = await translateBatch(read, [
      { dtb: pt.root, va: 0x1000n },
      { dtb: pt.root, va: 0x5000000n },
      { dtb: pt.root, va: 0x8000_0000_0000n },
    ]);
    assert.equal((rs[0] as { pa: bigint }).pa, 0x2000n);
    assert.ok(rs[1] instanceof PageFaultError);
    assert.ok(rs[2] instanceof VmiError && rs[2].code === "INVALID_ADDRESS");
  });

  it("derives PTI user and kernel DTBs", () => {
    assert.equal(ptiUserDtb(0x5f8a000n), 0x5f8b000n);
    assert.equal(ptiKernelDtb(0x5f8b000n), 0x5f8a000n);
  });
});

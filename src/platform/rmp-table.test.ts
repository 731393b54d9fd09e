import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { getBits, RMP_LO, RMP_PERM, RMP_PERM_ALL, RMP_PERM_RWX } from "../shared/spec/index.js";
import { PlatformError } from "./fault.js";
import { RMP_CHECK, RmpTable } from "./rmp-table.js";

const ASID = 1;
const lo = (t: RmpTable, pfn: number): bigint => new DataView(t.raw(pfn).buffer).getBigUint64(0, true);
const hi = (t: RmpTable, pfn: number): bigint => new DataView(t.raw(pfn).buffer).getBigUint64(8, true);

describe("RMP entry raw layout (SNP.md §4.1)", () => {
  it("keeps the low qword in the Zen3/4 layout and the VMPL masks in the high qword, one byte each", () => {
    const t = new RmpTable(0x2000, ASID);
    const pfn = 0x1abc;
    t.launchAssign(pfn, [RMP_PERM_RWX, RMP_PERM.READ, 0], true);
    const l = lo(t, pfn);
    assert.equal(getBits(l, RMP_LO.ASSIGNED), 1n);
    assert.equal(getBits(l, RMP_LO.PAGE_SIZE), 0n);
    assert.equal(getBits(l, RMP_LO.IMMUTABLE), 0n);
    assert.equal(getBits(l, RMP_LO.GPA_PFN), 0x1abcn);
    assert.equal(getBits(l, RMP_LO.ASID), 1n);
    assert.equal(getBits(l, RMP_LO.VMSA), 1n);
    assert.equal(getBits(l, RMP_LO.VALIDATED), 1n);
    assert.equal(l >> 63n, 0n, "bit 63 reserved");
    assert.equal(l & 0xff8n, 0n, "bits 11:3 reserved");
    // high qword: VMPL0 0x1f, VMPL1 0x0f, VMPL2 0x01, VMPL3 0
    assert.equal(hi(t, pfn), 0x00_01_0f_1fn);
  });

  it("stores GPA frame numbers that need the high word (above 4 GiB)", () => {
    const pages = (8 << 30) / 4096 + 16; // a bit more than 8 GiB
    const t = new RmpTable(pages, ASID);
    const pfn = pages - 1;
    t.update(pfn, true, 0);
    assert.equal(getBits(lo(t, pfn), RMP_LO.GPA_PFN), BigInt(pfn));
    assert.equal(t.gpaPfn(pfn), pfn);
    assert.equal(t.checkPrivate(pfn, 0, RMP_PERM.READ), RMP_CHECK.NOT_VALIDATED);
  });
});

describe("RMP page states (SNP.md §4.6)", () => {
  it("starts hypervisor-owned, becomes Guest-Invalid on RMPUPDATE and Guest-Valid when validated", () => {
    const t = new RmpTable(16, ASID);
    assert.deepEqual(t.view(3), { assigned: false, validated: false, vmsa: false, immutable: false, pageSize: 0, asid: 0, perms: [0, 0, 0, 0] });
    assert.equal(t.checkShared(3), true);
    assert.equal(t.checkPrivate(3, 0, RMP_PERM.READ), RMP_CHECK.NOT_OWNED);
    t.update(3, true, 0);
    assert.deepEqual(t.view(3), { assigned: true, validated: false, vmsa: false, immutable: false, pageSize: 0, asid: ASID, perms: [RMP_PERM_ALL, 0, 0, 0] });
    assert.equal(t.checkShared(3), false);
    assert.equal(t.checkPrivate(3, 0, RMP_PERM.READ), RMP_CHECK.NOT_VALIDATED);
    t.setValidated(3, true);
    assert.equal(t.checkPrivate(3, 0, RMP_PERM.READ), RMP_CHECK.OK);
  });

  it("checks ownership, then VALIDATED, then the VMPL mask; VMPL0 is always allowed", () => {
    const t = new RmpTable(16, ASID);
    t.update(5, true, 0);
    assert.equal(t.checkPrivate(5, 1, RMP_PERM.WRITE), RMP_CHECK.NOT_VALIDATED, "validated is checked before the mask");
    t.setValidated(5, true);
    t.setPerm(5, 1, RMP_PERM.READ);
    assert.equal(t.checkPrivate(5, 1, RMP_PERM.READ), RMP_CHECK.OK);
    assert.equal(t.checkPrivate(5, 1, RMP_PERM.WRITE), RMP_CHECK.VMPL);
    assert.equal(t.checkPrivate(5, 2, RMP_PERM.READ), RMP_CHECK.VMPL);
    assert.equal(t.checkPrivate(5, 0, RMP_PERM.EXEC_USER), RMP_CHECK.OK);
  });

  it("treats an immutable page as not the guest's for private accesses", () => {
    const t = new RmpTable(16, ASID);
    t.launchAssign(2, [RMP_PERM_RWX, 0, 0], false);
    t.setImmutable(2, true);
    assert.equal(t.checkPrivate(2, 0, RMP_PERM.READ), RMP_CHECK.NOT_OWNED);
  });
});

describe("RMPUPDATE (SNP.md §4.2)", () => {
  it("clears VALIDATED and VMSA and resets the masks (VMPL0 full, VMPL1-3 none)", () => {
    const t = new RmpTable(16, ASID);
    t.launchAssign(7, [RMP_PERM_RWX, RMP_PERM.READ, RMP_PERM.WRITE], true);
    assert.deepEqual(t.view(7).perms, [RMP_PERM_ALL, RMP_PERM_RWX, RMP_PERM.READ, RMP_PERM.WRITE]);
    t.update(7, true, 0);
    assert.deepEqual(t.view(7), { assigned: true, validated: false, vmsa: false, immutable: false, pageSize: 0, asid: ASID, perms: [RMP_PERM_ALL, 0, 0, 0] });
    t.update(7, false, 0);
    assert.deepEqual(t.view(7), { assigned: false, validated: false, vmsa: false, immutable: false, pageSize: 0, asid: 0, perms: [0, 0, 0, 0] });
    assert.equal(hi(t, 7), 0n);
  });

  it("refuses immutable pages", () => {
    const t = new RmpTable(16, ASID);
    t.setImmutable(4, true);
    assert.throws(() => t.update(4, true, 0), (e: unknown) => e instanceof PlatformError && e.code === "IMMUTABLE_PAGE");
    assert.equal(t.view(4).assigned, false);
  });

  it("assigns a 2 MiB page as 512 consistent entries; a 4 KiB update inside it is FAIL_OVERLAP", () => {
    const t = new RmpTable(2048, ASID);
    t.update(512, true, 1);
    for (const p of [512, 700, 1023]) {
      assert.equal(t.view(p).pageSize, 1);
      assert.equal(t.view(p).assigned, true);
      assert.equal(t.gpaPfn(p), p);
    }
    assert.equal(t.view(1024).assigned, false);
    assert.throws(() => t.update(600, false, 0), (e: unknown) => e instanceof PlatformError && e.code === "BAD_ARGUMENT");
    assert.throws(() => t.update(513, true, 1), (e: unknown) => e instanceof PlatformError && e.code === "BAD_ARGUMENT");
    t.update(512, false, 1);
    assert.equal(t.view(700).assigned, false);
  });

  it("rejects frames outside memory", () => {
    const t = new RmpTable(16, ASID);
    assert.throws(() => t.update(16, true, 0), (e: unknown) => e instanceof PlatformError && e.code === "BAD_GPA");
  });
});

describe("launch assignment (the ASP's RMP transition)", () => {
  it("assigns, validates and sets masks and the VMSA flag; refuses an assigned page", () => {
    const t = new RmpTable(16, ASID);
    t.launchAssign(9, [RMP_PERM.READ, 0, 0], true);
    assert.deepEqual(t.view(9), { assigned: true, validated: true, vmsa: true, immutable: false, pageSize: 0, asid: ASID, perms: [RMP_PERM_ALL, 1, 0, 0] });
    assert.throws(() => t.launchAssign(9, [0, 0, 0], false), (e: unknown) => e instanceof PlatformError && e.code === "LAUNCH_STATE");
    assert.throws(() => t.launchAssign(10, [0x20, 0, 0], false), (e: unknown) => e instanceof PlatformError && e.code === "BAD_ARGUMENT");
  });
});

describe("RMP snapshot", () => {
  it("round-trips sparse entries", () => {
    const t = new RmpTable(4096, ASID);
    t.launchAssign(1, [RMP_PERM_RWX, 0, 0], false);
    t.update(3000, true, 0);
    t.setImmutable(4000, true);
    const s = t.snapshot();
    assert.equal(s.index.length, 3);
    const u = new RmpTable(4096, ASID);
    u.restore(structuredClone(s));
    for (const p of [0, 1, 2, 3000, 4000, 4095]) assert.deepEqual(u.raw(p), t.raw(p));
  });
});

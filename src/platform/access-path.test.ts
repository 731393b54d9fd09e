/**
 * The RMP side of the access path: fault kinds and the exact EXITINFO1 bits for each case
 * (SNP.md §4.5).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NPF_EXITINFO1 as N, PTE, RMP_PERM, RMP_PERM_RWX, VC_PAGE_NOT_VALIDATED } from "../shared/spec/index.js";
import { K_FETCH } from "./access-path.js";
import { CpuFault } from "./fault.js";
import { PageTables, ctx, grant, pagingRegs, testMachine, vmsaImage } from "./testing/world.js";

const TABLES = 0x100000;
const DATA = 0x200000;
const VA = 0x0000_7f12_3440_5000n;
const USER = PTE.P | PTE.RW | PTE.US;

function world(o: { dataPerms1?: number; dataState?: "valid" | "assigned" | "shared"; cpl?: number; tablePerms1?: number } = {}) {
  const parts = testMachine();
  const rmp = parts.rmp!;
  const pt = new PageTables(parts.mem, { tableBase: TABLES });
  pt.map(VA, DATA, { flags: USER });
  pt.map(VA + 0x1000n, DATA + 0x1000, { flags: USER });
  pt.map(VA + 0x2000n, DATA + 0x2000, { flags: USER, private: false });
  grant(rmp, TABLES, pt.tablePages.length, o.tablePerms1 ?? RMP_PERM_RWX);
  const state = o.dataState ?? "valid";
  if (state === "valid") grant(rmp, DATA, 2, o.dataPerms1 ?? RMP_PERM_RWX);
  if (state === "assigned") {
    rmp.update(DATA / 4096, true, 0);
    rmp.update(DATA / 4096 + 1, true, 0);
  }
  parts.mem.writeFrom(DATA / 4096, 0, new Uint8Array([1, 2, 3, 4]), 0, 4);
  const vmsa = vmsaImage({ ...pagingRegs(pt.cr3), cpl: o.cpl ?? 0 });
  return { ...parts, rmp, pt, vmsa };
}

function npfWith(errorCode: bigint, gpa: number, access?: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof CpuFault, `expected CpuFault, got ${String(e)}`);
    assert.equal(e.code, "npf");
    assert.equal(e.vector, 0x400);
    assert.equal(e.errorCode.toString(16), errorCode.toString(16));
    assert.equal(e.gpa, BigInt(gpa));
    if (access !== undefined) assert.equal(e.access, access);
    return true;
  };
}

const FINAL_RMP_ENC = N.P | N.FINAL | N.RMP | N.ENC;

describe("VMPL permission violations → #NPF with RMP | VMPL | ENC and the access bits", () => {
  it("read", () => {
    const w = world({ dataPerms1: RMP_PERM.WRITE });
    assert.throws(() => w.path.readVirt(ctx(w.vmsa, 1), VA + 0x10n, 4), npfWith(FINAL_RMP_ENC | N.VMPL, DATA + 0x10, "read"));
  });

  it("write (and the faulting write changes nothing)", () => {
    const w = world({ dataPerms1: RMP_PERM.READ });
    assert.throws(() => w.path.writeVirt(ctx(w.vmsa, 1), VA, new Uint8Array([9, 9])), npfWith(FINAL_RMP_ENC | N.VMPL | N.W, DATA, "write"));
    assert.deepEqual(w.path.readVirt(ctx(w.vmsa, 1), VA, 4), new Uint8Array([1, 2, 3, 4]));
  });

  it("execute-user (CPL 3 fetch, page has only execute-supervisor)", () => {
    const w = world({ dataPerms1: RMP_PERM.READ | RMP_PERM.EXEC_SUPER, cpl: 3 });
    assert.throws(() => w.path.readVirt(ctx(w.vmsa, 1), VA, 1, K_FETCH), npfWith(FINAL_RMP_ENC | N.VMPL | N.U | N.FETCH, DATA, "exec-user"));
    assert.deepEqual(w.path.readVirt(ctx(w.vmsa, 1), VA, 1), new Uint8Array([1]), "reading is allowed");
  });

  it("execute-supervisor (CPL 0 fetch, page has only execute-user)", () => {
    const w = world({ dataPerms1: RMP_PERM.READ | RMP_PERM.EXEC_USER });
    assert.throws(() => w.path.readVirt(ctx(w.vmsa, 1), VA, 1, K_FETCH), npfWith(FINAL_RMP_ENC | N.VMPL | N.FETCH, DATA, "exec-super"));
    w.vmsa[0xcb] = 3;
    assert.deepEqual(w.path.readVirt(ctx(w.vmsa, 1), VA, 1, K_FETCH), new Uint8Array([1]), "a CPL 3 fetch is allowed");
  });

  it("VMPL0 always has full access to the guest's pages; VMPL2 has none here", () => {
    const w = world({ dataPerms1: 0 });
    assert.deepEqual(w.path.readVirt(ctx(w.vmsa, 0), VA, 4), new Uint8Array([1, 2, 3, 4]));
    w.path.writeVirt(ctx(w.vmsa, 0), VA, new Uint8Array([5]));
    assert.throws(() => w.path.readVirt(ctx(w.vmsa, 2), VA, 1), (e: unknown) => e instanceof CpuFault && e.code === "npf");
  });
});

describe("ownership and page state", () => {
  it("private access to an unassigned page → #NPF RMP | ENC (no VMPL bit)", () => {
    const w = world({ dataState: "shared" });
    assert.throws(() => w.path.readVirt(ctx(w.vmsa, 0), VA + 8n, 1), npfWith(FINAL_RMP_ENC, DATA + 8));
    assert.throws(() => w.path.readPhys(ctx(w.vmsa, 1), BigInt(DATA), 1, false), npfWith(FINAL_RMP_ENC, DATA));
  });

  it("shared (C=0) access to a guest-assigned page → #NPF RMP without ENC", () => {
    const w = world();
    assert.throws(() => w.path.readPhys(ctx(w.vmsa, 0), BigInt(DATA), 1, true), npfWith(N.P | N.FINAL | N.RMP, DATA));
    assert.throws(() => w.path.writePhys(ctx(w.vmsa, 1), BigInt(DATA) + 5n, new Uint8Array(1), true), npfWith(N.P | N.FINAL | N.RMP | N.W, DATA + 5));
  });

  it("shared access to a hypervisor-owned page works (leaf without the C-bit)", () => {
    const w = world();
    w.mem.writeFrom(DATA / 4096 + 2, 0, new Uint8Array([7, 7]), 0, 2);
    assert.deepEqual(w.path.readVirt(ctx(w.vmsa, 1), VA + 0x2000n, 2), new Uint8Array([7, 7]));
    assert.throws(() => w.path.readPhys(ctx(w.vmsa, 1), BigInt(DATA + 0x2000), 1, false), npfWith(FINAL_RMP_ENC, DATA + 0x2000));
  });

  it("access to an assigned but unvalidated private page → #VC 0x404 in the guest", () => {
    const w = world({ dataState: "assigned" });
    assert.throws(
      () => w.path.readVirt(ctx(w.vmsa, 0), VA + 4n, 1),
      (e: unknown) => {
        assert.ok(e instanceof CpuFault);
        assert.equal(e.code, "vc");
        assert.equal(e.vector, 29);
        assert.equal(e.errorCode, BigInt(VC_PAGE_NOT_VALIDATED));
        assert.equal(e.gpa, BigInt(DATA + 4));
        assert.equal(e.va, VA + 4n);
        return true;
      },
    );
  });

  it("a GPA outside guest memory → #NPF without P or RMP (no nested mapping)", () => {
    const w = world();
    const beyond = 16n << 20n;
    assert.throws(() => w.path.readPhys(ctx(w.vmsa, 0), beyond, 1, false), npfWith(N.FINAL | N.ENC, Number(beyond)));
    assert.throws(() => w.path.readPhys(ctx(w.vmsa, 0), 1n << 60n, 1, true), (e: unknown) => e instanceof CpuFault && e.gpa === 1n << 60n);
  });
});

describe("page-walk faults (bit 33) versus final-address faults (bit 32)", () => {
  it("a page-table page not assigned to the guest → #NPF PAGE_WALK | RMP | ENC at the entry's GPA", () => {
    const w = world();
    const ptEntry = w.pt.entryGpa(VA, 1)!;
    const ptPage = ptEntry - (ptEntry % 4096);
    w.rmp.update(ptPage / 4096, false, 0);
    const bits = N.P | N.U | N.PAGE_WALK | N.RMP | N.ENC;
    assert.throws(() => w.path.readVirt(ctx(w.vmsa, 1), VA, 1), npfWith(bits, ptEntry, "read"));
    assert.throws(() => w.path.writeVirt(ctx(w.vmsa, 1), VA, new Uint8Array(1)), npfWith(bits, ptEntry, "read"), "the walk reads, even for a write");
  });

  it("a page-table page VMPL1 may not read → PAGE_WALK | VMPL", () => {
    const w = world({ tablePerms1: RMP_PERM.WRITE });
    const pml4e = w.pt.entryGpa(VA, 4)!;
    assert.throws(() => w.path.readVirt(ctx(w.vmsa, 1), VA, 1), npfWith(N.P | N.U | N.PAGE_WALK | N.RMP | N.ENC | N.VMPL, pml4e));
  });

  it("an unvalidated page-table page → #VC 0x404", () => {
    const w = world();
    const pdpte = w.pt.entryGpa(VA, 3)!;
    w.rmp.setValidated(Math.floor(pdpte / 4096), false);
    assert.throws(() => w.path.readVirt(ctx(w.vmsa, 1), VA, 1), (e: unknown) => e instanceof CpuFault && e.code === "vc" && e.gpa === BigInt(pdpte));
  });

  it("the same failure on the data page is FINAL, not PAGE_WALK", () => {
    const w = world();
    w.rmp.update(DATA / 4096, false, 0);
    assert.throws(() => w.path.readVirt(ctx(w.vmsa, 1), VA, 1), npfWith(FINAL_RMP_ENC, DATA));
  });
});

describe("accesses spanning pages", () => {
  it("check every page; a read crosses into the next page", () => {
    const w = world();
    w.mem.writeFrom(DATA / 4096 + 1, 0, new Uint8Array([0xaa]), 0, 1);
    const got = w.path.readVirt(ctx(w.vmsa, 1), VA + 0xffen, 3);
    assert.deepEqual(got, new Uint8Array([0, 0, 0xaa]));
  });

  it("a write whose second page faults has no effect on the first", () => {
    const w = world();
    w.rmp.setPerm(DATA / 4096 + 1, 1, RMP_PERM.READ);
    assert.throws(() => w.path.writeVirt(ctx(w.vmsa, 1), VA + 0xffen, new Uint8Array([1, 2, 3, 4])), npfWith(FINAL_RMP_ENC | N.VMPL | N.W, DATA + 0x1000));
    assert.deepEqual(w.path.readVirt(ctx(w.vmsa, 1), VA + 0xffen, 2), new Uint8Array([0, 0]));
    assert.throws(() => w.path.writePhys(ctx(w.vmsa, 1), BigInt(DATA + 0xfff), new Uint8Array([1, 2]), false), (e: unknown) => e instanceof CpuFault);
    assert.deepEqual(w.path.readPhys(ctx(w.vmsa, 1), BigInt(DATA + 0xfff), 1, false), new Uint8Array([0]));
  });
});

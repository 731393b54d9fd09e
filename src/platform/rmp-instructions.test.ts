import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NPF_EXITINFO1 as N, RMP_PERM, RMP_PERM_ALL, RMP_PERM_RWX, RMP_RESULT, VC_PAGE_NOT_VALIDATED } from "../shared/spec/index.js";
import { CpuFault } from "./fault.js";
import type { RmpInstrContext } from "./rmp-instructions.js";
import { pvalidate, rmpadjust } from "./rmp-instructions.js";
import { RmpTable } from "./rmp-table.js";

const PAGES = 2048; // 8 MiB
const G = (pfn: number): bigint => BigInt(pfn) * 4096n;

function setup(vmpl: number, o: { cpl?: number; inUse?: number[] } = {}): { rmp: RmpTable; c: RmpInstrContext } {
  const rmp = new RmpTable(PAGES, 1);
  const inUse = new Set(o.inUse ?? []);
  return { rmp, c: { rmp, vmpl, cpl: o.cpl ?? 0, vmsaInUse: (p) => inUse.has(p) } };
}
const ctxAt = (rmp: RmpTable, vmpl: number, cpl = 0): RmpInstrContext => ({ rmp, vmpl, cpl, vmsaInUse: () => false });

function isFault(kind: string, check?: (f: CpuFault) => void) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof CpuFault, `expected a CpuFault, got ${String(e)}`);
    assert.equal(e.code, kind);
    check?.(e);
    return true;
  };
}
const NPF_OWN = N.P | N.FINAL | N.RMP | N.ENC;

describe("PVALIDATE (SNP.md §4.3)", () => {
  it("validates, reports CF (no update) when already valid, invalidates, and reports CF again", () => {
    const { rmp, c } = setup(0);
    rmp.update(10, true, 0);
    assert.deepEqual(pvalidate(c, G(10), 0, true), { rc: RMP_RESULT.SUCCESS, noUpdate: false });
    assert.equal(rmp.isValidated(10), true);
    assert.deepEqual(pvalidate(c, G(10), 0, true), { rc: RMP_RESULT.SUCCESS, noUpdate: true });
    assert.deepEqual(pvalidate(c, G(10), 0, false), { rc: RMP_RESULT.SUCCESS, noUpdate: false });
    assert.equal(rmp.isValidated(10), false);
    assert.deepEqual(pvalidate(c, G(10), 0, false), { rc: RMP_RESULT.SUCCESS, noUpdate: true });
  });

  it("changes only VALIDATED (not the masks, not the VMSA bit)", () => {
    const { rmp, c } = setup(0);
    rmp.launchAssign(11, [RMP_PERM_RWX, RMP_PERM.READ, 0], true);
    pvalidate(c, G(11), 0, false);
    assert.deepEqual(rmp.view(11), { assigned: true, validated: false, vmsa: true, immutable: false, pageSize: 0, asid: 1, perms: [RMP_PERM_ALL, RMP_PERM_RWX, 1, 0] });
  });

  it("is refused above VMPL0 with FAIL_PERMISSION, before the RMP entry is looked at", () => {
    const { rmp } = setup(0);
    rmp.update(12, true, 0);
    assert.deepEqual(pvalidate(ctxAt(rmp, 1), G(12), 0, true), { rc: RMP_RESULT.FAIL_PERMISSION, noUpdate: false });
    assert.equal(rmp.isValidated(12), false);
    // an unassigned page: still FAIL_PERMISSION, not #NPF
    assert.deepEqual(pvalidate(ctxAt(rmp, 3), G(13), 0, true), { rc: RMP_RESULT.FAIL_PERMISSION, noUpdate: false });
  });

  it("raises #GP at CPL > 0", () => {
    const { rmp } = setup(0);
    rmp.update(12, true, 0);
    assert.throws(() => pvalidate(ctxAt(rmp, 0, 3), G(12), 0, true), isFault("gp", (f) => assert.equal(f.vector, 13)));
  });

  it("returns FAIL_INPUT for a bad size or a misaligned address", () => {
    const { rmp, c } = setup(0);
    rmp.update(12, true, 0);
    assert.equal(pvalidate(c, G(12), 2 as 0, true).rc, RMP_RESULT.FAIL_INPUT);
    assert.equal(pvalidate(c, G(12) + 8n, 0, true).rc, RMP_RESULT.FAIL_INPUT);
    assert.equal(pvalidate(c, G(12), 1, true).rc, RMP_RESULT.FAIL_INPUT, "2 MiB request needs a 2 MiB-aligned address");
  });

  it("raises #NPF (RMP|ENC) when the page is not assigned to this guest", () => {
    const { c } = setup(0);
    assert.throws(
      () => pvalidate(c, G(20), 0, true),
      isFault("npf", (f) => {
        assert.equal(f.vector, 0x400);
        assert.equal(f.errorCode, NPF_OWN);
        assert.equal(f.gpa, G(20));
      }),
    );
  });

  it("returns FAIL_SIZEMISMATCH for a 2 MiB request on a 4 KiB entry", () => {
    const { rmp, c } = setup(0);
    rmp.update(512, true, 0);
    assert.deepEqual(pvalidate(c, G(512), 1, true), { rc: RMP_RESULT.FAIL_SIZEMISMATCH, noUpdate: false });
    assert.equal(rmp.isValidated(512), false);
  });

  it("raises #NPF with SIZEM for a 4 KiB request on a 2 MiB entry, and validates all of a 2 MiB entry", () => {
    const { rmp, c } = setup(0);
    rmp.update(1024, true, 1);
    assert.throws(() => pvalidate(c, G(1030), 0, true), isFault("npf", (f) => assert.equal(f.errorCode, NPF_OWN | N.SIZEM)));
    assert.deepEqual(pvalidate(c, G(1024), 1, true), { rc: 0, noUpdate: false });
    assert.equal(rmp.isValidated(1024), true);
    assert.equal(rmp.isValidated(1535), true);
    assert.deepEqual(pvalidate(c, G(1024), 1, true), { rc: 0, noUpdate: true });
  });
});

describe("RMPADJUST (SNP.md §4.4)", () => {
  const validPage = (rmp: RmpTable, pfn: number, perms1 = RMP_PERM_RWX): void => rmp.launchAssign(pfn, [perms1, 0, 0], false);

  it("sets the target VMPL's mask", () => {
    const { rmp, c } = setup(0);
    validPage(rmp, 30, 0);
    assert.equal(rmpadjust(c, G(30), 0, 1, RMP_PERM.READ | RMP_PERM.WRITE, false), RMP_RESULT.SUCCESS);
    assert.equal(rmp.perm(30, 1), 3);
    assert.equal(rmpadjust(c, G(30), 0, 3, RMP_PERM.EXEC_SUPER, false), RMP_RESULT.SUCCESS);
    assert.deepEqual(rmp.view(30).perms, [RMP_PERM_ALL, 3, 0, RMP_PERM.EXEC_SUPER]);
    assert.equal(rmpadjust(c, G(30), 0, 1, 0, false), RMP_RESULT.SUCCESS, "revoking is granting the empty set");
    assert.equal(rmp.perm(30, 1), 0);
  });

  it("returns FAIL_INPUT for bad size, misalignment, target VMPL > 3, undefined mask bits", () => {
    const { rmp, c } = setup(0);
    validPage(rmp, 30);
    assert.equal(rmpadjust(c, G(30), 2 as 0, 1, 1, false), RMP_RESULT.FAIL_INPUT);
    assert.equal(rmpadjust(c, G(30) + 1n, 0, 1, 1, false), RMP_RESULT.FAIL_INPUT);
    assert.equal(rmpadjust(c, G(30), 0, 4, 1, false), RMP_RESULT.FAIL_INPUT);
    assert.equal(rmpadjust(c, G(30), 0, 1, 0x20, false), RMP_RESULT.FAIL_INPUT);
  });

  it("returns FAIL_PERMISSION unless the target VMPL is numerically greater (checked first)", () => {
    const { rmp } = setup(0);
    validPage(rmp, 31);
    assert.equal(rmpadjust(ctxAt(rmp, 1), G(31), 0, 1, 0, false), RMP_RESULT.FAIL_PERMISSION, "own VMPL");
    assert.equal(rmpadjust(ctxAt(rmp, 1), G(31), 0, 0, 0, false), RMP_RESULT.FAIL_PERMISSION, "lower VMPL");
    assert.equal(rmpadjust(ctxAt(rmp, 0), G(31), 0, 0, 0, false), RMP_RESULT.FAIL_PERMISSION, "VMPL0 cannot target itself");
    assert.equal(rmpadjust(ctxAt(rmp, 2), G(40), 0, 1, 0, false), RMP_RESULT.FAIL_PERMISSION, "before #NPF on an unassigned page");
    assert.deepEqual(rmp.view(31).perms, [RMP_PERM_ALL, RMP_PERM_RWX, 0, 0]);
  });

  it("raises #NPF when the page is not assigned to this guest (after the VMPL check)", () => {
    const { c } = setup(0);
    assert.throws(() => rmpadjust(c, G(40), 0, 1, 1, false), isFault("npf", (f) => assert.equal(f.errorCode, NPF_OWN)));
  });

  it("raises #VC 0x404 when the page is not validated (before the size check)", () => {
    const { rmp, c } = setup(0);
    rmp.update(512, true, 0);
    const vc = isFault("vc", (f) => {
      assert.equal(f.vector, 29);
      assert.equal(f.errorCode, BigInt(VC_PAGE_NOT_VALIDATED));
    });
    assert.throws(() => rmpadjust(c, G(512), 0, 1, 1, false), vc);
    assert.throws(() => rmpadjust(c, G(512), 1, 1, 1, false), vc, "a 2 MiB request on the unvalidated 4 KiB entry is #VC, not FAIL_SIZEMISMATCH");
  });

  it("returns FAIL_SIZEMISMATCH for 2 MiB on a 4 KiB entry (before the subset check)", () => {
    const { rmp } = setup(0);
    validPage(rmp, 512, RMP_PERM.READ);
    assert.equal(rmpadjust(ctxAt(rmp, 0), G(512), 1, 1, 1, false), RMP_RESULT.FAIL_SIZEMISMATCH);
    assert.equal(rmpadjust(ctxAt(rmp, 1), G(512), 1, 2, RMP_PERM_RWX, false), RMP_RESULT.FAIL_SIZEMISMATCH, "subset would also fail");
  });

  it("adjusts all of a 2 MiB entry; 4 KiB on it is #NPF with SIZEM", () => {
    const { rmp, c } = setup(0);
    rmp.update(1024, true, 1);
    pvalidate(c, G(1024), 1, true);
    assert.equal(rmpadjust(c, G(1024), 1, 1, RMP_PERM.READ, false), RMP_RESULT.SUCCESS);
    assert.equal(rmp.perm(1535, 1), RMP_PERM.READ);
    assert.throws(() => rmpadjust(c, G(1025), 0, 1, 1, false), isFault("npf", (f) => assert.equal(f.errorCode, NPF_OWN | N.SIZEM)));
  });

  it("grants only a subset of the caller's own mask", () => {
    const { rmp } = setup(0);
    validPage(rmp, 32, RMP_PERM.READ | RMP_PERM.EXEC_USER);
    const c1 = ctxAt(rmp, 1);
    assert.equal(rmpadjust(c1, G(32), 0, 2, RMP_PERM.READ | RMP_PERM.WRITE, false), RMP_RESULT.FAIL_PERMISSION);
    assert.equal(rmp.perm(32, 2), 0);
    assert.equal(rmpadjust(c1, G(32), 0, 2, RMP_PERM.READ | RMP_PERM.EXEC_USER, false), RMP_RESULT.SUCCESS);
    assert.equal(rmp.perm(32, 2), RMP_PERM.READ | RMP_PERM.EXEC_USER);
    assert.equal(rmpadjust(c1, G(32), 0, 3, RMP_PERM.READ, false), RMP_RESULT.SUCCESS);
    assert.equal(rmpadjust(ctxAt(rmp, 0), G(32), 0, 1, RMP_PERM_ALL, false), RMP_RESULT.SUCCESS, "VMPL0 holds everything");
  });

  it("changes the VMSA bit only at VMPL0 and ignores it elsewhere", () => {
    const { rmp } = setup(0);
    validPage(rmp, 33, RMP_PERM_RWX);
    assert.equal(rmpadjust(ctxAt(rmp, 1), G(33), 0, 2, RMP_PERM.READ, true), RMP_RESULT.SUCCESS);
    assert.equal(rmp.isVmsa(33), false, "VMPL1 cannot set it");
    assert.equal(rmpadjust(ctxAt(rmp, 0), G(33), 0, 1, RMP_PERM.READ, true), RMP_RESULT.SUCCESS);
    assert.equal(rmp.isVmsa(33), true);
    assert.equal(rmpadjust(ctxAt(rmp, 1), G(33), 0, 2, 0, false), RMP_RESULT.SUCCESS);
    assert.equal(rmp.isVmsa(33), true, "VMPL1 cannot clear it");
    assert.equal(rmpadjust(ctxAt(rmp, 0), G(33), 0, 1, 0, false), RMP_RESULT.SUCCESS);
    assert.equal(rmp.isVmsa(33), false);
  });

  it("returns FAIL_INUSE when VMPL0 would change the VMSA bit of a VMSA that is running", () => {
    const { rmp, c } = setup(0, { inUse: [34] });
    rmp.launchAssign(34, [0, 0, 0], true);
    assert.equal(rmpadjust(c, G(34), 0, 1, 0, false), RMP_RESULT.FAIL_INUSE);
    assert.equal(rmp.isVmsa(34), true);
    assert.equal(rmpadjust(c, G(34), 0, 1, 0, true), RMP_RESULT.SUCCESS, "leaving the bit as it is is fine");
  });

  it("raises #GP at CPL > 0", () => {
    const { rmp } = setup(0);
    validPage(rmp, 35);
    assert.throws(() => rmpadjust(ctxAt(rmp, 0, 1), G(35), 0, 1, 0, false), isFault("gp"));
  });
});

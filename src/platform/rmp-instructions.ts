/**
 * PVALIDATE and RMPADJUST, the guest's RMP instructions (SNP.md §4.3, §4.4), with the
 * check order of VeriSMo's model (`RmpEntry::pvalidate` / `rmpadjust`), input checks
 * first:
 *
 * PVALIDATE: CPL≠0 → #GP; bad size / misaligned → FAIL_INPUT; VMPL≠0 → FAIL_PERMISSION
 * (the model's choice for "only VMPL0 may execute it", as VeriSMo does); entry not owned
 * by this guest at this GPA → #NPF (RMP|ENC), 4 KiB request on a 2 MiB entry → #NPF
 * (RMP|ENC|SIZEM); 2 MiB request on a 4 KiB entry → FAIL_SIZEMISMATCH; VALIDATED already
 * equal → success with RFLAGS.CF (no update); else set/clear VALIDATED only.
 *
 * RMPADJUST: CPL≠0 → #GP; bad size / misaligned / target VMPL > 3 / undefined mask bits
 * → FAIL_INPUT; target VMPL ≤ current → FAIL_PERMISSION; not owned → #NPF (as above);
 * not validated → #VC 0x404; 2 MiB on a 4 KiB entry → FAIL_SIZEMISMATCH; mask not a subset
 * of the caller's → FAIL_PERMISSION; changing the VMSA bit of a VMSA that is running →
 * FAIL_INUSE; then target mask := mask, and (only at VMPL0) VMSA := the VMSA flag.
 */
import { NPF_EXITINFO1 as N, PAGE_2M, RMP_PERM_ALL, RMP_RESULT } from "../shared/spec/index.js";
import type { PvalidateResult } from "./api.js";
import { PlatformError } from "./fault.js";
import { PAGE } from "./memory.js";
import { gp, npf, vcNotValidated } from "./raise.js";
import { PAGES_PER_2M, RMP_OWN } from "./rmp-table.js";
import type { RmpTable } from "./rmp-table.js";

export interface RmpInstrContext {
  readonly rmp: RmpTable;
  readonly vmpl: number;
  readonly cpl: number;
  /** Is the page a VMSA some vCPU is running right now? */
  readonly vmsaInUse: (pfn: number) => boolean;
}

const ALIGN_2M = Number(PAGE_2M);

export function pvalidate(c: RmpInstrContext, gpa: bigint, size: number, validate: boolean): PvalidateResult {
  const fail = (rc: number): PvalidateResult => ({ rc, noUpdate: false });
  if (c.cpl !== 0) throw gp({ access: "write", vmpl: c.vmpl, reason: "PVALIDATE at CPL > 0" });
  const pfn = inputPfn(c, gpa, size);
  if (pfn === undefined) return fail(RMP_RESULT.FAIL_INPUT);
  if (c.vmpl !== 0) return fail(RMP_RESULT.FAIL_PERMISSION);
  const sz = size as 0 | 1;
  ownership(c, pfn, sz, gpa, "PVALIDATE");
  if (sz === 1 && !c.rmp.is2M(pfn)) return fail(RMP_RESULT.FAIL_SIZEMISMATCH);
  if (c.rmp.isValidated(pfn) === validate) return { rc: RMP_RESULT.SUCCESS, noUpdate: true };
  const n = sz === 1 ? PAGES_PER_2M : 1;
  for (let i = 0; i < n; i++) c.rmp.setValidated(pfn + i, validate);
  return { rc: RMP_RESULT.SUCCESS, noUpdate: false };
}

export function rmpadjust(c: RmpInstrContext, gpa: bigint, size: number, targetVmpl: number, perms: number, vmsa: boolean): number {
  if (c.cpl !== 0) throw gp({ access: "write", vmpl: c.vmpl, reason: "RMPADJUST at CPL > 0" });
  const pfn = inputPfn(c, gpa, size);
  if (pfn === undefined) return RMP_RESULT.FAIL_INPUT;
  if (!Number.isInteger(targetVmpl) || targetVmpl < 0 || targetVmpl > 3) return RMP_RESULT.FAIL_INPUT;
  if (!Number.isInteger(perms) || perms < 0 || perms > RMP_PERM_ALL) return RMP_RESULT.FAIL_INPUT;
  if (c.vmpl === 0 && vmsa && size === 1) return RMP_RESULT.FAIL_INPUT;
  if (targetVmpl <= c.vmpl) return RMP_RESULT.FAIL_PERMISSION;
  const sz = size as 0 | 1;
  ownership(c, pfn, sz, gpa, "RMPADJUST");
  if (!c.rmp.isValidated(pfn)) throw vcNotValidated(gpa, { access: "write", vmpl: c.vmpl });
  if (sz === 1 && !c.rmp.is2M(pfn)) return RMP_RESULT.FAIL_SIZEMISMATCH;
  const mine = c.vmpl === 0 ? RMP_PERM_ALL : c.rmp.perm(pfn, c.vmpl);
  if ((perms & ~mine) !== 0) return RMP_RESULT.FAIL_PERMISSION;
  const setVmsa = c.vmpl === 0;
  if (setVmsa && c.rmp.isVmsa(pfn) !== vmsa && c.vmsaInUse(pfn)) return RMP_RESULT.FAIL_INUSE;
  const n = sz === 1 ? PAGES_PER_2M : 1;
  for (let i = 0; i < n; i++) {
    c.rmp.setPerm(pfn + i, targetVmpl, perms);
    if (setVmsa) c.rmp.setVmsa(pfn + i, vmsa);
  }
  return RMP_RESULT.SUCCESS;
}

/** The frame of a well-formed request, or undefined (FAIL_INPUT). */
function inputPfn(c: RmpInstrContext, gpa: bigint, size: number): number | undefined {
  if (size !== 0 && size !== 1) return undefined;
  if (gpa < 0n) throw new PlatformError("BAD_GPA", "negative GPA", { gpa });
  const align = size === 1 ? ALIGN_2M : PAGE;
  if (gpa % BigInt(align) !== 0n) return undefined;
  if (gpa >= BigInt(c.rmp.pages) * BigInt(PAGE)) {
    // No nested mapping: the access to the RMP entry's page faults before any check.
    throw npf(gpa, N.FINAL | N.ENC, { access: "write", vmpl: c.vmpl, reason: "GPA outside guest memory (no nested mapping)" });
  }
  return Number(gpa) / PAGE;
}

function ownership(c: RmpInstrContext, pfn: number, size: 0 | 1, gpa: bigint, what: string): void {
  const own = c.rmp.ownership(pfn, size);
  if (own === RMP_OWN.OK) return;
  const bits = N.P | N.FINAL | N.RMP | N.ENC;
  if (own === RMP_OWN.SIZE_MISMATCH_2M_ENTRY) {
    throw npf(gpa, bits | N.SIZEM, { access: "write", vmpl: c.vmpl, reason: `${what} 4 KiB on a 2 MiB RMP entry` });
  }
  throw npf(gpa, bits, { access: "write", vmpl: c.vmpl, reason: `${what} of a page not assigned to this guest at this GPA` });
}

/**
 * RMP entry and VMPL permission masks — SNP.md §4.1, §4.2 (APM Vol 2 §15.36; Linux
 * arch/x86/virt/svm/sev.c `struct rmpentry_raw`; VeriSMo `perm_s.rs`).
 */

/** Per-VMPL permission mask bits (RMPADJUST RDX bits 15:8). SNP.md §4.2. */
export const RMP_PERM = {
  READ: 0x01,
  WRITE: 0x02,
  EXEC_USER: 0x04,
  EXEC_SUPER: 0x08,
  SUPERVISOR_SHADOW_STACK: 0x10,
} as const;
/** R | W | Xu | Xs — what "RWX" means when granting a guest OS access. */
export const RMP_PERM_RWX = 0x0f;
/** Every defined bit; VMPL0's (non-adjustable) mask on assigned pages. */
export const RMP_PERM_ALL = 0x1f;

export const VMPL_COUNT = 4;

/**
 * Zen3/Zen4 raw 16-byte RMP entry, low qword (SNP.md §4.1). The high qword is
 * non-architectural; this model keeps the VMPL masks there, one byte each:
 * bits 7:0 VMPL0, 15:8 VMPL1, 23:16 VMPL2, 31:24 VMPL3 (a modelling choice).
 */
export const RMP_ENTRY_SIZE = 16;
export const RMP_LO = {
  ASSIGNED: { bit: 0, width: 1 },
  PAGE_SIZE: { bit: 1, width: 1 },
  IMMUTABLE: { bit: 2, width: 1 },
  GPA_PFN: { bit: 12, width: 39 },
  ASID: { bit: 51, width: 10 },
  VMSA: { bit: 61, width: 1 },
  VALIDATED: { bit: 62, width: 1 },
} as const;

/** RMPADJUST RDX encoding (SNP.md §4.4). */
export const RMPADJUST_RDX = {
  TARGET_VMPL: { bit: 0, width: 8 },
  TARGET_PERM_MASK: { bit: 8, width: 8 },
  VMSA: { bit: 16, width: 1 },
} as const;

/** PVALIDATE / RMPADJUST return codes in EAX (SNP.md §4.3, §4.4). */
export const RMP_RESULT = {
  SUCCESS: 0,
  FAIL_INPUT: 1,
  FAIL_PERMISSION: 2,
  FAIL_INUSE: 3,
  FAIL_OVERLAP: 4,
  FAIL_SIZEMISMATCH: 6,
  /** Software code (Linux) for PVALIDATE with RFLAGS.CF = 1: the page already had the requested state. */
  PVALIDATE_NO_UPDATE: 255,
} as const;
export type RmpResult = (typeof RMP_RESULT)[keyof typeof RMP_RESULT];

/** RMP page sizes (PVALIDATE ECX / RMPADJUST RCX). */
export const RMP_PAGE_SIZE = { SIZE_4K: 0, SIZE_2M: 1 } as const;

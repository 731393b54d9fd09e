/**
 * #NPF (nested page fault) EXITINFO1 bits and the VM exit codes used — SNP.md §4.5, §6.3
 * (Linux arch/x86/include/asm/kvm_host.h PFERR_*, uapi/asm/svm.h SVM_EXIT_*).
 */
export const NPF_EXITINFO1 = {
  /** Page present in the nested table. */
  P: 1n << 0n,
  /** The access was a write. */
  W: 1n << 1n,
  /** The access was from user mode (CPL 3). */
  U: 1n << 2n,
  /** Reserved bit set in a nested entry. */
  RSV: 1n << 3n,
  /** The access was an instruction fetch. */
  FETCH: 1n << 4n,
  /** RMP check failed (PFERR_GUEST_RMP_MASK). */
  RMP: 1n << 31n,
  /** Fault on the final guest-physical address (PFERR_GUEST_FINAL_MASK). */
  FINAL: 1n << 32n,
  /** Fault during the guest's own page-table walk (PFERR_GUEST_PAGE_MASK). */
  PAGE_WALK: 1n << 33n,
  /** Encrypted (C=1) access (PFERR_GUEST_ENC_MASK). */
  ENC: 1n << 34n,
  /** Page-size mismatch between the access and the RMP entry (PFERR_GUEST_SIZEM_MASK). */
  SIZEM: 1n << 35n,
  /** VMPL permission violation (PFERR_GUEST_VMPL_MASK). */
  VMPL: 1n << 36n,
} as const;

/** SVM exit codes (uapi/asm/svm.h). */
export const SVM_EXIT = {
  EXCP_DB: 0x41,
  EXCP_PF: 0x4e,
  CPUID: 0x72,
  HLT: 0x78,
  IOIO: 0x7b,
  MSR: 0x7c,
  VMMCALL: 0x81,
  NPF: 0x400,
  AVIC_INCOMPLETE_IPI: 0x401,
  VMGEXIT: 0x403,
  /** "Invalid" exit: e.g. VMRUN of a page that is not a VMSA. */
  INVALID: -1,
} as const;

/** #VC error code for an access to an unvalidated private page (SNP.md §4.5). */
export const VC_PAGE_NOT_VALIDATED = 0x404;
/** Vector numbers of the exceptions the model raises in the guest. */
export const X86_VECTOR = { DB: 1, GP: 13, PF: 14, VC: 29 } as const;

/** Guest #PF error code bits (x86). */
export const PF_ERROR = {
  P: 1 << 0,
  W: 1 << 1,
  U: 1 << 2,
  RSVD: 1 << 3,
  I: 1 << 4,
  PK: 1 << 5,
  SS: 1 << 6,
  /** X86_PF_RMP: host write to a guest-assigned page. */
  RMP: 1 << 31,
} as const;

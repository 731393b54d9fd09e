/**
 * The platform contract: what the SEV-SNP machine offers to each party.
 *
 * Capabilities, not globals (coconut-svsm GuestPtr): nobody but the platform holds the
 * raw memory. The hypervisor gets a `HypervisorPort` (its view: ciphertext, RMPUPDATE,
 * VMRUN, the ASP's commands). Code running in the CVM — the guest kernel at VMPL1, the
 * agent at VMPL0 — is a `VcpuProgram` that the platform calls when the host VMRUNs a
 * VMSA of that VMPL; each call gets a `Cpu` bound to that vCPU and VMSA, whose every
 * memory access goes through the one access path (paging, then the RMP check for the
 * VMSA's VMPL). Only the composition root installs programs.
 */
import type { Gpa } from "../shared/base/index.js";
import type { VmsaU64Name } from "../shared/spec/index.js";
import type { AccessKind, CpuFault } from "./fault.js";
export type { AccessKind, CpuFaultKind } from "./fault.js";


// ---------------------------------------------------------------------------------
// Exits and faults

/**
 * What the hypervisor learns from a VMRUN: the VMCB control-area exit information. It
 * never includes the guest's registers (those are in the encrypted VMSA); for a VMGEXIT
 * the guest's GHCB MSR value tells where its (shared) GHCB is, or carries an MSR-protocol
 * request (SNP.md §6.2).
 */
export interface VmExit {
  /** SVM exit code (SVM_EXIT in shared/spec/npf.ts), or VMEXIT_INVALID. */
  readonly code: number;
  readonly info1: bigint;
  readonly info2: bigint;
  /** Value of the GHCB MSR (0xC0010130) of the VMSA that exited. */
  readonly ghcbMsr: bigint;
  /** Instructions the program retired during this VMRUN. */
  readonly retired: number;
}

/** VMRUN failed before entering the guest (e.g. the page is not a VMSA). */
export const VMEXIT_INVALID = -1;
/** The time slice given to VMRUN ran out (a host timer interrupt). */
export const VMEXIT_INTR = 0x60;
/** The program executed HLT. */
export const VMEXIT_HLT = 0x78;
/** Unhandled exception in the guest (triple fault). */
export const VMEXIT_SHUTDOWN = 0x7f;

// ---------------------------------------------------------------------------------
// The CPU as seen by code running in the CVM

/** One x86 segment register as stored in the VMSA. */
export interface Segment {
  selector: number;
  attrib: number;
  limit: number;
  base: bigint;
}
export type SegmentName = "es" | "cs" | "ss" | "ds" | "fs" | "gs" | "gdtr" | "ldtr" | "idtr" | "tr";

/** Result of PVALIDATE: EAX, and RFLAGS.CF (set when VALIDATED already had the value). */
export interface PvalidateResult {
  readonly rc: number;
  readonly noUpdate: boolean;
}

/**
 * The execution context handed to a VcpuProgram for one VMRUN. Register accessors read and
 * write the bytes of the VMSA page (the real layout). Memory accessors throw a
 * `CpuFault` (below) when the access faults; the platform turns an uncaught #NPF into a
 * VM exit (the instruction did not retire and will be re-executed), and hands an
 * uncaught guest exception to `VcpuProgram.exception`.
 */
export interface Cpu {
  readonly vcpu: number;
  readonly vmpl: number;
  /** GPA of the VMSA this context runs from. */
  readonly vmsaGpa: Gpa;
  /** Position of the C-bit in page-table entries (51 by default). */
  readonly cBit: number;

  getReg(name: VmsaU64Name): bigint;
  setReg(name: VmsaU64Name, value: bigint): void;
  getSegment(name: SegmentName): Segment;
  setSegment(name: SegmentName, seg: Segment): void;
  /** Current privilege level (VMSA.cpl). */
  readonly cpl: number;
  setCpl(cpl: number): void;

  /** Virtual accesses through this context's paging (CR3/CR0/CR4/EFER of its VMSA). */
  readVirt(va: bigint, len: number): Uint8Array;
  writeVirt(va: bigint, data: Uint8Array): void;
  /** Instruction fetch at `va` (execute-user or execute-supervisor by CPL). */
  fetch(va: bigint, len?: number): Uint8Array;
  /**
   * Physical accesses, as code with an identity map would make them: `shared` false
   * (default) means C=1 (private, RMP-checked for this VMPL), true means C=0 (shared,
   * hypervisor-owned pages only).
   */
  readPhys(gpa: Gpa, len: number, opts?: { shared?: boolean }): Uint8Array;
  writePhys(gpa: Gpa, data: Uint8Array, opts?: { shared?: boolean }): void;
  /**
   * `readPhys` into `dst[dstOffset, dstOffset + len)`, for code that fills one buffer from
   * many pages (the agent's reads): exactly the checks and faults of `readPhys` (one RMP
   * check per page, pages in ascending order), each page copied straight out of the page
   * store, nothing allocated. A fault leaves `dst` partially written: the bytes of the
   * pages before the faulting one are in place, the rest of the range is untouched. A
   * range outside `dst` throws PlatformError("BAD_ARGUMENT") before any access.
   */
  readPhysInto(gpa: Gpa, dst: Uint8Array, dstOffset: number, len: number, opts?: { shared?: boolean }): void;
  /**
   * `writePhys` of `src[srcOffset, srcOffset + len)`: the same checks and faults; every
   * page is checked before any is written, so a faulting write changes nothing.
   */
  writePhysFrom(gpa: Gpa, src: Uint8Array, srcOffset: number, len: number, opts?: { shared?: boolean }): void;

  /**
   * The model of decode assists. Real AMD CPUs hand the hypervisor the bytes of the
   * instruction that caused a #NPF (DecodeAssists), so an SVSM or agent can decode its
   * length; this guest has no real x86 bytes, so the program declares the length (1..15)
   * at the start of an instruction instead. If the current instruction declared one, a
   * #NPF it raises writes guest_nrip = RIP + length into the VMSA, so VMPL0 can skip it
   * (RIP := guest_nrip); otherwise guest_nrip = RIP, as without decode assists. Each step
   * starts with no length declared. Optional: a program that never skips need not call it.
   */
  setInstructionLength?(len: number): void;

  /** PVALIDATE on the page at `gpa` (size 0 = 4 KiB, 1 = 2 MiB). SNP.md §4.3. */
  pvalidate(gpa: Gpa, size: 0 | 1, validate: boolean): PvalidateResult;
  /** RMPADJUST (SNP.md §4.4); returns EAX. */
  rmpadjust(gpa: Gpa, size: 0 | 1, targetVmpl: number, perms: number, vmsa: boolean): number;

  rdmsr(msr: number): bigint;
  wrmsr(msr: number, value: bigint): void;
  /** Guest TSC in nanoseconds of the machine's injected clock (SecureTSC: host cannot skew it). */
  rdtsc(): bigint;
}

/** What one `step` did. */
export type StepResult =
  /** Retired one instruction; keep running. */
  | { readonly kind: "next" }
  /** Retired VMGEXIT (rep vmmcall): exit to the hypervisor (exit code 0x403). */
  | { readonly kind: "vmgexit" }
  /** Retired HLT: nothing to do until an event (exit code 0x78). */
  | { readonly kind: "hlt" };

/**
 * Code of one VMPL (the guest kernel at VMPL1, the agent at VMPL0). `step` executes ONE
 * instruction for `cpu.vcpu`; if it throws a CpuFault the instruction did not retire and
 * must have no effect (it will be re-executed on the next VMRUN).
 *
 * Single-step: as on hardware, RFLAGS.TF is latched when an instruction starts. A retired
 * instruction that began with TF set is followed by a #DB intercept exit
 * (SVM_EXIT.EXCP_DB), even if it cleared TF itself (SYSCALL through SFMASK, POPF, IRET);
 * one that set TF itself is not (the #DB follows the next instruction). A stepped
 * instruction that exits by itself (VMGEXIT, HLT) gives its own exit and no #DB: the
 * intercept comes first and no #DB is left pending, so a single-step that ends on such an
 * exit is over. A step that faults retires nothing and gives no #DB.
 */
export interface VcpuProgram {
  step(cpu: Cpu): StepResult;
  /**
   * A guest exception (#PF, #VC, #GP) raised by an access of `step` and not caught there:
   * the kernel's exception handler. Return true if handled (execution continues with the
   * next step); false or absent → triple fault (VMEXIT_SHUTDOWN).
   */
  exception?(cpu: Cpu, fault: CpuFault): boolean;
}

// ---------------------------------------------------------------------------------
// The hypervisor's view

export interface RmpEntryView {
  readonly assigned: boolean;
  readonly validated: boolean;
  readonly vmsa: boolean;
  readonly immutable: boolean;
  readonly pageSize: 0 | 1;
  readonly asid: number;
  /** Permission masks of VMPL0..3 (VMPL0 is RMP_PERM_ALL on assigned pages). */
  readonly perms: readonly [number, number, number, number];
}

/** Page types of SNP_LAUNCH_UPDATE (shared/spec/page-info.ts PAGE_TYPE). */
export type LaunchPageType = "normal" | "vmsa" | "zero" | "unmeasured" | "secrets" | "cpuid";

export interface LaunchUpdate {
  readonly gpa: Gpa;
  readonly type: LaunchPageType;
  /** VMPL1..3 permission masks pre-granted by the hypervisor (PAGE_INFO). */
  readonly vmplPerms?: readonly [number, number, number];
}

export interface AspCertificates {
  /** DER of the VCEK for the current REPORTED_TCB. */
  readonly vcek: Uint8Array;
  /** DER of the ASK and ARK (the KDS cert_chain). */
  readonly ask: Uint8Array;
  readonly ark: Uint8Array;
  readonly arkPem: string;
}

/** The AMD secure processor's firmware commands the hypervisor may issue (SNP.md §3, §6.4). */
export interface AspPort {
  launchStart(p: { policy: bigint; gosvw?: Uint8Array }): void;
  /**
   * Measures and assigns the page at `gpa` whose plaintext the hypervisor wrote while it
   * was still hypervisor-owned; returns the launch digest after this page.
   */
  launchUpdate(u: LaunchUpdate): Uint8Array;
  launchFinish(p: { hostData?: Uint8Array; idBlock?: Uint8Array; idAuth?: Uint8Array }): void;
  /** The current launch digest (48 bytes). */
  readonly launchDigest: Uint8Array;
  /**
   * SNP_GUEST_REQUEST: reads the request page (a guest message, SNP.md §6.4) and writes
   * the response page; returns the firmware status (0 = success).
   */
  guestRequest(requestGpa: Gpa, responseGpa: Gpa): number;
  /** What the KDS would return for this chip (VCEK, ASK, ARK). */
  certificates(): AspCertificates;
}

export interface HypervisorPort {
  readonly memoryBytes: bigint;
  readonly vcpuCount: number;
  readonly cBit: number;
  /** False for a non-confidential VM: no RMP, no encryption, no ASP reports. */
  readonly sev: boolean;

  /** Host read: ciphertext of guest-assigned pages (AES-256-XTS, tweaked by GPA), the stored bytes of shared ones. */
  read(gpa: Gpa, len: number): Uint8Array;
  /** Host write: throws HostPageFault (error code with PF_ERROR.RMP) on a guest-assigned page. */
  write(gpa: Gpa, data: Uint8Array): void;
  rmpRead(gpa: Gpa): RmpEntryView;
  /**
   * RMPUPDATE: assigns a page to the guest (private) or back to the hypervisor (shared).
   * Clears VALIDATED and VMSA and resets the masks (SNP.md §4.2); fails on immutable pages.
   * The DRAM keeps its bytes, so a page made shared reads (host, guest C=0) as the guest
   * key's AES-XTS ciphertext — exactly what `read` showed while it was private — and a page
   * made private reads through C=1 as the XTS decryption of what the host left in it. Only
   * `asp.launchUpdate` puts plaintext into a private page.
   */
  rmpUpdate(gpa: Gpa, e: { assigned: boolean; pageSize?: 0 | 1 }): void;
  /** Runs the VMSA at `vmsaGpa` on vCPU `vcpu` for at most `budget` instructions. */
  vmrun(vcpu: number, vmsaGpa: Gpa, budget: number): VmExit;
  /**
   * Writes the GHCB MSR (0xC0010130) of the context whose VMSA is at `vmsaGpa`: the VMCB's
   * GHCB GPA field, the hypervisor's only way to answer a GHCB MSR-protocol request
   * (SNP.md §6.2). The guest reads the value with RDMSR after its VMGEXIT, and the next
   * `VmExit.ghcbMsr` of that VMSA reports it until the guest writes the MSR again. Nothing
   * else changes (no VMSA byte, no guest memory). `vmsaGpa` must be a page VMRUN would
   * enter: on an SEV machine an RMP VMSA page of this guest (else `PlatformError`
   * "BAD_GPA"); `value` is taken modulo 2^64.
   */
  setGhcbMsr(vmsaGpa: Gpa, value: bigint): void;
  readonly asp: AspPort;
  /**
   * Non-confidential mode only (sev = false): direct plaintext access to guest memory and
   * vCPU registers, as KVM has on an ordinary VM. Throws on an SEV machine.
   */
  plainAccess(): PlainAccess;
}

export interface PlainAccess {
  readPhys(gpa: Gpa, len: number): Uint8Array;
  writePhys(gpa: Gpa, data: Uint8Array): void;
  /** The VMSA page of a vCPU's running context (for register access). */
  vmsaOf(vcpu: number): Gpa;
}

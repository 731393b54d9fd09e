/**
 * The initial VMSA pages of the launch (`launchPlan`'s `vmsaPage(vmpl, vcpu)`), measured
 * as VMSA pages, so the owner's expected measurement and the host's launch agree.
 *
 * VMPL0 (the agent): 64-bit mode at the image's entry (AGENT_ENTRY_OFFSET), flat segments,
 * stack at the top of the agent's private heap. The model's agent addresses memory
 * physically (`Cpu.readPhys`, as code with an identity map), so CR3 is 0.
 * VMPL1 (the guest): QEMU's reset state (SNP.md §3.3, `qemuResetVmsa`) with VMSA.vmpl = 1;
 * the guest kernel model sets up its own mode when it starts.
 * Both use QEMU's default SEV_FEATURES (SNPActive | DebugSwap).
 */
import { PAGE_SIZE } from "../shared/base/index.js";
import {
  AGENT_ENTRY_OFFSET,
  CR0_PG,
  CR0_WP,
  CR4_PAE,
  EFER_LMA,
  EFER_LME,
  EFER_NXE,
  EFER_SVME,
  QEMU_BSP_EIP,
  QEMU_DEFAULT_SEV_FEATURES,
  VMSA,
  qemuResetVmsa,
} from "../shared/spec/index.js";
import type { SevenLayout, VmsaFields } from "../shared/spec/index.js";

/** CPUID(1).EAX of the modelled part (Milan B1), QEMU's RDX at reset. */
export const RESET_CPUID_SIGNATURE = 0x00a0_0f11n;

const CR0_PE = 1n << 0n;
const CR0_ET = 1n << 4n;
const CR0_NE = 1n << 5n;
const CR4_MCE = 1n << 6n;
const CR4_OSFXSR = 1n << 9n;
const CR4_OSXMMEXCPT = 1n << 10n;
/** Segment attributes in the VMSA's packed form: type/S/DPL/P in bits 7:0, AVL/L/DB/G in 11:8. */
const CODE64 = 0xa9b;
const DATA = 0xc93;

export function initialVmsaFields(vmpl: 0 | 1, vcpu: number, layout: SevenLayout): VmsaFields {
  if (!Number.isInteger(vcpu) || vcpu < 0 || vcpu >= layout.vcpus) throw new RangeError(`no vCPU ${vcpu} in this layout`);
  if (vmpl === 1) {
    const v = qemuResetVmsa({ eip: QEMU_BSP_EIP, sevFeatures: QEMU_DEFAULT_SEV_FEATURES, rdx: RESET_CPUID_SIGNATURE });
    v.vmpl = 1;
    return v;
  }
  if (vmpl !== 0) throw new RangeError(`VMPL must be 0 or 1 (got ${String(vmpl)})`);
  const v = VMSA.parse(new Uint8Array(VMSA.size));
  const seg = (n: "es" | "cs" | "ss" | "ds" | "fs" | "gs" | "gdtr" | "ldtr" | "idtr" | "tr", selector: number, attrib: number, limit: number) => {
    v[`${n}_selector`] = selector;
    v[`${n}_attrib`] = attrib;
    v[`${n}_limit`] = limit;
    v[`${n}_base`] = 0n;
  };
  seg("cs", 0x08, CODE64, 0xffff_ffff);
  for (const n of ["ds", "es", "ss", "fs", "gs"] as const) seg(n, 0x10, DATA, 0xffff_ffff);
  seg("gdtr", 0, 0, 0);
  seg("idtr", 0, 0, 0);
  seg("ldtr", 0, 0x82, 0xffff);
  seg("tr", 0, 0x8b, 0xffff);
  v.vmpl = 0;
  v.cpl = 0;
  v.efer = EFER_LME | EFER_LMA | EFER_NXE | EFER_SVME;
  v.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
  v.cr4 = CR4_PAE | CR4_MCE | CR4_OSFXSR | CR4_OSXMMEXCPT;
  v.cr3 = 0n;
  v.rflags = 0x2n;
  v.rip = layout.image + AGENT_ENTRY_OFFSET;
  v.rsp = layout.heap + BigInt(layout.heapPages * PAGE_SIZE);
  v.rdi = BigInt(vcpu);
  v.dr7 = 0x400n;
  v.dr6 = 0xffff_0ff0n;
  v.g_pat = 0x0007_0406_0007_0406n;
  v.sev_features = QEMU_DEFAULT_SEV_FEATURES;
  v.xcr0 = 0x1n;
  v.mxcsr = 0x1f80;
  v.x87_fcw = 0x37f;
  return v;
}

/** The 4 KiB VMSA page launched for (vmpl, vcpu). */
export function initialVmsaPage(vmpl: 0 | 1, vcpu: number, layout: SevenLayout): Uint8Array {
  const page = new Uint8Array(PAGE_SIZE);
  VMSA.serialize(initialVmsaFields(vmpl, vcpu, layout), page, 0);
  return page;
}

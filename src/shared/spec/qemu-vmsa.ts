/**
 * QEMU's initial (reset-state) VMSA for an SNP vCPU — SNP.md §3.3 (sev-snp-measure `vmsa.py`,
 * QEMU VMM type). Used to predict the launch digest of a QEMU/OVMF guest (golden vector §3.4
 * step 5). Everything not listed is zero.
 */
import { PAGE_SIZE } from "../base/index.js";
import { VMSA } from "./vmsa.js";
import type { VmsaFields } from "./vmsa.js";

/** Reset-vector EIP of the bootstrap processor. */
export const QEMU_BSP_EIP = 0xffff_fff0;
/** QEMU's default SEV_FEATURES for SNP guests: SNPActive | DebugSwap. */
export const QEMU_DEFAULT_SEV_FEATURES = 0x21n;

export interface QemuVmsaInput {
  /** Reset EIP: 0xFFFFFFF0 for the BSP, the OVMF SEV-ES reset-block EIP for APs. */
  readonly eip: number;
  readonly sevFeatures: bigint;
  /** CPUID(1).EAX signature (family/model/stepping), e.g. 0x00800F12. */
  readonly rdx: bigint;
}

/** The VMSA fields of a QEMU vCPU at reset. */
export function qemuResetVmsa(p: QemuVmsaInput): VmsaFields {
  if (!Number.isInteger(p.eip) || p.eip < 0 || p.eip > 0xffff_ffff) throw new RangeError(`EIP ${p.eip} is not a u32`);
  const v = VMSA.parse(new Uint8Array(VMSA.size));
  const seg = (n: "es" | "cs" | "ss" | "ds" | "fs" | "gs" | "gdtr" | "ldtr" | "idtr" | "tr", sel: number, attrib: number, limit: number, base: bigint) => {
    v[`${n}_selector`] = sel;
    v[`${n}_attrib`] = attrib;
    v[`${n}_limit`] = limit;
    v[`${n}_base`] = base;
  };
  for (const n of ["es", "ss", "ds", "fs", "gs"] as const) seg(n, 0, 0x93, 0xffff, 0n);
  seg("cs", 0xf000, 0x9b, 0xffff, BigInt(p.eip) & 0xffff_0000n);
  seg("gdtr", 0, 0, 0xffff, 0n);
  seg("idtr", 0, 0, 0xffff, 0n);
  seg("ldtr", 0, 0x82, 0xffff, 0n);
  seg("tr", 0, 0x8b, 0xffff, 0n);
  v.efer = 0x1000n; // EFER.SVME (KVM)
  v.cr4 = 0x40n; // CR4.MCE (KVM)
  v.cr0 = 0x10n;
  v.dr7 = 0x400n;
  v.dr6 = 0xffff_0ff0n;
  v.rflags = 0x2n;
  v.rip = BigInt(p.eip) & 0xffffn;
  v.g_pat = 0x0007_0406_0007_0406n;
  v.rdx = p.rdx;
  v.sev_features = p.sevFeatures;
  v.xcr0 = 0x1n;
  v.mxcsr = 0x1f80;
  v.x87_fcw = 0x37f;
  return v;
}

/** A VMSA as the 4 KiB page that is launched and measured (struct + zero padding). */
export function vmsaPage(fields: VmsaFields): Uint8Array {
  const page = new Uint8Array(PAGE_SIZE);
  VMSA.serialize(fields, page, 0);
  return page;
}

/**
 * The MSRs a Cpu can read and write. Most are views of VMSA fields (the VMSA is the
 * register file); the GHCB MSR is kept by the platform per VMSA page (the VMCB's GHCB
 * GPA field in hardware); SEV_STATUS is read-only and derived from SEV_FEATURES
 * (SNP.md §5: SEV_FEATURES = SEV_STATUS >> 2). Anything else raises #GP.
 */
import { MSR_GHCB } from "../shared/spec/index.js";
import type { VmsaU64Name } from "../shared/spec/index.js";

export const MSR = {
  TSC: 0x10,
  SYSENTER_CS: 0x174,
  SYSENTER_ESP: 0x175,
  SYSENTER_EIP: 0x176,
  PAT: 0x277,
  EFER: 0xc000_0080,
  STAR: 0xc000_0081,
  LSTAR: 0xc000_0082,
  CSTAR: 0xc000_0083,
  SFMASK: 0xc000_0084,
  FS_BASE: 0xc000_0100,
  GS_BASE: 0xc000_0101,
  KERNEL_GS_BASE: 0xc000_0102,
  TSC_AUX: 0xc000_0103,
  GHCB: MSR_GHCB,
  SEV_STATUS: 0xc001_0131,
} as const;

/** SEV_STATUS bits 0 (SEV) and 1 (SEV-ES); bit 2 onward are SEV_FEATURES. */
export const SEV_STATUS_SEV_ES = 0b11n;

/** MSRs that are plain u64 fields of the VMSA. */
export const VMSA_MSRS: ReadonlyMap<number, VmsaU64Name> = new Map<number, VmsaU64Name>([
  [MSR.SYSENTER_CS, "sysenter_cs"],
  [MSR.SYSENTER_ESP, "sysenter_esp"],
  [MSR.SYSENTER_EIP, "sysenter_eip"],
  [MSR.PAT, "g_pat"],
  [MSR.EFER, "efer"],
  [MSR.STAR, "star"],
  [MSR.LSTAR, "lstar"],
  [MSR.CSTAR, "cstar"],
  [MSR.SFMASK, "sfmask"],
  [MSR.FS_BASE, "fs_base"],
  [MSR.GS_BASE, "gs_base"],
  [MSR.KERNEL_GS_BASE, "kernel_gs_base"],
]);

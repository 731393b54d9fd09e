/**
 * A full x86-64 register set of one vCPU, as every driver reports it. All values are
 * bigint. Segment `attrib` uses the SVM/VMSA 12-bit format (SNP.md §5: descriptor byte 5
 * — type, S, DPL, P — in bits 7:0 and the AVL, L, D/B, G nibble in bits 11:8), whatever
 * the source: drivers convert (see `qemuFlagsToAttrib`).
 */
export interface Segment {
  readonly selector: bigint;
  readonly base: bigint;
  readonly limit: bigint;
  readonly attrib: bigint;
}

export interface DescriptorTable {
  readonly base: bigint;
  readonly limit: bigint;
}

export interface RegisterSet {
  readonly rax: bigint;
  readonly rbx: bigint;
  readonly rcx: bigint;
  readonly rdx: bigint;
  readonly rsi: bigint;
  readonly rdi: bigint;
  readonly rsp: bigint;
  readonly rbp: bigint;
  readonly r8: bigint;
  readonly r9: bigint;
  readonly r10: bigint;
  readonly r11: bigint;
  readonly r12: bigint;
  readonly r13: bigint;
  readonly r14: bigint;
  readonly r15: bigint;
  readonly rip: bigint;
  readonly rflags: bigint;
  readonly cr0: bigint;
  readonly cr2: bigint;
  readonly cr3: bigint;
  readonly cr4: bigint;
  readonly xcr0: bigint;
  readonly dr0: bigint;
  readonly dr1: bigint;
  readonly dr2: bigint;
  readonly dr3: bigint;
  readonly dr6: bigint;
  readonly dr7: bigint;
  readonly cs: Segment;
  readonly ds: Segment;
  readonly es: Segment;
  readonly fs: Segment;
  readonly gs: Segment;
  readonly ss: Segment;
  readonly tr: Segment;
  readonly ldtr: Segment;
  readonly gdtr: DescriptorTable;
  readonly idtr: DescriptorTable;
  readonly efer: bigint;
  readonly star: bigint;
  readonly lstar: bigint;
  readonly cstar: bigint;
  readonly sfmask: bigint;
  readonly kernelGsBase: bigint;
  readonly sysenterCs: bigint;
  readonly sysenterEsp: bigint;
  readonly sysenterEip: bigint;
}

export type RegisterName = keyof RegisterSet;

export const GPR_NAMES = [
  "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
  "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
] as const satisfies readonly RegisterName[];
export const SEGMENT_NAMES = ["cs", "ds", "es", "fs", "gs", "ss", "tr", "ldtr"] as const satisfies readonly RegisterName[];
export const REGISTER_NAMES: readonly RegisterName[] = [
  ...GPR_NAMES, "rip", "rflags",
  "cr0", "cr2", "cr3", "cr4", "xcr0",
  "dr0", "dr1", "dr2", "dr3", "dr6", "dr7",
  ...SEGMENT_NAMES, "gdtr", "idtr",
  "efer", "star", "lstar", "cstar", "sfmask", "kernelGsBase",
  "sysenterCs", "sysenterEsp", "sysenterEip",
];

/**
 * One vCPU's registers as a driver returns them. `known` lists the registers the source
 * actually holds; the others are 0n (e.g. an ELF core has no EFER or LSTAR). Live drivers
 * know them all.
 */
export interface VcpuRegisters {
  readonly vcpu: number;
  readonly regs: RegisterSet;
  readonly known: ReadonlySet<RegisterName>;
}

export const ZERO_SEGMENT: Segment = Object.freeze({ selector: 0n, base: 0n, limit: 0n, attrib: 0n });

export function zeroRegisterSet(): RegisterSet {
  const r: Record<string, unknown> = {};
  for (const n of REGISTER_NAMES) r[n] = 0n;
  for (const s of SEGMENT_NAMES) r[s] = ZERO_SEGMENT;
  r["gdtr"] = { base: 0n, limit: 0n };
  r["idtr"] = { base: 0n, limit: 0n };
  return r as unknown as RegisterSet;
}

/** Builds a RegisterSet from a partial one (the rest zero). */
export function registerSet(partial: Partial<RegisterSet>): RegisterSet {
  return { ...zeroRegisterSet(), ...partial };
}

/**
 * QEMU keeps segment "flags" as the high dword of the descriptor (type/S/DPL/P in bits
 * 15:8, limit 19:16 in bits 19:16, AVL/L/DB/G in bits 23:20); SVM keeps the 12-bit attrib.
 */
export function qemuFlagsToAttrib(flags: bigint): bigint {
  return ((flags >> 8n) & 0xffn) | ((flags >> 12n) & 0xf00n);
}

/** Inverse of `qemuFlagsToAttrib`; limit bits 19:16 are rebuilt from the (expanded) limit. */
export function attribToQemuFlags(attrib: bigint, limit: bigint): bigint {
  const g = (attrib & 0x800n) !== 0n;
  const rawLimit = g ? limit >> 12n : limit;
  return ((attrib & 0xffn) << 8n) | ((attrib & 0xf00n) << 12n) | (((rawLimit >> 16n) & 0xfn) << 16n);
}

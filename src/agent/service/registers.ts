/**
 * Registers of a guest (VMPL1) context, read from and written to its VMSA page bytes
 * (SNP.md §5). One table maps each register name of both protocols to its VMSA field
 * (offset and size), so v1's Register enum, v0's RegisterID (LibVMI's reg_t) and the full
 * RegisterSet all agree.
 */
import { create } from "@bufbuild/protobuf";
import { readUintLE, writeUintLE } from "../../shared/base/index.js";
import { VMSA } from "../../shared/spec/index.js";
import { v0, v1 } from "../../shared/protocol/index.js";

export interface RegField {
  readonly offset: number;
  readonly size: 2 | 4 | 8;
}

type VmsaName = (typeof VMSA.fields)[number]["name"];
const f = (name: VmsaName): RegField => {
  const s = VMSA.field(name);
  if (s.size !== 2 && s.size !== 4 && s.size !== 8) throw new Error(`VMSA.${name} is not a register`);
  return { offset: s.offset, size: s.size };
};

export const VMSA_REG = {
  rax: f("rax"), rbx: f("rbx"), rcx: f("rcx"), rdx: f("rdx"), rsi: f("rsi"), rdi: f("rdi"), rbp: f("rbp"), rsp: f("rsp"),
  r8: f("r8"), r9: f("r9"), r10: f("r10"), r11: f("r11"), r12: f("r12"), r13: f("r13"), r14: f("r14"), r15: f("r15"),
  rip: f("rip"), rflags: f("rflags"), cr0: f("cr0"), cr2: f("cr2"), cr3: f("cr3"), cr4: f("cr4"), xcr0: f("xcr0"),
  dr0: f("dr0"), dr1: f("dr1"), dr2: f("dr2"), dr3: f("dr3"), dr6: f("dr6"), dr7: f("dr7"),
  efer: f("efer"), star: f("star"), lstar: f("lstar"), cstar: f("cstar"), sfmask: f("sfmask"), kernel_gs_base: f("kernel_gs_base"),
  sysenter_cs: f("sysenter_cs"), sysenter_esp: f("sysenter_esp"), sysenter_eip: f("sysenter_eip"),
  fs_base: f("fs_base"), gs_base: f("gs_base"),
  guest_nrip: f("guest_nrip"), guest_exit_code: f("guest_exit_code"), guest_exit_info_1: f("guest_exit_info_1"), guest_exit_info_2: f("guest_exit_info_2"),
} as const;

export const CPL_OFFSET = VMSA.offsetOf("cpl");

export function readField(vmsa: Uint8Array, r: RegField): bigint {
  return readUintLE(vmsa, r.offset, r.size);
}

/** The value as it would be stored (truncated to the field's size). */
export function fieldBytes(r: RegField, value: bigint): Uint8Array {
  const b = new Uint8Array(r.size);
  writeUintLE(b, 0, r.size, BigInt.asUintN(r.size * 8, value));
  return b;
}

/** v1 Register → VMSA field. */
export const V1_REGISTERS: ReadonlyMap<v1.Register, RegField> = new Map<v1.Register, RegField>([
  [v1.Register.RAX, VMSA_REG.rax], [v1.Register.RBX, VMSA_REG.rbx], [v1.Register.RCX, VMSA_REG.rcx], [v1.Register.RDX, VMSA_REG.rdx],
  [v1.Register.RSI, VMSA_REG.rsi], [v1.Register.RDI, VMSA_REG.rdi], [v1.Register.RBP, VMSA_REG.rbp], [v1.Register.RSP, VMSA_REG.rsp],
  [v1.Register.R8, VMSA_REG.r8], [v1.Register.R9, VMSA_REG.r9], [v1.Register.R10, VMSA_REG.r10], [v1.Register.R11, VMSA_REG.r11],
  [v1.Register.R12, VMSA_REG.r12], [v1.Register.R13, VMSA_REG.r13], [v1.Register.R14, VMSA_REG.r14], [v1.Register.R15, VMSA_REG.r15],
  [v1.Register.RIP, VMSA_REG.rip], [v1.Register.RFLAGS, VMSA_REG.rflags],
  [v1.Register.CR0, VMSA_REG.cr0], [v1.Register.CR2, VMSA_REG.cr2], [v1.Register.CR3, VMSA_REG.cr3], [v1.Register.CR4, VMSA_REG.cr4],
  [v1.Register.XCR0, VMSA_REG.xcr0],
  [v1.Register.DR0, VMSA_REG.dr0], [v1.Register.DR1, VMSA_REG.dr1], [v1.Register.DR2, VMSA_REG.dr2], [v1.Register.DR3, VMSA_REG.dr3],
  [v1.Register.DR6, VMSA_REG.dr6], [v1.Register.DR7, VMSA_REG.dr7],
  [v1.Register.EFER, VMSA_REG.efer], [v1.Register.STAR, VMSA_REG.star], [v1.Register.LSTAR, VMSA_REG.lstar], [v1.Register.CSTAR, VMSA_REG.cstar],
  [v1.Register.SFMASK, VMSA_REG.sfmask], [v1.Register.KERNEL_GS_BASE, VMSA_REG.kernel_gs_base],
  [v1.Register.SYSENTER_CS, VMSA_REG.sysenter_cs], [v1.Register.SYSENTER_ESP, VMSA_REG.sysenter_esp], [v1.Register.SYSENTER_EIP, VMSA_REG.sysenter_eip],
  [v1.Register.FS_BASE, VMSA_REG.fs_base], [v1.Register.GS_BASE, VMSA_REG.gs_base],
]);

const seg = (n: string, part: "selector" | "limit" | "base"): RegField => f(`${n}_${part}` as VmsaName);

/** v0 RegisterID (LibVMI reg_t) → VMSA field (LEGACY-PROTOCOL.md "Enums"). */
export const V0_REGISTERS: ReadonlyMap<v0.RegisterID, RegField> = new Map<v0.RegisterID, RegField>([
  [v0.RegisterID.RAX, VMSA_REG.rax], [v0.RegisterID.RBX, VMSA_REG.rbx], [v0.RegisterID.RCX, VMSA_REG.rcx], [v0.RegisterID.RDX, VMSA_REG.rdx],
  [v0.RegisterID.RBP, VMSA_REG.rbp], [v0.RegisterID.RSI, VMSA_REG.rsi], [v0.RegisterID.RDI, VMSA_REG.rdi], [v0.RegisterID.RSP, VMSA_REG.rsp],
  [v0.RegisterID.RIP, VMSA_REG.rip], [v0.RegisterID.RFLAGS, VMSA_REG.rflags],
  [v0.RegisterID.R8, VMSA_REG.r8], [v0.RegisterID.R9, VMSA_REG.r9], [v0.RegisterID.R10, VMSA_REG.r10], [v0.RegisterID.R11, VMSA_REG.r11],
  [v0.RegisterID.R12, VMSA_REG.r12], [v0.RegisterID.R13, VMSA_REG.r13], [v0.RegisterID.R14, VMSA_REG.r14], [v0.RegisterID.R15, VMSA_REG.r15],
  [v0.RegisterID.CR0, VMSA_REG.cr0], [v0.RegisterID.CR2, VMSA_REG.cr2], [v0.RegisterID.CR3, VMSA_REG.cr3], [v0.RegisterID.CR4, VMSA_REG.cr4],
  [v0.RegisterID.XCR0, VMSA_REG.xcr0],
  [v0.RegisterID.DR0, VMSA_REG.dr0], [v0.RegisterID.DR1, VMSA_REG.dr1], [v0.RegisterID.DR2, VMSA_REG.dr2], [v0.RegisterID.DR3, VMSA_REG.dr3],
  [v0.RegisterID.DR6, VMSA_REG.dr6], [v0.RegisterID.DR7, VMSA_REG.dr7],
  [v0.RegisterID.CS_SEL, seg("cs", "selector")], [v0.RegisterID.DS_SEL, seg("ds", "selector")], [v0.RegisterID.ES_SEL, seg("es", "selector")],
  [v0.RegisterID.FS_SEL, seg("fs", "selector")], [v0.RegisterID.GS_SEL, seg("gs", "selector")], [v0.RegisterID.SS_SEL, seg("ss", "selector")],
  [v0.RegisterID.TR_SEL, seg("tr", "selector")], [v0.RegisterID.LDTR_SEL, seg("ldtr", "selector")],
  [v0.RegisterID.CS_LIMIT, seg("cs", "limit")], [v0.RegisterID.DS_LIMIT, seg("ds", "limit")], [v0.RegisterID.ES_LIMIT, seg("es", "limit")],
  [v0.RegisterID.FS_LIMIT, seg("fs", "limit")], [v0.RegisterID.GS_LIMIT, seg("gs", "limit")], [v0.RegisterID.SS_LIMIT, seg("ss", "limit")],
  [v0.RegisterID.TR_LIMIT, seg("tr", "limit")], [v0.RegisterID.LDTR_LIMIT, seg("ldtr", "limit")],
  [v0.RegisterID.IDTR_LIMIT, seg("idtr", "limit")], [v0.RegisterID.GDTR_LIMIT, seg("gdtr", "limit")],
  [v0.RegisterID.CS_BASE, seg("cs", "base")], [v0.RegisterID.DS_BASE, seg("ds", "base")], [v0.RegisterID.ES_BASE, seg("es", "base")],
  [v0.RegisterID.FS_BASE, seg("fs", "base")], [v0.RegisterID.GS_BASE, seg("gs", "base")], [v0.RegisterID.SS_BASE, seg("ss", "base")],
  [v0.RegisterID.TR_BASE, seg("tr", "base")], [v0.RegisterID.LDTR_BASE, seg("ldtr", "base")],
  [v0.RegisterID.IDTR_BASE, seg("idtr", "base")], [v0.RegisterID.GDTR_BASE, seg("gdtr", "base")],
  [v0.RegisterID.SYSENTER_CS, VMSA_REG.sysenter_cs], [v0.RegisterID.SYSENTER_ESP, VMSA_REG.sysenter_esp], [v0.RegisterID.SYSENTER_EIP, VMSA_REG.sysenter_eip],
  [v0.RegisterID.MSR_EFER, VMSA_REG.efer],
]);

function segment(vmsa: Uint8Array, n: "cs" | "ds" | "es" | "fs" | "gs" | "ss" | "tr" | "ldtr"): v1.Segment {
  const s = VMSA.field(`${n}_selector`).offset;
  return create(v1.SegmentSchema, {
    selector: Number(readUintLE(vmsa, s, 2)),
    attrib: Number(readUintLE(vmsa, s + 2, 2)),
    limit: Number(readUintLE(vmsa, s + 4, 4)),
    base: readUintLE(vmsa, s + 8, 8),
  });
}

function table(vmsa: Uint8Array, n: "gdtr" | "idtr"): v1.DescriptorTable {
  const s = VMSA.field(`${n}_selector`).offset;
  return create(v1.DescriptorTableSchema, { base: readUintLE(vmsa, s + 8, 8), limit: Number(readUintLE(vmsa, s + 4, 4)) });
}

/** The full v1 RegisterSet of a VMSA. */
export function registerSet(vcpu: number, vmsa: Uint8Array, stopped: boolean): v1.RegisterSet {
  const r = (x: RegField) => readField(vmsa, x);
  const g = VMSA_REG;
  return create(v1.RegisterSetSchema, {
    vcpu,
    rax: r(g.rax), rbx: r(g.rbx), rcx: r(g.rcx), rdx: r(g.rdx), rsi: r(g.rsi), rdi: r(g.rdi), rbp: r(g.rbp), rsp: r(g.rsp),
    r8: r(g.r8), r9: r(g.r9), r10: r(g.r10), r11: r(g.r11), r12: r(g.r12), r13: r(g.r13), r14: r(g.r14), r15: r(g.r15),
    rip: r(g.rip), rflags: r(g.rflags), cr0: r(g.cr0), cr2: r(g.cr2), cr3: r(g.cr3), cr4: r(g.cr4), xcr0: r(g.xcr0),
    dr0: r(g.dr0), dr1: r(g.dr1), dr2: r(g.dr2), dr3: r(g.dr3), dr6: r(g.dr6), dr7: r(g.dr7),
    efer: r(g.efer), star: r(g.star), lstar: r(g.lstar), cstar: r(g.cstar), sfmask: r(g.sfmask), kernelGsBase: r(g.kernel_gs_base),
    sysenterCs: r(g.sysenter_cs), sysenterEsp: r(g.sysenter_esp), sysenterEip: r(g.sysenter_eip),
    cs: segment(vmsa, "cs"), ds: segment(vmsa, "ds"), es: segment(vmsa, "es"), fs: segment(vmsa, "fs"),
    gs: segment(vmsa, "gs"), ss: segment(vmsa, "ss"), tr: segment(vmsa, "tr"), ldtr: segment(vmsa, "ldtr"),
    gdtr: table(vmsa, "gdtr"), idtr: table(vmsa, "idtr"),
    cpl: vmsa[CPL_OFFSET] ?? 0,
    stopped,
  });
}

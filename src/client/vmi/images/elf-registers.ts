/**
 * Registers ↔ ELF core notes: QEMUCPUState (GPRs, RIP, RFLAGS, segments, GDT/IDT,
 * CR0–CR4, KERNEL_GS_BASE) and NT_PRSTATUS (GPRs, RIP, RFLAGS, selectors, FS/GS base).
 */
import { readU64, writeU64 } from "../../../shared/base/index.js";
import {
  GPR_NAMES, ZERO_SEGMENT, attribToQemuFlags, qemuFlagsToAttrib, registerSet,
  type RegisterName, type RegisterSet, type Segment, type VcpuRegisters,
} from "../registers.js";
import { ELF_PRSTATUS_X86_64, USER_REGS, userRegOffset } from "./elf-layout.js";
import { QEMU_CPU_STATE, QEMU_CPU_STATE_SIZE, QEMU_CPU_STATE_VERSION, type QemuCpuState } from "./qemu-cpu-state.js";

type Prstatus = ReturnType<typeof ELF_PRSTATUS_X86_64.parse>;

const QEMU_KNOWN: ReadonlySet<RegisterName> = new Set<RegisterName>([
  ...GPR_NAMES, "rip", "rflags", "cs", "ds", "es", "fs", "gs", "ss", "ldtr", "tr", "gdtr", "idtr",
  "cr0", "cr2", "cr3", "cr4", "kernelGsBase",
]);
/** PRSTATUS gives segment selectors (and FS/GS bases) only: limits and attribs read 0. */
const PRSTATUS_KNOWN: ReadonlySet<RegisterName> = new Set<RegisterName>([
  ...GPR_NAMES, "rip", "rflags", "cs", "ds", "es", "fs", "gs", "ss",
]);

type QemuSeg = "cs" | "ds" | "es" | "fs" | "gs" | "ss" | "ldt" | "tr";

function qseg(s: QemuCpuState, n: QemuSeg): Segment {
  const limit = BigInt(s[`${n}_limit`]);
  return { selector: BigInt(s[`${n}_selector`]), base: s[`${n}_base`], limit, attrib: qemuFlagsToAttrib(BigInt(s[`${n}_flags`])) };
}

export function qemuRegisters(vcpu: number, s: QemuCpuState): VcpuRegisters {
  const regs = registerSet({
    rax: s.rax, rbx: s.rbx, rcx: s.rcx, rdx: s.rdx, rsi: s.rsi, rdi: s.rdi, rsp: s.rsp, rbp: s.rbp,
    r8: s.r8, r9: s.r9, r10: s.r10, r11: s.r11, r12: s.r12, r13: s.r13, r14: s.r14, r15: s.r15,
    rip: s.rip, rflags: s.rflags,
    cs: qseg(s, "cs"), ds: qseg(s, "ds"), es: qseg(s, "es"), fs: qseg(s, "fs"), gs: qseg(s, "gs"), ss: qseg(s, "ss"),
    ldtr: qseg(s, "ldt"), tr: qseg(s, "tr"),
    gdtr: { base: s.gdt_base, limit: BigInt(s.gdt_limit) },
    idtr: { base: s.idt_base, limit: BigInt(s.idt_limit) },
    cr0: s.cr0, cr2: s.cr2, cr3: s.cr3, cr4: s.cr4,
    kernelGsBase: s.kernel_gs_base,
  });
  return { vcpu, regs, known: QEMU_KNOWN };
}

export function prstatusRegisters(vcpu: number, p: Prstatus): VcpuRegisters {
  const r = (n: (typeof USER_REGS)[number]): bigint => readU64(p.pr_reg, userRegOffset(n));
  const sel = (n: "cs" | "ds" | "es" | "ss"): Segment => ({ ...ZERO_SEGMENT, selector: r(n) });
  const regs = registerSet({
    rax: r("rax"), rbx: r("rbx"), rcx: r("rcx"), rdx: r("rdx"), rsi: r("rsi"), rdi: r("rdi"), rsp: r("rsp"), rbp: r("rbp"),
    r8: r("r8"), r9: r("r9"), r10: r("r10"), r11: r("r11"), r12: r("r12"), r13: r("r13"), r14: r("r14"), r15: r("r15"),
    rip: r("rip"), rflags: r("eflags"),
    cs: sel("cs"), ds: sel("ds"), es: sel("es"), ss: sel("ss"),
    fs: { ...ZERO_SEGMENT, selector: r("fs"), base: r("fs_base") },
    gs: { ...ZERO_SEGMENT, selector: r("gs"), base: r("gs_base") },
  });
  return { vcpu, regs, known: PRSTATUS_KNOWN };
}

const u32n = (v: bigint): number => Number(BigInt.asUintN(32, v));

/** The QEMUCPUState v1 note desc for a register set. */
export function qemuNoteDesc(regs: RegisterSet): Uint8Array {
  const seg = (n: string, s: Segment): Record<string, number | bigint> => ({
    [`${n}_selector`]: u32n(s.selector),
    [`${n}_limit`]: u32n(s.limit),
    [`${n}_flags`]: u32n(attribToQemuFlags(s.attrib, s.limit)),
    [`${n}_base`]: BigInt.asUintN(64, s.base),
  });
  const v: Record<string, number | bigint> = {
    version: QEMU_CPU_STATE_VERSION,
    size: QEMU_CPU_STATE_SIZE,
    rip: regs.rip, rflags: regs.rflags,
    ...seg("cs", regs.cs), ...seg("ds", regs.ds), ...seg("es", regs.es), ...seg("fs", regs.fs), ...seg("gs", regs.gs),
    ...seg("ss", regs.ss), ...seg("ldt", regs.ldtr), ...seg("tr", regs.tr),
    gdt_base: regs.gdtr.base, gdt_limit: u32n(regs.gdtr.limit),
    idt_base: regs.idtr.base, idt_limit: u32n(regs.idtr.limit),
    cr0: regs.cr0, cr2: regs.cr2, cr3: regs.cr3, cr4: regs.cr4, kernel_gs_base: regs.kernelGsBase,
  };
  for (const g of GPR_NAMES) v[g] = regs[g];
  return QEMU_CPU_STATE.serialize(v as Partial<QemuCpuState>);
}

/** The NT_PRSTATUS desc for a register set (pr_pid = vcpu + 1, as QEMU writes it). */
export function prstatusDesc(vcpu: number, regs: RegisterSet): Uint8Array {
  const reg = new Uint8Array(USER_REGS.length * 8);
  const put = (n: (typeof USER_REGS)[number], x: bigint): void => writeU64(reg, userRegOffset(n), x);
  for (const g of GPR_NAMES) put(g, regs[g]);
  put("rip", regs.rip);
  put("eflags", regs.rflags);
  put("cs", regs.cs.selector);
  put("ds", regs.ds.selector);
  put("es", regs.es.selector);
  put("ss", regs.ss.selector);
  put("fs", regs.fs.selector);
  put("gs", regs.gs.selector);
  put("fs_base", regs.fs.base);
  put("gs_base", regs.gs.base);
  return ELF_PRSTATUS_X86_64.serialize({ pr_pid: vcpu + 1, pr_reg: reg });
}

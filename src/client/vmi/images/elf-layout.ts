/**
 * ELF64 structures used by core files — System V gABI "ELF-64 Object File Format" and
 * Linux include/uapi/linux/elf.h (Elf64_Ehdr, Elf64_Phdr, Elf64_Shdr, Elf64_Nhdr), and
 * the x86-64 `struct elf_prstatus` (include/linux/elfcore.h, 336 bytes, pr_reg at 112
 * holding `struct user_regs_struct`, arch/x86/include/asm/user_64.h).
 */
import { bytes, defineLayout, u16, u32, u64f } from "../../../shared/spec/index.js";

export const ELFMAG = [0x7f, 0x45, 0x4c, 0x46] as const;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const EV_CURRENT = 1;
export const ET_CORE = 4;
export const EM_X86_64 = 62;
export const PT_LOAD = 1;
export const PT_NOTE = 4;
/** e_phnum value meaning "the real count is in section 0's sh_info". */
export const PN_XNUM = 0xffff;
export const NT_PRSTATUS = 1;
/** QEMU's per-vCPU note ("QEMU", type 0) carrying QEMUCPUState. */
export const NT_QEMU_CPUSTATE = 0;

export const ELF64_EHDR = defineLayout({
  name: "Elf64_Ehdr",
  size: 64,
  source: "System V gABI, ELF header",
  fields: [
    bytes("e_ident", 0, 16, "magic, class, data, version, OS ABI"),
    u16("e_type", 16),
    u16("e_machine", 18),
    u32("e_version", 20),
    u64f("e_entry", 24),
    u64f("e_phoff", 32),
    u64f("e_shoff", 40),
    u32("e_flags", 48),
    u16("e_ehsize", 52),
    u16("e_phentsize", 54),
    u16("e_phnum", 56),
    u16("e_shentsize", 58),
    u16("e_shnum", 60),
    u16("e_shstrndx", 62),
  ],
});

export const ELF64_PHDR = defineLayout({
  name: "Elf64_Phdr",
  size: 56,
  source: "System V gABI, program header",
  fields: [
    u32("p_type", 0),
    u32("p_flags", 4),
    u64f("p_offset", 8),
    u64f("p_vaddr", 16),
    u64f("p_paddr", 24),
    u64f("p_filesz", 32),
    u64f("p_memsz", 40),
    u64f("p_align", 48),
  ],
});

export const ELF64_SHDR = defineLayout({
  name: "Elf64_Shdr",
  size: 64,
  source: "System V gABI, section header",
  fields: [
    u32("sh_name", 0),
    u32("sh_type", 4),
    u64f("sh_flags", 8),
    u64f("sh_addr", 16),
    u64f("sh_offset", 24),
    u64f("sh_size", 32),
    u32("sh_link", 40),
    u32("sh_info", 44),
    u64f("sh_addralign", 48),
    u64f("sh_entsize", 56),
  ],
});

export const ELF64_NHDR = defineLayout({
  name: "Elf64_Nhdr",
  size: 12,
  source: "System V gABI, note section (name and desc each padded to 4 bytes)",
  fields: [u32("n_namesz", 0), u32("n_descsz", 4), u32("n_type", 8)],
});

/** user_regs_struct order (arch/x86/include/asm/user_64.h). */
export const USER_REGS = [
  "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi", "rdi",
  "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs",
] as const;

export const ELF_PRSTATUS_X86_64 = defineLayout({
  name: "elf_prstatus (x86-64)",
  size: 336,
  source: "include/linux/elfcore.h struct elf_prstatus; pr_reg = user_regs_struct",
  fields: [
    u32("si_signo", 0),
    u32("si_code", 4),
    u32("si_errno", 8),
    u16("pr_cursig", 12),
    u64f("pr_sigpend", 16),
    u64f("pr_sighold", 24),
    u32("pr_pid", 32),
    u32("pr_ppid", 36),
    u32("pr_pgrp", 40),
    u32("pr_sid", 44),
    bytes("pr_times", 48, 64, "utime, stime, cutime, cstime"),
    bytes("pr_reg", 112, USER_REGS.length * 8, "27 x u64, USER_REGS order"),
    u32("pr_fpvalid", 328),
  ],
});

/** Byte offset of a register inside pr_reg. */
export function userRegOffset(name: (typeof USER_REGS)[number]): number {
  return USER_REGS.indexOf(name) * 8;
}

/**
 * QEMU's per-vCPU ELF note: name "QEMU", type 0, desc = QEMUCPUState version 1, 440
 * bytes (QEMU target/i386/arch_dump.c; ../shared/fixtures/linux/README.md).
 * Segment records are {u32 selector, u32 limit, u32 flags, u32 pad, u64 base}; `flags`
 * is the descriptor's high dword (see `qemuFlagsToAttrib`).
 */
import { defineLayout, u32, u64f, type Parsed } from "../../../shared/spec/index.js";

function seg<N extends string>(n: N, off: number) {
  return [
    u32(`${n}_selector`, off),
    u32(`${n}_limit`, off + 4),
    u32(`${n}_flags`, off + 8),
    u32(`${n}_pad`, off + 12),
    u64f(`${n}_base`, off + 16),
  ] as const;
}

export const QEMU_CPU_STATE_VERSION = 1;
export const QEMU_CPU_STATE_SIZE = 440;
export const QEMU_NOTE_NAME = "QEMU";

/** Segment records in their order in the note. */
export const QEMU_SEGMENTS = ["cs", "ds", "es", "fs", "gs", "ss", "ldt", "tr", "gdt", "idt"] as const;

export const QEMU_CPU_STATE = defineLayout({
  name: "QEMUCPUState v1",
  size: QEMU_CPU_STATE_SIZE,
  source: "QEMU target/i386/arch_dump.c (struct QEMUCPUState)",
  fields: [
    u32("version", 0),
    u32("size", 4),
    u64f("rax", 8),
    u64f("rbx", 16),
    u64f("rcx", 24),
    u64f("rdx", 32),
    u64f("rsi", 40),
    u64f("rdi", 48),
    u64f("rsp", 56),
    u64f("rbp", 64),
    u64f("r8", 72),
    u64f("r9", 80),
    u64f("r10", 88),
    u64f("r11", 96),
    u64f("r12", 104),
    u64f("r13", 112),
    u64f("r14", 120),
    u64f("r15", 128),
    u64f("rip", 136),
    u64f("rflags", 144),
    ...seg("cs", 152),
    ...seg("ds", 176),
    ...seg("es", 200),
    ...seg("fs", 224),
    ...seg("gs", 248),
    ...seg("ss", 272),
    ...seg("ldt", 296),
    ...seg("tr", 320),
    ...seg("gdt", 344),
    ...seg("idt", 368),
    u64f("cr0", 392),
    u64f("cr1", 400),
    u64f("cr2", 408),
    u64f("cr3", 416),
    u64f("cr4", 424),
    u64f("kernel_gs_base", 432),
  ],
});

export type QemuCpuState = Parsed<typeof QEMU_CPU_STATE.fields>;

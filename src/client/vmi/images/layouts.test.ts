/** Layout offsets against numbers copied by hand from the sources each table cites. */
import { it } from "node:test";
import assert from "node:assert/strict";
import { QEMU_CPU_STATE } from "./qemu-cpu-state.js";
import { ELF64_EHDR, ELF64_NHDR, ELF64_PHDR, ELF64_SHDR, ELF_PRSTATUS_X86_64, userRegOffset } from "./elf-layout.js";
import { LIME_HEADER } from "./lime-layout.js";
import { attribToQemuFlags, qemuFlagsToAttrib } from "../registers.js";

it("QEMUCPUState v1 has the fixture README's offsets", () => {
  const o = (n: Parameters<typeof QEMU_CPU_STATE.offsetOf>[0]) => QEMU_CPU_STATE.offsetOf(n);
  assert.equal(QEMU_CPU_STATE.size, 440);
  assert.deepEqual([o("version"), o("size"), o("rax"), o("r15"), o("rip"), o("rflags")], [0, 4, 8, 128, 136, 144]);
  assert.deepEqual([o("cs_selector"), o("cs_limit"), o("cs_flags"), o("cs_base")], [152, 156, 160, 168]);
  assert.deepEqual([o("ldt_selector"), o("tr_selector"), o("gdt_base"), o("idt_limit"), o("idt_base")], [296, 320, 360, 372, 384]);
  assert.deepEqual([o("cr0"), o("cr3"), o("cr4"), o("kernel_gs_base")], [392, 416, 424, 432]);
});

it("ELF64 and LiME headers have their specified sizes and offsets", () => {
  assert.deepEqual([ELF64_EHDR.size, ELF64_PHDR.size, ELF64_SHDR.size, ELF64_NHDR.size], [64, 56, 64, 12]);
  assert.deepEqual([ELF64_EHDR.offsetOf("e_phoff"), ELF64_EHDR.offsetOf("e_phnum"), ELF64_PHDR.offsetOf("p_paddr"), ELF64_PHDR.offsetOf("p_memsz")], [32, 56, 24, 40]);
  assert.equal(ELF64_SHDR.offsetOf("sh_info"), 44);
  assert.deepEqual([ELF_PRSTATUS_X86_64.size, ELF_PRSTATUS_X86_64.offsetOf("pr_pid"), ELF_PRSTATUS_X86_64.offsetOf("pr_reg")], [336, 32, 112]);
  assert.deepEqual([userRegOffset("r15"), userRegOffset("rip"), userRegOffset("fs_base"), userRegOffset("gs")], [0, 128, 168, 208]);
  assert.deepEqual([LIME_HEADER.size, LIME_HEADER.offsetOf("s_addr"), LIME_HEADER.offsetOf("e_addr")], [32, 8, 16]);
});

it("converts QEMU segment flags to SVM attribs and back (values from registers.txt)", () => {
  assert.equal(qemuFlagsToAttrib(0x00af9b00n), 0xa9bn); // CS: L, G, present code
  assert.equal(qemuFlagsToAttrib(0x00cf9300n), 0xc93n); // SS
  assert.equal(attribToQemuFlags(0xa9bn, 0xffffffffn), 0x00af9b00n);
  assert.equal(attribToQemuFlags(0xc93n, 0xffffffffn), 0x00cf9300n);
  assert.equal(attribToQemuFlags(0x089n, 0x4087n), 0x00008900n); // TR
  assert.equal(attribToQemuFlags(0x082n, 0n), 0x00008200n); // LDT
});

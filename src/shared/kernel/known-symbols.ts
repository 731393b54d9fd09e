/**
 * Types of well-known kernel globals, from their declarations in the kernel source.
 * vmlinux BTF of this vintage describes only per-cpu variables, so without this table
 * `init_task` or `modules` would have no type, and Volatility's object_from_symbol (and
 * our own `symbolType`) could not use them. A type is attached only when the profile
 * defines what it names; array counts are architectural (256 IDT gates), never guessed.
 */
import type { IsfTypeDesc } from "./isf-types.js";

const struct = (name: string): IsfTypeDesc => ({ kind: "struct", name });
const ulong: IsfTypeDesc = { kind: "base", name: "long unsigned int" };

export const KNOWN_SYMBOL_TYPES: ReadonlyMap<string, IsfTypeDesc> = new Map<string, IsfTypeDesc>([
  ["init_task", struct("task_struct")], // kernel/init_task.c
  ["init_mm", struct("mm_struct")], // mm/init-mm.c
  ["init_cred", struct("cred")], // kernel/cred.c
  ["init_fs", struct("fs_struct")], // fs/fs_struct.c
  ["init_files", struct("files_struct")], // fs/file.c
  ["init_uts_ns", struct("uts_namespace")], // init/version.c
  ["init_pid_ns", struct("pid_namespace")], // kernel/pid.c
  ["init_net", struct("net")], // net/core/net_namespace.c
  ["modules", struct("list_head")], // kernel/module/main.c: LIST_HEAD(modules)
  ["tty_drivers", struct("list_head")], // drivers/tty/tty_io.c
  ["net_namespace_list", struct("list_head")], // net/core/net_namespace.c
  ["module_kset", { kind: "pointer", subtype: struct("kset") }], // kernel/params.c
  ["idt_table", { kind: "array", count: 256, subtype: struct("gate_struct") }], // arch/x86/kernel/idt.c: gate_desc idt_table[IDT_ENTRIES]
  ["page_offset_base", ulong], // arch/x86/mm/kaslr.c
  ["vmalloc_base", ulong],
  ["vmemmap_base", ulong],
  ["phys_base", ulong], // arch/x86/kernel/head_64.S
  ["jiffies_64", { kind: "base", name: "long long unsigned int" }], // kernel/time/timer.c (u64)
]);

/** The names (struct/union/enum/base) a descriptor mentions. */
export function descNames(d: IsfTypeDesc): { users: string[]; enums: string[]; bases: string[] } {
  const out = { users: [] as string[], enums: [] as string[], bases: [] as string[] };
  const walk = (x: IsfTypeDesc): void => {
    switch (x.kind) {
      case "base":
        out.bases.push(x.name);
        break;
      case "pointer":
      case "array":
        walk(x.subtype);
        break;
      case "struct":
      case "union":
      case "class":
        out.users.push(x.name);
        break;
      case "enum":
        out.enums.push(x.name);
        break;
      case "bitfield":
        walk(x.type);
        break;
      case "function":
        break;
    }
  };
  walk(d);
  return out;
}

/**
 * Part of the real-kernel-data generator (extract-real-kernel-data.ts): the fixture
 * kernel's loaded modules as load_module left them (core layout sizes, reference count,
 * signature verdict, taints — in load order, the reverse of the `modules` list) and the
 * names of the builtin modules' kobjects on the module kset (/sys/module entries with no
 * struct module), in kset list order.
 */
import type { ImageReader } from "./extract-real-proc.js";

export function extractModules(img: ImageReader): string[] {
  const off = (s: string, m: string): bigint => BigInt(img.off(s, m));
  const u32 = (va: bigint): number => img.read(va, 4).readUInt32LE(0);
  const lines: string[] = [];

  const head = img.sym("modules");
  const mods: string[] = [];
  for (let n = img.u64(head), i = 0; n !== head; n = img.u64(n), i++) {
    if (i > 1024) throw new Error("modules list does not end");
    const m = n - off("module", "list");
    const name = img.read(m + off("module", "name"), 56).toString("latin1").replace(/\0.*$/s, "");
    const f = [
      `name: ${JSON.stringify(name)}`,
      `size: ${u32(m + off("module", "core_layout.size"))}`,
      `textSize: ${u32(m + off("module", "core_layout.text_size"))}`,
      `roSize: ${u32(m + off("module", "core_layout.ro_size"))}`,
      `refcnt: ${u32(m + off("module", "refcnt"))}`,
      `sigOk: ${img.read(m + off("module", "sig_ok"), 1)[0] !== 0}`,
      `taints: ${img.u64(m + off("module", "taints")).toString()}`,
    ];
    mods.unshift(`  { ${f.join(", ")} },`);
  }
  lines.push("/** Loaded modules in load order (the `modules` list is newest first). */");
  lines.push("export const REAL_MODULES: readonly RealModule[] = [");
  lines.push(...mods);
  lines.push("];");
  lines.push("");

  const kset = img.u64(img.sym("module_kset"));
  const list = kset + off("kset", "list");
  const builtins: string[] = [];
  for (let e = img.u64(list), i = 0; e !== list; e = img.u64(e), i++) {
    if (i > 4096) throw new Error("module kset list does not end");
    const kobj = e - off("kobject", "entry");
    const mod = img.u64(kobj - off("module_kobject", "kobj") + off("module_kobject", "mod"));
    if (mod === 0n) builtins.push(JSON.stringify(img.cstring(img.u64(kobj + off("kobject", "name")))));
  }
  lines.push("/** Builtin modules' kobjects on module_kset (no struct module), in list order. */");
  lines.push("export const REAL_BUILTIN_KOBJECTS: readonly string[] = [");
  for (let i = 0; i < builtins.length; i += 8) lines.push(`  ${builtins.slice(i, i + 8).join(", ")},`);
  lines.push("];");
  return lines;
}

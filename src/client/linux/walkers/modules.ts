/**
 * Loaded modules two ways: the `modules` list (struct module.list, what lsmod and
 * /proc/modules show) and the module kset (module_kset → kset.list → kobject.entry →
 * container module_kobject → mod: what /sys/module shows). A module in one and not the
 * other has been hidden. Built-in "modules" with parameters sit in the kset with mod NULL.
 */
import { VmiError } from "../../vmi/index.js";
import { isKernelPointer } from "../constants.js";
import { badPointer, walkReadError } from "../errors.js";
import type { LinuxKernel } from "../kernel.js";
import { requirements } from "../requirements.js";
import { StructView, readStrings, readViews, windowOf, windowOfStruct, type Window } from "../struct-view.js";
import { containerOf, walkList } from "./list.js";

export const MODULES = requirements("modules", {
  members: {
    module: ["list", "name", "state", "core_layout.base", "core_layout.size", "core_layout.text_size", "mkobj", "taints"],
    module_kobject: ["kobj", "mod"],
  },
  optional: { module: ["sig_ok"] }, // CONFIG_MODULE_SIG
  symbols: ["modules"],
});

/** include/linux/panic.h: taint bits a module carries for being out of tree or unsigned. */
export const TAINT_OOT_MODULE = 12;
export const TAINT_UNSIGNED_MODULE = 13;

export const MODULE_KSET = requirements("module-kset", {
  members: {
    kset: ["list"],
    kobject: ["name", "entry"],
    module_kobject: ["kobj", "mod"],
  },
  symbols: ["module_kset"],
});

export interface Module {
  readonly address: bigint;
  readonly name: string;
  /** enum module_state: 0 live, 1 coming, 2 going, 3 unformed. */
  readonly state: number;
  /** Core layout: where the module's code and data live. */
  readonly base: bigint;
  readonly size: number;
  readonly textSize: number;
  /** &mod->mkobj.kobj: what the kset links. */
  readonly kobject: bigint;
  /** Signature verified at load (CONFIG_MODULE_SIG); undefined when the kernel has no such field. */
  readonly sigOk: boolean | undefined;
  /** The module's taint bits (TAINT_OOT_MODULE, TAINT_UNSIGNED_MODULE, …). */
  readonly taints: bigint;
}

/** Code of this module is not vouched for: unsigned, or out of tree. */
export function untrustedModule(m: Module): string | undefined {
  if (m.sigOk === false) return "its signature was not verified";
  if ((m.taints & (1n << BigInt(TAINT_UNSIGNED_MODULE))) !== 0n) return "it is tainted unsigned";
  if ((m.taints & (1n << BigInt(TAINT_OOT_MODULE))) !== 0n) return "it is an out-of-tree module";
  return undefined;
}

export async function listModules(k: LinuxKernel): Promise<Module[]> {
  const b = k.bound(MODULES);
  const o = b.o.module;
  const sig = b.opt["module.sig_ok"];
  const w = windowOfStruct(b.m.module, sig ? [sig] : []);
  const nodes = await walkList(k.vmi, b.sym.modules, { walker: "modules", limit: k.limits.maxListLength, window: { from: w.from - o.list, len: w.len } });
  return nodes.map((n) => {
    const v = new StructView(containerOf(n.node, o.list), n.view.bytes, w.from);
    return {
      address: v.addr,
      name: v.str(o.name, b.m.module.name.size),
      state: v.u32(o.state),
      base: v.ptr(o["core_layout.base"]),
      size: v.u32(o["core_layout.size"]),
      textSize: v.u32(o["core_layout.text_size"]),
      kobject: v.field(o.mkobj + b.o.module_kobject.kobj),
      sigOk: sig === undefined ? undefined : v.u8(sig.offset) !== 0,
      taints: v.u64(o.taints),
    };
  });
}

export interface KsetEntry {
  readonly kobject: bigint;
  readonly name: string;
  /** The module owning it, or null for built-in modules' parameter directories. */
  readonly module: bigint | null;
}

/** `have[i]`, or else the window at `addrs[i]` (all the missing ones in one batch). */
async function fillViews(k: LinuxKernel, addrs: readonly bigint[], have: readonly (StructView | undefined)[], w: Window): Promise<(StructView | VmiError)[]> {
  const missing = addrs.flatMap((a, i) => (have[i] === undefined ? [i] : []));
  const read = missing.length > 0 ? await readViews(k.vmi, missing.map((i) => addrs[i]!), w) : [];
  const out: (StructView | VmiError)[] = [...have] as (StructView | VmiError)[];
  missing.forEach((i, j) => (out[i] = read[j]!));
  return out;
}

/** Entries of the module kset (/sys/module). */
export async function listModuleKset(k: LinuxKernel): Promise<KsetEntry[]> {
  const b = k.bound(MODULE_KSET);
  let kset: bigint;
  try {
    kset = await k.vmi.pointer({ kind: "kva", addr: b.sym.module_kset });
  } catch (e) {
    if (e instanceof VmiError) throw walkReadError("module-kset", e, "module_kset");
    throw e;
  }
  if (!isKernelPointer(kset)) throw badPointer("module-kset", b.sym.module_kset, kset, "module_kset");
  // With the hop (when the driver chases pointers): kobject.name and module_kobject.mod, relative to kobject.entry.
  const entry = b.o.kobject.entry;
  const kobjOff = b.o.module_kobject.kobj;
  const gather = windowOf([
    { offset: 0, size: 16 },
    { offset: b.o.kobject.name - entry, size: 8 },
    { offset: b.o.module_kobject.mod - kobjOff - entry, size: 8 },
  ]);
  const nodes = await walkList(k.vmi, kset + BigInt(b.o.kset.list), { walker: "module-kset", limit: k.limits.maxListLength, gather });
  const kobjs = nodes.map((n) => containerOf(n.node, entry));
  const mkobjs = kobjs.map((ko) => containerOf(ko, kobjOff));
  // Views over what came with the hop; the rest is read in one batch each, as before.
  const fromHop = (off: number): (StructView | undefined)[] => nodes.map((n) => (n.gathered ? new StructView(containerOf(n.node, off), n.gathered.bytes, n.gathered.from + off) : undefined));
  const names = await fillViews(k, kobjs, fromHop(entry), windowOf([b.m.kobject.name]));
  const mods = await fillViews(k, mkobjs, fromHop(entry + kobjOff), windowOf([b.m.module_kobject.mod]));
  const namePtrs = names.map((v) => {
    if (v instanceof VmiError) throw walkReadError("module-kset", v, "kobject");
    return v.ptr(b.o.kobject.name);
  });
  const strs = await readStrings(k.vmi, namePtrs.map((p) => (isKernelPointer(p) ? p : 0n)), 256);
  return kobjs.map((ko, i) => {
    const m = mods[i]!;
    if (m instanceof VmiError) throw walkReadError("module-kset", m, "module_kobject");
    const mod = m.ptr(b.o.module_kobject.mod);
    const s = strs[i]!;
    return { kobject: ko, name: typeof s === "string" ? s : "", module: mod === 0n ? null : mod };
  });
}

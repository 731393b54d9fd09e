/**
 * Loadable modules as load_module leaves them: module memory in the module area
 * (MODULES_VADDR + module_load_offset, 4 KiB pages: text read-only/executable, the rest
 * RW/NX), `struct module` inside the module's core RW data (.gnu.linkonce.this_module),
 * on the `modules` list (list_add: newest first, as /proc/modules shows) and, through
 * mkobj.kobj, on the module kset (`module_kset` → kset.list, kobject_add: list_add_tail)
 * where sysfs keeps /sys/module/NAME — together with the builtin modules' kobjects.
 */
import type { Kernel } from "../model/kernel.js";
import type { BuiltinKobject, KernelModule } from "../model/types.js";
import { KList } from "./klist.js";
import { StructBuf, cString, u64Bytes } from "../mem/kmem.js";
import { PAGE_KERNEL, PAGE_KERNEL_RX } from "../mem/page-tables.js";
import { codeBytes } from "./text.js";
import { REAL_BUILTIN_KOBJECTS, REAL_MODULES } from "../data/real-kernel-data.generated.js";
import type { RealModule } from "../data/real-kernel-data-types.js";

const PAGE = 4096;
export const MODULE_STATE_LIVE = 0;

/** The fixture guest's modules, in load order, as load_module left them (signed, in tree). */
export const STOCK_MODULES: readonly RealModule[] = REAL_MODULES;

/** Builtin modules with a /sys/module entry (parameters), no struct module: the fixture's, in kset order. */
export const BUILTIN_KOBJECTS: readonly string[] = REAL_BUILTIN_KOBJECTS;

/** include/linux/panic.h: the taints of a module that is out of tree / failed signature verification. */
export const TAINT_OOT_MODULE = 12;
export const TAINT_UNSIGNED_MODULE = 13;

function kobjectFlags(): number {
  // state_initialized | state_in_sysfs | state_add_uevent_sent (bits 0..2 of the bitfield word).
  return 0b111;
}

/** module_kset (a pointer variable) → a kset named "module" with its kobject list. */
export function buildModuleKset(k: Kernel): void {
  const t = k.t;
  k.moduleKsetVa = k.alloc("kmalloc-128");
  const name = k.alloc("kmalloc-64");
  k.mem.write(name, cString("module"));
  const kobj = t.o("kset", "kobj");
  const b = new StructBuf(t.size("kset"));
  b.u64(kobj + t.o("kobject", "name"), name);
  b.u32(kobj + t.o("kobject", "kref"), 1);
  b.u32(kobj + t.member("kobject", "state_initialized"), kobjectFlags());
  k.mem.write(k.moduleKsetVa, b.bytes);
  k.ksetList = new KList(k.moduleKsetVa + BigInt(t.o("kset", "list")), t.o("list_head", "next"), t.o("list_head", "prev"));
  k.ksetList.init(k.mem);
  k.mem.write(k.addr.ksym("module_kset"), u64Bytes(k.moduleKsetVa));
  k.moduleList = new KList(k.addr.ksym("modules"), t.o("list_head", "next"), t.o("list_head", "prev"));
  k.moduleList.init(k.mem);
}

/** A kobject (of a module_kobject at `va`) named `name`, joined to the module kset. */
function writeKobject(k: Kernel, kobjVa: bigint, nameVa: bigint): void {
  const t = k.t;
  const b = new StructBuf(t.size("kobject"));
  b.u64(t.o("kobject", "name"), nameVa);
  b.u64(t.o("kobject", "parent"), k.moduleKsetVa + BigInt(t.o("kset", "kobj")));
  b.u64(t.o("kobject", "kset"), k.moduleKsetVa);
  b.u32(t.o("kobject", "kref"), 2);
  // The storage unit of the state_* bitfields (bits in declaration order).
  b.u32(t.member("kobject", "state_initialized"), kobjectFlags());
  k.mem.write(kobjVa, b.bytes);
}

export function addBuiltinKobject(k: Kernel, name: string): BuiltinKobject {
  const va = k.alloc("kmalloc-128");
  const nameVa = k.alloc("kmalloc-64");
  k.mem.write(nameVa, cString(name));
  writeKobject(k, va, nameVa);
  k.ksetList.addTail(k.mem, va + BigInt(k.t.o("kobject", "entry")));
  const o: BuiltinKobject = { name, va };
  k.builtins.push(o);
  return o;
}

/** Module memory: `pages` 4 KiB pages in the module area, mapped in init_top_pgt. */
function allocModuleArea(k: Kernel, bytes: number, textBytes: number): { base: bigint; pages: bigint[] } {
  const base = k.moduleCursor === 0n ? k.p.moduleBase : k.moduleCursor;
  const n = Math.ceil(bytes / PAGE);
  k.moduleCursor = base + BigInt((n + 1) * PAGE);
  const pages: bigint[] = [];
  for (let i = 0; i < n; i++) {
    const pa = k.page();
    const va = base + BigInt(i * PAGE);
    k.addr.mapExtra(va, pa);
    k.kpt.map(va, pa, "4k", i * PAGE < textBytes ? PAGE_KERNEL_RX : PAGE_KERNEL);
    pages.push(pa);
  }
  return { base, pages };
}

export interface LoadModule {
  readonly name: string;
  readonly size: number;
  /** core_layout.text_size / .ro_size (default: 40 % text, then at least a page of rodata). */
  readonly textSize?: number;
  readonly roSize?: number;
  /** Module references held (1 + one per module using it). */
  readonly refcnt?: number;
  /**
   * A rootkit's own module: built out of tree and not signed with the kernel's key, so
   * module_sig_check leaves sig_ok false and load_module taints it (and the kernel)
   * TAINT_OOT_MODULE and TAINT_UNSIGNED_MODULE. Stock modules are Debian's signed ones.
   */
  readonly rootkit?: boolean;
}

/** load_module + do_init_module: memory, text bytes, struct module, list and kset links. */
export function loadModule(k: Kernel, m: LoadModule): KernelModule {
  const t = k.t;
  const size = Math.ceil(m.size / PAGE) * PAGE;
  const textSize = m.textSize ?? Math.max(PAGE, Math.floor((size * 0.4) / PAGE) * PAGE);
  const roSize = m.roSize ?? textSize + Math.max(PAGE, Math.floor((size * 0.2) / PAGE) * PAGE);
  const rootkit = m.rootkit === true;
  const taints = rootkit ? (1n << BigInt(TAINT_OOT_MODULE)) | (1n << BigInt(TAINT_UNSIGNED_MODULE)) : 0n;
  const { base, pages } = allocModuleArea(k, size, textSize);
  k.mem.write(base, codeBytes(`module/${m.name}`, 0, textSize));
  // struct module at the start of the RW part (.gnu.linkonce.this_module).
  const modVa = base + BigInt(roSize);
  const nameVa = k.alloc("kmalloc-64");
  k.mem.write(nameVa, cString(m.name));
  const b = new StructBuf(t.size("module"));
  b.u32(t.o("module", "state"), MODULE_STATE_LIVE);
  b.str(t.o("module", "name"), m.name, 55);
  b.u64(t.o("module", "mkobj.mod"), modVa);
  b.u64(t.o("module", "core_layout.base"), base);
  b.u32(t.o("module", "core_layout.size"), size);
  b.u32(t.o("module", "core_layout.text_size"), textSize);
  b.u32(t.o("module", "core_layout.ro_size"), roSize);
  b.u32(t.o("module", "refcnt"), m.refcnt ?? 1);
  b.u8(t.o("module", "sig_ok"), rootkit ? 0 : 1);
  b.u64(t.o("module", "taints"), taints);
  k.mem.write(modVa, b.bytes);
  if (taints !== 0n) {
    // add_taint_module also taints the kernel: tainted_mask |= the module's bits.
    k.taintedMask |= taints;
    k.mem.write(k.addr.ksym("tainted_mask"), u64Bytes(k.taintedMask));
  }
  const kobjVa = modVa + BigInt(t.o("module", "mkobj.kobj"));
  writeKobject(k, kobjVa, nameVa);
  const mod: KernelModule = {
    name: m.name,
    va: modVa,
    base,
    size,
    textSize,
    roSize,
    pages,
    kobjNameVa: nameVa,
    hiddenFromList: false,
    hiddenFromKset: false,
    rootkit,
    sigOk: !rootkit,
    taints,
  };
  k.moduleList.addHead(k.mem, modVa + BigInt(t.o("module", "list")));
  k.ksetList.addTail(k.mem, kobjVa + BigInt(t.o("kobject", "entry")));
  k.modules.push(mod);
  return mod;
}

export function moduleListNode(k: Kernel, m: KernelModule): bigint {
  return m.va + BigInt(k.t.o("module", "list"));
}

export function moduleKobjEntry(k: Kernel, m: KernelModule): bigint {
  return m.va + BigInt(k.t.o("module", "mkobj.kobj") + k.t.o("kobject", "entry"));
}


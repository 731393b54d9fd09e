/**
 * The kernel's dynamic function-pointer registrations the RDMI checks look at, set up as
 * the real kernel's init code leaves them: init_net.nf.hooks_ipv4[] → nf_hook_entries
 * (AppArmor's POST_ROUTING hook, as in the fixture), keyboard_notifier_list → the
 * keyboard_notifier_block, and /proc's entries (proc_dir_entry children of proc_root in
 * its subdir rb-tree, each with proc_ops and a show/seq_ops function).
 */
import type { Kernel } from "../model/kernel.js";
import { REAL_NF_HOOKS_IPV4 } from "../data/real-kernel-data.generated.js";
import { StructBuf, cString, u64Bytes } from "../mem/kmem.js";
import { RbTree, type RbNode } from "./rbtree.js";
import { writeRbNode } from "./sched.js";
import { realMember, realTable, refVa } from "./static-data.js";

export interface NfHookSet {
  /** NF_INET_* hook number. */
  readonly hook: number;
  readonly entriesVa: bigint;
  /** Hook functions in priority order (VAs). */
  readonly fns: bigint[];
}

export interface ProcEntry {
  readonly name: string;
  readonly va: bigint;
  /** The function that produces the file's content (single_show or seq_ops->show). */
  readonly show: bigint;
}

export interface HookPoints {
  readonly nf: NfHookSet[];
  readonly procEntries: ProcEntry[];
}

/** NF_INET_LOCAL_OUT and NF_INET_POST_ROUTING. */
export const NF_INET_LOCAL_OUT = 3;
export const NF_INET_POST_ROUTING = 4;

export function nfHooksSlot(k: Kernel, hook: number): bigint {
  return k.addr.ksym("init_net") + BigInt(k.t.o("net", "nf.hooks_ipv4") + hook * 8);
}

export function writeNfEntries(k: Kernel, set: NfHookSet): void {
  const t = k.t;
  const stride = t.size("nf_hook_entry");
  const hooks = t.o("nf_hook_entries", "hooks");
  const b = new StructBuf(hooks + set.fns.length * stride + set.fns.length * 8);
  b.u16(t.o("nf_hook_entries", "num_hook_entries"), set.fns.length);
  set.fns.forEach((fn, i) => b.u64(hooks + i * stride + t.o("nf_hook_entry", "hook"), fn));
  k.mem.write(set.entriesVa, b.bytes);
}

function buildNetfilter(k: Kernel): NfHookSet[] {
  const out: NfHookSet[] = [];
  for (const [hook, refs] of REAL_NF_HOOKS_IPV4) {
    const set: NfHookSet = { hook, entriesVa: k.alloc("kmalloc-64"), fns: refs.map((r) => refVa(k, r)) };
    writeNfEntries(k, set);
    k.mem.write(nfHooksSlot(k, hook), u64Bytes(set.entriesVa));
    out.push(set);
  }
  return out;
}

function buildKeyboardNotifier(k: Kernel): void {
  const head = k.addr.ksym("keyboard_notifier_list") + BigInt(k.t.o("atomic_notifier_head", "head"));
  k.mem.write(head, u64Bytes(k.addr.kaddr(realTable("keyboard_notifier_block").addr)));
}

/** proc_match order: shorter names first, then memcmp. */
function procKey(name: string): bigint {
  const hex = Buffer.from(name.padEnd(16, "\0").slice(0, 16), "latin1").toString("hex");
  return (BigInt(name.length) << 128n) | BigInt("0x" + hex);
}

const PROC_FILES: readonly { name: string; ops: string; show: { table: string; member: string } | { sym: string } }[] = [
  { name: "cmdline", ops: "proc_single_ops", show: { sym: "cmdline_proc_show" } },
  { name: "meminfo", ops: "proc_single_ops", show: { sym: "meminfo_proc_show" } },
  { name: "modules", ops: "modules_proc_ops", show: { table: "modules_op", member: "show" } },
  { name: "uptime", ops: "proc_single_ops", show: { sym: "uptime_proc_show" } },
  { name: "version", ops: "proc_single_ops", show: { sym: "version_proc_show" } },
];

function buildProcEntries(k: Kernel): ProcEntry[] {
  const t = k.t;
  const tree = new RbTree();
  const out: ProcEntry[] = [];
  const procRoot = k.addr.kaddr(realTable("proc_root").addr);
  let ino = 0xf0000001;
  for (const f of PROC_FILES) {
    const va = k.alloc("kmalloc-256");
    const show = "sym" in f.show ? k.addr.kaddr(symbolOrThrow(k, f.show.sym)) : realMember(k, f.show.table, f.show.member);
    const seqOps = "table" in f.show ? k.addr.kaddr(realTable(f.show.table).addr) : show;
    const b = new StructBuf(t.size("proc_dir_entry"));
    b.u32(t.o("proc_dir_entry", "refcnt"), 1);
    b.u64(t.o("proc_dir_entry", "proc_ops"), k.addr.kaddr(realTable(f.ops).addr));
    // seq_ops and single_show share a union.
    b.u64(t.o("proc_dir_entry", "seq_ops"), seqOps);
    b.u32(t.o("proc_dir_entry", "low_ino"), ino++);
    b.u32(t.o("proc_dir_entry", "nlink"), 1);
    b.u64(t.o("proc_dir_entry", "parent"), procRoot);
    const nameVa = va + BigInt(t.size("proc_dir_entry"));
    b.u64(t.o("proc_dir_entry", "name"), nameVa);
    b.u16(t.o("proc_dir_entry", "mode"), 0o100444);
    b.u8(t.o("proc_dir_entry", "namelen"), f.name.length);
    k.mem.write(va, b.bytes);
    k.mem.write(nameVa, cString(f.name));
    const node: RbNode = { va: va + BigInt(t.o("proc_dir_entry", "subdir_node")), key: procKey(f.name), parent: null, left: null, right: null, red: false };
    tree.insert(node);
    out.push({ name: f.name, va, show });
  }
  for (const n of tree.takeDirty().nodes) writeRbNode(k, n);
  k.mem.write(procRoot + BigInt(t.o("proc_dir_entry", "subdir")), u64Bytes(tree.root === null ? 0n : tree.root.va));
  return out;
}

function symbolOrThrow(k: Kernel, name: string): bigint {
  const v = k.t.symbolOrUndefined(name);
  if (v === undefined) throw new RangeError(`no symbol ${name}`);
  return v;
}

export function buildHookPoints(k: Kernel): HookPoints {
  const nf = buildNetfilter(k);
  buildKeyboardNotifier(k);
  return { nf, procEntries: buildProcEntries(k) };
}

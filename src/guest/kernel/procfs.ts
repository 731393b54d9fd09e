/**
 * procfs as the real kernel registers it (fs/proc/generic.c, fs/proc/proc_net.c): the
 * entries under `proc_root` and the network namespace's own tree at `init_net.proc_net`,
 * both copied from the fixture kernel (REAL_PROC_ROOT, REAL_PROC_NET). Each entry is a
 * `struct proc_dir_entry` from proc_dir_entry_cache (SIZEOF_PDE bytes, the name inline when
 * it fits, kmalloc'd otherwise), linked into its parent's `subdir` rb-tree through
 * `subdir_node` in proc_match order (shorter names first, then memcmp), with the proc_iops,
 * proc_ops / proc_dir_ops, proc_dops and seq_ops / single_show pointers and `data` the
 * kernel set (tcp: proc_net_seq_ops, tcp4_seq_ops, &tcp4_seq_afinfo).
 *
 * proc_net_ns_init builds the namespace's "net" anchor by hand: mode 0, parent &proc_root
 * but not in proc_root's tree (/proc/net is the "self/net" symlink there), data = the
 * namespace; its "stat" directory is net->proc_net_stat.
 */
import type { Kernel } from "../model/kernel.js";
import { sizeofPde } from "../model/kernel.js";
import { REAL_PROC_NET, REAL_PROC_ROOT } from "../data/real-kernel-data.generated.js";
import type { RealProcEntry } from "../data/real-kernel-data-types.js";
import { StructBuf, cString, u64Bytes } from "../mem/kmem.js";
import { RbTree, type RbNode } from "./rbtree.js";
import { writeRbNode } from "./sched.js";
import { realTable, refVa } from "./static-data.js";

/** The procfs entries the model built, by path ("/proc/cmdline", "/proc/net/tcp"). */
export interface ProcFs {
  /** proc_dir_entry VA by path; "/proc/net" is init_net.proc_net (the symlink is "/proc/net@"). */
  readonly byPath: ReadonlyMap<string, bigint>;
  /** init_net.proc_net. */
  readonly netDir: bigint;
}

/** proc_match order as a sortable key: length first, then the bytes. */
export function procKey(name: string): bigint {
  const bytes = Buffer.from(name, "latin1");
  if (bytes.length > 255) throw new RangeError(`procfs name too long: ${name}`);
  const hex = Buffer.concat([bytes, Buffer.alloc(256 - bytes.length)]).toString("hex");
  return (BigInt(bytes.length) << 2048n) | BigInt("0x" + hex);
}

/** Writes one entry (and, recursively, its children) at `va`. */
function writeEntry(k: Kernel, va: bigint, e: RealProcEntry, parent: bigint, path: string, out: Map<string, bigint>): void {
  const t = k.t;
  const pdeSize = t.size("proc_dir_entry");
  const o = (m: Parameters<typeof t.o<"proc_dir_entry">>[1]): number => t.o("proc_dir_entry", m);
  const b = new StructBuf(pdeSize);
  b.u32(o("refcnt"), e.refcnt);
  if (e.iops !== undefined) b.u64(o("proc_iops"), refVa(k, e.iops));
  if (e.ops !== undefined) b.u64(o("proc_ops"), refVa(k, e.ops));
  if (e.dops !== undefined) b.u64(o("proc_dops"), refVa(k, e.dops));
  if (e.seq !== undefined) b.u64(o("seq_ops"), refVa(k, e.seq));
  if (typeof e.data === "number") b.u64(o("data"), BigInt(e.data));
  else if (e.data !== undefined) b.u64(o("data"), refVa(k, e.data));
  if (e.link !== undefined) {
    // proc_symlink: data = kmalloc'd copy of the target, size = its length.
    const target = k.alloc("kmalloc-64");
    k.mem.write(target, cString(e.link));
    b.u64(o("data"), target);
  }
  b.u32(o("state_size"), e.stateSize ?? 0);
  b.u32(o("low_ino"), e.lowIno);
  b.u32(o("nlink"), e.nlink);
  b.u32(o("uid"), e.uid ?? 0);
  b.u32(o("gid"), e.gid ?? 0);
  b.u64(o("size"), BigInt(e.size ?? 0));
  b.u64(o("parent"), parent);
  b.u16(o("mode"), e.mode);
  b.u8(o("flags"), e.flags);
  b.u8(o("namelen"), e.name.length);
  // __proc_create: the name inline when it fits the object, else kmalloc'd.
  const inline = e.name.length + 1 <= sizeofPde(pdeSize) - pdeSize;
  const nameVa = inline ? va + BigInt(o("inline_name")) : k.alloc("kmalloc-64");
  b.u64(o("name"), nameVa);
  const children = e.children ?? [];
  const kids = children.map(() => k.alloc("proc_dir_entry"));
  const tree = subdirTree(k, kids, children);
  b.u64(o("subdir"), tree.root);
  k.mem.write(va, b.bytes);
  k.mem.write(nameVa, cString(e.name));
  out.set(path, va);
  children.forEach((c, i) => writeEntry(k, kids[i]!, c, va, `${path}/${c.name}`, out));
  tree.writeNodes();
}

/** The subdir rb-tree of `kids` (allocated): its root, and the write of its nodes (once the children are written). */
function subdirTree(k: Kernel, kids: readonly bigint[], entries: readonly RealProcEntry[]): { root: bigint; writeNodes(): void } {
  const tree = new RbTree();
  const node = k.t.o("proc_dir_entry", "subdir_node");
  kids.forEach((va, i) => {
    const n: RbNode = { va: va + BigInt(node), key: procKey(entries[i]!.name), parent: null, left: null, right: null, red: false };
    tree.insert(n);
  });
  const dirty = tree.takeDirty().nodes;
  return { root: tree.root === null ? 0n : tree.root.va, writeNodes: () => dirty.forEach((n) => writeRbNode(k, n)) };
}

/** proc_root's children and init_net's /proc/net tree. */
export function buildProcFs(k: Kernel): ProcFs {
  const t = k.t;
  const byPath = new Map<string, bigint>();
  const procRoot = k.addr.kaddr(realTable("proc_root").addr);
  const kids = REAL_PROC_ROOT.map(() => k.alloc("proc_dir_entry"));
  const tree = subdirTree(k, kids, REAL_PROC_ROOT);
  k.mem.write(procRoot + BigInt(t.o("proc_dir_entry", "subdir")), u64Bytes(tree.root));
  byPath.set("/proc", procRoot);
  REAL_PROC_ROOT.forEach((e, i) => writeEntry(k, kids[i]!, e, procRoot, e.link !== undefined ? `/proc/${e.name}@` : `/proc/${e.name}`, byPath));
  tree.writeNodes();
  // proc_net_ns_init: the namespace's anchor, then net->proc_net / net->proc_net_stat.
  const netDir = k.alloc("proc_dir_entry");
  writeEntry(k, netDir, REAL_PROC_NET, procRoot, "/proc/net", byPath);
  const net = k.addr.ksym("init_net");
  k.mem.write(net + BigInt(t.o("net", "proc_net")), u64Bytes(netDir));
  k.mem.write(net + BigInt(t.o("net", "proc_net_stat")), u64Bytes(byPath.get("/proc/net/stat") ?? 0n));
  return { byPath, netDir };
}

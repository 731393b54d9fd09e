/**
 * The procfs entry tree (fs/proc/internal.h `struct proc_dir_entry`): from a root
 * (proc_root, or a network namespace's proc_net), each directory's children sit in the
 * rb-tree `subdir`, linked through `subdir_node`. Walked breadth first, bounded in total
 * entries and depth; names read in one batch per level.
 */
import { VmiError } from "../../vmi/index.js";
import { isKernelPointer } from "../constants.js";
import { walkLimit, walkReadError } from "../errors.js";
import type { LinuxKernel } from "../kernel.js";
import { requirements } from "../requirements.js";
import { readStrings, readViews, windowOfStruct } from "../struct-view.js";
import { containerOf } from "./list.js";
import { RBTREE, walkRbTree } from "./rbtree.js";

export const PROCFS = requirements("procfs", {
  members: {
    proc_dir_entry: ["proc_iops", "proc_ops", "proc_dir_ops", "seq_ops", "subdir", "subdir_node", "name", "mode", "parent"],
    rb_root: ["rb_node"],
  },
  symbols: ["proc_root"],
  uses: [RBTREE],
});

/** S_IFMT / S_IFDIR (include/uapi/linux/stat.h). */
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

export interface ProcEntry {
  readonly address: bigint;
  /** Path from the walk's root ("net/tcp"). */
  readonly path: string;
  readonly mode: number;
  readonly isDir: boolean;
  readonly iops: bigint;
  /** proc_ops for files, file_operations (proc_dir_ops) for directories: the same union slot. */
  readonly ops: bigint;
  /** seq_ops or single_show: the same union slot. */
  readonly seqOps: bigint;
}

/** Every entry under `root` (root included, path ""), breadth first. */
export async function walkProcTree(k: LinuxKernel, root: bigint): Promise<ProcEntry[]> {
  const b = k.bound(PROCFS);
  const o = b.o.proc_dir_entry;
  const win = windowOfStruct(b.m.proc_dir_entry);
  const out: ProcEntry[] = [];
  const seen = new Set<bigint>();
  let level: { addr: bigint; path: string | undefined; parentPath: string }[] = [{ addr: root, path: "", parentPath: "" }];
  for (let depth = 0; level.length > 0; depth++) {
    if (depth > k.limits.maxPathDepth) throw walkLimit("procfs", k.limits.maxPathDepth);
    level = level.filter((l) => !seen.has(l.addr));
    for (const l of level) seen.add(l.addr);
    if (seen.size > k.limits.maxTreeNodes) throw walkLimit("procfs", k.limits.maxTreeNodes);
    const views = await readViews(k.vmi, level.map((l) => l.addr), win);
    // Every directory's children are walked at once (awaited in order below).
    const walks = views.map((v) => {
      if (v instanceof VmiError) return undefined;
      const subdir = v.ptr(o.subdir + b.o.rb_root.rb_node);
      if (subdir === 0n) return undefined;
      const p = walkRbTree(k, subdir, "procfs");
      p.catch(() => undefined);
      return p;
    });
    const names = await readStrings(
      k.vmi,
      views.map((v) => (v instanceof VmiError || !isKernelPointer(v.ptr(o.name)) ? 0n : v.ptr(o.name))),
      256,
    );
    const next: typeof level = [];
    for (let i = 0; i < level.length; i++) {
      const v = views[i]!;
      if (v instanceof VmiError) throw walkReadError("procfs", v, "proc_dir_entry");
      const l = level[i]!;
      const name = names[i];
      const path = l.path ?? (l.parentPath === "" ? "" : l.parentPath + "/") + (typeof name === "string" ? name : "?");
      const mode = v.u16(o.mode);
      const subdir = v.ptr(o.subdir + b.o.rb_root.rb_node);
      // A namespace's "net" directory is built by hand with mode 0 (proc_net_ns_init): children make a directory too.
      const isDir = (mode & S_IFMT) === S_IFDIR || subdir !== 0n;
      out.push({ address: l.addr, path, mode, isDir, iops: v.ptr(o.proc_iops), ops: v.ptr(o.proc_ops), seqOps: v.ptr(o.seq_ops) });
      if (subdir === 0n) continue;
      const children = await walks[i]!;
      for (const c of children) next.push({ addr: containerOf(c, o.subdir_node), path: undefined, parentPath: path });
    }
    level = next;
  }
  return out;
}

/**
 * Open files of a process: task->files → fdt → fd[] → struct file, with f_op, the inode
 * and a path built from f_path (dentry names up to the mount root, then across mounts to
 * the namespace root). Everything is read in batches across descriptors, and every chain
 * (d_parent, mnt_parent) is bounded by `maxPathDepth`.
 */
import { VmiError, kva } from "../../vmi/index.js";
import { isKernelPointer } from "../constants.js";
import { badPointer, walkLimit, walkReadError } from "../errors.js";
import type { LinuxKernel } from "../kernel.js";
import { requirements } from "../requirements.js";
import { readStrings, readViews, windowOf, windowOfStruct } from "../struct-view.js";
import { containerOf } from "./list.js";

export const FILES = requirements("files", {
  members: {
    files_struct: ["fdt"],
    fdtable: ["max_fds", "fd"],
    file: ["f_path.mnt", "f_path.dentry", "f_op", "f_inode", "f_flags", "f_mode"],
    dentry: ["d_parent", "d_name"],
    qstr: ["name", "len"],
    mount: ["mnt_parent", "mnt_mountpoint", "mnt"],
    vfsmount: ["mnt_root"],
  },
});

export interface OpenFile {
  readonly fd: number;
  readonly file: bigint;
  readonly fop: bigint;
  readonly inode: bigint;
  readonly dentry: bigint;
  readonly vfsmount: bigint;
  readonly flags: number;
  readonly mode: number;
  /** Path from the namespace root ("" for pseudo files such as pipes and sockets). */
  readonly path: string;
}

/** Open file descriptors of a files_struct (task->files). */
export async function listOpenFiles(k: LinuxKernel, files: bigint): Promise<OpenFile[]> {
  if (files === 0n) return [];
  const b = k.bound(FILES);
  let fdt: bigint;
  let maxFds: number;
  let fdArr: bigint;
  try {
    fdt = await k.vmi.pointer(kva(files + BigInt(b.o.files_struct.fdt)));
    if (!isKernelPointer(fdt)) throw badPointer("files", files, fdt, "files_struct.fdt");
    maxFds = await k.vmi.u32(kva(fdt + BigInt(b.o.fdtable.max_fds)));
    fdArr = await k.vmi.pointer(kva(fdt + BigInt(b.o.fdtable.fd)));
  } catch (e) {
    if (e instanceof VmiError) throw walkReadError("files", e, "fdtable");
    throw e;
  }
  if (maxFds > k.limits.maxFds) throw walkLimit("files", k.limits.maxFds, fdt);
  if (maxFds === 0) return [];
  if (!isKernelPointer(fdArr)) throw badPointer("files", fdt, fdArr, "fdtable.fd");
  let ptrs: bigint[];
  try {
    ptrs = await k.vmi.pointerArray(kva(fdArr), maxFds);
  } catch (e) {
    if (e instanceof VmiError) throw walkReadError("files", e, "fd array");
    throw e;
  }
  const open = ptrs.map((p, fd) => ({ p, fd })).filter(({ p }) => p !== 0n);
  for (const { p, fd } of open) if (!isKernelPointer(p)) throw badPointer("files", fdArr + BigInt(fd * 8), p, "fd[]");
  const fo = b.o.file;
  const views = await readViews(k.vmi, open.map((x) => x.p), windowOfStruct(b.m.file));
  const rows = open.map(({ p, fd }, i) => {
    const v = views[i]!;
    if (v instanceof VmiError) throw walkReadError("files", v, "struct file");
    return {
      fd,
      file: p,
      fop: v.ptr(fo.f_op),
      inode: v.ptr(fo.f_inode),
      dentry: v.ptr(fo["f_path.dentry"]),
      vfsmount: v.ptr(fo["f_path.mnt"]),
      flags: v.u32(fo.f_flags),
      mode: v.u32(fo.f_mode),
    };
  });
  const paths = await dentryPaths(k, rows.map((r) => ({ dentry: r.dentry, vfsmount: r.vfsmount })));
  return rows.map((r, i) => ({ ...r, path: paths[i]! }));
}

interface PathState {
  dentry: bigint;
  mount: bigint;
  mntRoot: bigint | undefined;
  names: bigint[];
  lens: number[];
  /** The name of an unmounted filesystem root the walk ended at (pipes, sockets). */
  root: { name: bigint; len: number } | undefined;
  done: boolean;
  steps: number;
}

/** Paths of many (dentry, vfsmount) pairs, walked in lockstep (one batch per step). */
export async function dentryPaths(k: LinuxKernel, items: readonly { dentry: bigint; vfsmount: bigint }[]): Promise<string[]> {
  const b = k.bound(FILES);
  const dWin = windowOf([b.m.dentry.d_parent, { offset: b.o.dentry.d_name + b.o.qstr.len, size: 4 }, { offset: b.o.dentry.d_name + b.o.qstr.name, size: 8 }]);
  const mWin = windowOf([b.m.mount.mnt_parent, b.m.mount.mnt_mountpoint, { offset: b.o.mount.mnt + b.o.vfsmount.mnt_root, size: 8 }]);
  const st: PathState[] = items.map((x) => ({
    dentry: x.dentry,
    mount: x.vfsmount === 0n ? 0n : containerOf(x.vfsmount, b.o.mount.mnt),
    mntRoot: undefined,
    names: [],
    lens: [],
    root: undefined,
    done: !isKernelPointer(x.dentry),
    steps: 0,
  }));
  const limit = k.limits.maxPathDepth;
  for (let round = 0; st.some((s) => !s.done); round++) {
    if (round > limit * 4) throw walkLimit("files", limit);
    const act = st.filter((s) => !s.done);
    // Mount roots (when not known yet for the current mount).
    const needM = act.filter((s) => s.mount !== 0n && s.mntRoot === undefined);
    const mv = await readViews(k.vmi, needM.map((s) => s.mount), mWin);
    const mountInfo = new Map<PathState, { parent: bigint; mountpoint: bigint; root: bigint }>();
    needM.forEach((s, i) => {
      const v = mv[i]!;
      if (v instanceof VmiError) throw walkReadError("files", v, "mount");
      s.mntRoot = v.ptr(b.o.mount.mnt + b.o.vfsmount.mnt_root);
      mountInfo.set(s, { parent: v.ptr(b.o.mount.mnt_parent), mountpoint: v.ptr(b.o.mount.mnt_mountpoint), root: s.mntRoot });
    });
    const dv = await readViews(k.vmi, act.map((s) => s.dentry), dWin);
    act.forEach((s, i) => {
      const v = dv[i]!;
      if (v instanceof VmiError) throw walkReadError("files", v, "dentry");
      if (++s.steps > limit) throw walkLimit("files", limit, s.dentry);
      const parent = v.ptr(b.o.dentry.d_parent);
      if (s.mount !== 0n && s.dentry === s.mntRoot) {
        // At the root of this mount: cross to the mountpoint in the parent mount, or stop at the top.
        const m = mountInfo.get(s);
        s.mntRoot = undefined;
        if (m === undefined) return; // read next round
        if (m.parent === s.mount || m.parent === 0n) {
          s.done = true;
          return;
        }
        s.dentry = m.mountpoint;
        s.mount = m.parent;
        return;
      }
      if (parent === s.dentry || !isKernelPointer(parent)) {
        // The root of a filesystem that is not mounted anywhere (pipes, sockets): keep its name.
        s.root = { name: v.ptr(b.o.dentry.d_name + b.o.qstr.name), len: v.u32(b.o.dentry.d_name + b.o.qstr.len) };
        s.done = true;
        return;
      }
      s.names.push(v.ptr(b.o.dentry.d_name + b.o.qstr.name));
      s.lens.push(v.u32(b.o.dentry.d_name + b.o.qstr.len));
      s.dentry = parent;
    });
  }
  const flat = st.flatMap((s) => [
    ...s.names.map((n, j) => ({ n, len: Math.min(s.lens[j]!, 255) })),
    ...(s.root ? [{ n: s.root.name, len: Math.min(s.root.len, 255) }] : []),
  ]);
  const strs = await readStrings(k.vmi, flat.map((f) => (isKernelPointer(f.n) ? f.n : 0n)), 256);
  let at = 0;
  const next = (): string => {
    const x = strs[at]!;
    const len = flat[at++]!.len;
    return typeof x === "string" ? x.slice(0, len) : "?";
  };
  return st.map((s) => {
    const parts = s.names.map(() => next()).reverse();
    const rootName = s.root ? next() : "/";
    const path = "/" + parts.join("/");
    // Pseudo filesystems: "pipe:" + "/" style names become "pipe:/…"; a bare "/" root is left out.
    return rootName === "/" || rootName === "" ? (s.root && parts.length === 0 ? "" : path) : `${rootName}${parts.length > 0 ? path : ""}`;
  });
}

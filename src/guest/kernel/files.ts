/**
 * The VFS objects processes point at: one root mount (struct mount with its vfsmount),
 * a small dentry tree ("/", "dev/console", "tmp/x.log", ...; names inline in d_iname),
 * struct file (f_path, f_op → a real file_operations table), files_struct with its embedded
 * fdtable and fd_array (NR_OPEN_DEFAULT = 64 slots), and fs_struct.
 */
import type { Kernel } from "../model/kernel.js";
import type { Cred, Dentry, FilesStruct, OpenFile } from "../model/types.js";
import { StructBuf, cString, u64Bytes } from "../mem/kmem.js";

/** NR_OPEN_DEFAULT (BITS_PER_LONG). */
export const NR_OPEN_DEFAULT = 64;
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_APPEND = 0x400;
export const O_LARGEFILE = 0x8000;
/** FMODE_READ | FMODE_WRITE | FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE ... as a typical value. */
export const FMODE_RW = 0x4801f;
export const FMODE_RO = 0x4801d;

/** full_name_hash is not reproduced: a stable 32-bit hash of the name stands in. */
function nameHash(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (Math.imul(h, 31) + name.charCodeAt(i)) >>> 0;
  return h;
}

export function writeDentry(k: Kernel, d: Dentry): void {
  const t = k.t;
  const b = new StructBuf(t.size("dentry"));
  b.u64(t.o("dentry", "d_parent"), d.parent === null ? d.va : d.parent.va);
  const name = d.name.slice(0, 31);
  b.u64(t.o("dentry", "d_name.hash_len"), (BigInt(name.length) << 32n) | BigInt(nameHash(name)));
  b.u64(t.o("dentry", "d_name.name"), d.va + BigInt(t.o("dentry", "d_iname")));
  b.str(t.o("dentry", "d_iname"), name, 31);
  b.u32(t.o("dentry", "d_lockref"), Math.max(d.refs, 1));
  k.mem.write(d.va, b.bytes);
}

/** The dentry for an absolute path, creating (and writing) missing components. */
export function dentryFor(k: Kernel, path: string, persistent = true): Dentry {
  const hit = k.dentries.get(path);
  if (hit !== undefined) return hit;
  const cut = path.lastIndexOf("/");
  const parentPath = cut <= 0 ? "/" : path.slice(0, cut);
  const parent = dentryFor(k, parentPath, true);
  const d: Dentry = { va: k.alloc("dentry"), name: path.slice(cut + 1), parent, persistent, refs: 0 };
  writeDentry(k, d);
  k.dentries.set(path, d);
  return d;
}

export function freeDentry(k: Kernel, path: string): void {
  const d = k.dentries.get(path);
  if (d === undefined || d.persistent) return;
  k.dentries.delete(path);
  k.free("dentry", d.va);
}

/** The root dentry and the rootfs mount (mnt_parent = itself, as for the namespace root). */
export function buildRootMount(k: Kernel): void {
  const t = k.t;
  const root: Dentry = { va: k.alloc("dentry"), name: "/", parent: null, persistent: true, refs: 1 };
  writeDentry(k, root);
  k.rootDentry = root;
  k.dentries.set("/", root);
  k.mountVa = k.alloc("mnt_cache");
  const devname = k.alloc("kmalloc-64");
  k.mem.write(devname, cString("rootfs"));
  const b = new StructBuf(t.size("mount"));
  b.u64(t.o("mount", "mnt_parent"), k.mountVa);
  b.u64(t.o("mount", "mnt_mountpoint"), root.va);
  const mnt = t.o("mount", "mnt");
  b.u64(mnt + t.o("vfsmount", "mnt_root"), root.va);
  b.u64(t.o("mount", "mnt_devname"), devname);
  b.i32(t.o("mount", "mnt_id"), 1);
  k.mem.write(k.mountVa, b.bytes);
}

export function vfsmountVa(k: Kernel): bigint {
  return k.mountVa + BigInt(k.t.o("mount", "mnt"));
}

export function writeFile(k: Kernel, f: OpenFile, cred: Cred): void {
  const t = k.t;
  const b = new StructBuf(t.size("file"));
  b.u64(t.o("file", "f_path.mnt"), vfsmountVa(k));
  b.u64(t.o("file", "f_path.dentry"), f.dentry.va);
  b.u64(t.o("file", "f_op"), f.fops);
  b.u64(t.o("file", "f_count"), BigInt(Math.max(f.refs, 1)));
  b.u32(t.o("file", "f_flags"), f.flags);
  b.u32(t.o("file", "f_mode"), f.mode);
  b.u64(t.o("file", "f_cred"), cred.va);
  k.mem.write(f.va, b.bytes);
}

export function newFile(k: Kernel, path: string, fopsSymbol: string, fops: bigint, flags: number, cred: Cred, persistentDentry = true): OpenFile {
  const dentry = dentryFor(k, path, persistentDentry);
  dentry.refs++;
  const f: OpenFile = { va: k.alloc("filp"), dentry, fops, fopsSymbol, flags, mode: (flags & 3) === O_RDONLY ? FMODE_RO : FMODE_RW, refs: 0 };
  writeFile(k, f, cred);
  return f;
}

export function writeFileCount(k: Kernel, f: OpenFile): void {
  k.mem.write(f.va + BigInt(k.t.o("file", "f_count")), u64Bytes(BigInt(Math.max(f.refs, 0))));
}

/** files_struct with fdt → its embedded fdtab, fd → fd_array, the open_fds bitmap. */
export function writeFilesStruct(k: Kernel, files: FilesStruct): void {
  const t = k.t;
  const b = new StructBuf(t.size("files_struct"));
  const self = (m: Parameters<typeof t.o<"files_struct">>[1]): bigint => files.va + BigInt(t.o("files_struct", m));
  b.u32(t.o("files_struct", "count"), Math.max(files.refs, 1));
  b.u64(t.o("files_struct", "fdt"), self("fdtab"));
  const fdt = t.o("files_struct", "fdtab");
  b.u32(fdt + t.o("fdtable", "max_fds"), NR_OPEN_DEFAULT);
  b.u64(fdt + t.o("fdtable", "fd"), self("fd_array"));
  b.u64(fdt + t.o("fdtable", "close_on_exec"), self("close_on_exec_init"));
  b.u64(fdt + t.o("fdtable", "open_fds"), self("open_fds_init"));
  b.u64(fdt + t.o("fdtable", "full_fds_bits"), self("full_fds_bits_init"));
  let open = 0n;
  let next = -1;
  const arr = t.o("files_struct", "fd_array");
  files.fds.forEach((f, i) => {
    if (f === null) {
      if (next < 0) next = i;
      return;
    }
    open |= 1n << BigInt(i);
    b.u64(arr + i * 8, f.va);
  });
  b.u32(t.o("files_struct", "next_fd"), next < 0 ? files.fds.length : next);
  b.u64(t.o("files_struct", "open_fds_init"), open);
  k.mem.write(files.va, b.bytes);
}

/** fs_struct: root and pwd at the root mount's root dentry. */
export function writeFsStruct(k: Kernel, va: bigint, users: number): void {
  const t = k.t;
  const b = new StructBuf(t.size("fs_struct"));
  b.i32(t.o("fs_struct", "users"), users);
  b.i32(t.o("fs_struct", "umask"), 0o22);
  for (const m of ["root", "pwd"] as const) {
    const p = t.o("fs_struct", m);
    b.u64(p + t.o("path", "mnt"), vfsmountVa(k));
    b.u64(p + t.o("path", "dentry"), k.rootDentry.va);
  }
  k.mem.write(va, b.bytes);
}

/**
 * Part of the real-kernel-data generator (extract-real-kernel-data.ts): the procfs entry
 * trees of the fixture kernel — the children of `proc_root` and the network namespace's
 * `/proc/net` (init_net.proc_net, built by proc_net_ns_init, and everything the
 * networking code registered under it: tcp, udp, … with their proc_ops and seq_ops) —
 * read from the nokaslr memory image, plus the operation tables those entries point at.
 *
 * Each entry keeps what the kernel set: mode, nlink, inode number, flags, refcount, the
 * proc_iops / proc_ops (or proc_dir_ops) / proc_dops / seq_ops (or single_show) pointers as
 * System.map symbols, and `data` when it is a static object (init_net, tcp4_seq_afinfo, …)
 * or a small integer (an IRQ number); a symlink's target string is kept, other heap
 * pointers are not. Children are listed in the order of the parent's rb-tree.
 */

/** What the generator gives this part: reads of the image and symbol naming. */
export interface ImageReader {
  read(va: bigint, len: number): Buffer;
  u64(va: bigint): bigint;
  cstring(va: bigint): string;
  sym(name: string): bigint;
  /** The symbol at or below `v` (name, address, offset). */
  nearest(v: bigint): { sym: string; addr: bigint; off: number };
  /** "{ sym: …, addr: … }" source text of a pointer. */
  ref(v: bigint): string;
  /** Byte offset of a (dotted) member path. */
  off(struct: string, path: string): number;
}

/** An operations table an entry points at: where, of which type. */
export interface ReferencedTable {
  readonly addr: bigint;
  readonly type: string;
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const KERNEL_MAP = 0xffffffff80000000n;

export interface ProcTrees {
  /** Source lines of REAL_PROC_ROOT and REAL_PROC_NET. */
  readonly lines: string[];
  /** Tables the entries point at, in the order first met. */
  readonly tables: ReferencedTable[];
}

export function extractProcTrees(img: ImageReader): ProcTrees {
  const o = (m: string): bigint => BigInt(img.off("proc_dir_entry", m));
  const etext = img.sym("_etext");
  const tables = new Map<bigint, ReferencedTable>();
  const table = (addr: bigint, type: string): void => {
    if (addr !== 0n && !tables.has(addr)) tables.set(addr, { addr, type });
  };
  const lines: string[] = [];
  const u32 = (va: bigint): number => img.read(va, 4).readUInt32LE(0);

  /** Children of a directory entry in rb-tree order (in-order walk of subdir). */
  function children(pde: bigint): bigint[] {
    const out: bigint[] = [];
    const right = BigInt(img.off("rb_node", "rb_right"));
    const left = BigInt(img.off("rb_node", "rb_left"));
    const visit = (n: bigint, depth: number): void => {
      if (n === 0n) return;
      if (depth > 64) throw new Error("procfs rb-tree too deep");
      visit(img.u64(n + left), depth + 1);
      out.push(n - o("subdir_node"));
      visit(img.u64(n + right), depth + 1);
    };
    visit(img.u64(pde + o("subdir")), 0);
    return out;
  }

  function entry(pde: bigint, indent: string): void {
    const name = img.cstring(img.u64(pde + o("name")));
    const mode = img.read(pde + o("mode"), 2).readUInt16LE(0);
    const f: string[] = [
      `name: ${JSON.stringify(name)}`,
      `mode: 0o${mode.toString(8)}`,
      `nlink: ${u32(pde + o("nlink"))}`,
      `lowIno: 0x${u32(pde + o("low_ino")).toString(16)}`,
      `flags: ${img.read(pde + o("flags"), 1)[0]!}`,
      `refcnt: ${u32(pde + o("refcnt"))}`,
    ];
    for (const [key, m] of [["uid", "uid"], ["gid", "gid"], ["stateSize", "state_size"]] as const) {
      const v = u32(pde + o(m));
      if (v !== 0) f.push(`${key}: ${v}`);
    }
    const size = img.u64(pde + o("size"));
    if (size !== 0n) f.push(`size: ${size.toString()}`);
    const isDir = (mode & S_IFMT) === S_IFDIR;
    const ptr = (key: string, member: string, type: string | undefined): void => {
      const v = img.u64(pde + o(member));
      if (v === 0n) return;
      if (v < KERNEL_MAP) throw new Error(`${name}.${member} is not a kernel-image pointer`);
      f.push(`${key}: ${img.ref(v)}`);
      if (type !== undefined) table(v, type);
    };
    ptr("iops", "proc_iops", "inode_operations");
    ptr("ops", "proc_ops", isDir ? "file_operations" : "proc_ops");
    // dentry_operations is not in the committed profile: the pointer is kept, the table is not.
    ptr("dops", "proc_dops", undefined);
    // seq_ops and single_show share a union: a table outside text, a function inside it.
    const seq = img.u64(pde + o("seq_ops"));
    ptr("seq", "seq_ops", seq >= etext ? "seq_operations" : undefined);
    const data = img.u64(pde + o("data"));
    if ((mode & S_IFMT) === S_IFLNK) f.push(`link: ${JSON.stringify(img.cstring(data))}`);
    else if (data !== 0n && data < 0x10000n) f.push(`data: ${data.toString()}`);
    else if (data >= KERNEL_MAP) f.push(`data: ${img.ref(data)}`);
    const kids = children(pde);
    if (kids.length === 0) {
      lines.push(`${indent}{ ${f.join(", ")} },`);
      return;
    }
    lines.push(`${indent}{ ${f.join(", ")}, children: [`);
    for (const c of kids) entry(c, indent + "  ");
    lines.push(`${indent}] },`);
  }

  lines.push("/** proc_root's children (proc_root itself is in REAL_TABLES), in rb-tree order. */");
  lines.push("export const REAL_PROC_ROOT: readonly RealProcEntry[] = [");
  for (const c of children(img.sym("proc_root"))) entry(c, "  ");
  lines.push("];");
  lines.push("");
  lines.push("/** init_net.proc_net (proc_net_ns_init's anchor, mode 0, not linked under proc_root) and its tree. */");
  lines.push("export const REAL_PROC_NET: RealProcEntry =");
  const netd = img.u64(img.sym("init_net") + BigInt(img.off("net", "proc_net")));
  entry(netd, "  ");
  // The last line closes the root entry: "  ] }," → "  ] };"
  lines[lines.length - 1] = lines[lines.length - 1]!.replace(/,$/, ";");
  return { lines, tables: [...tables.values()] };
}

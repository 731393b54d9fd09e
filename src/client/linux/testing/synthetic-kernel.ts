/**
 * A synthetic Linux kernel laid out in sparse test memory with a real profile's offsets
 * and symbols: the image mapped through init_top_pgt at a chosen KASLR placement, the
 * direct map, init_task and processes (task list, pid IDR, creds, mm with a maple tree
 * of VMAs, files), per-CPU run queues, modules (list and kset), sys_call_table, the IDT,
 * /proc and /proc/net entries, netfilter, tty line disciplines, keyboard notifiers.
 * Tests then break one thing the way a rootkit would and check that it is seen.
 */
import type { Profile } from "../../../shared/kernel/index.js";
import { PageTableBuilder } from "../../arch/testing/page-tables.js";
import { Vmi, registerSet, type RegisterName, type VcpuRegisters, REGISTER_NAMES } from "../../vmi/index.js";
import { CAP_FULL_SET, CPU_ENTRY_AREA_BASE, MAPLE_LEAF_64, MAPLE_RANGE_64, PF_KTHREAD, START_KERNEL_MAP } from "../constants.js";
import { openLinux, type OpenLinuxOptions } from "../session.js";
import type { LinuxKernel } from "../kernel.js";
import type { RemoteModeOptions } from "../../vmi/testing/sparse-driver.js";
import { TestDriver } from "./test-driver.js";

export interface SyntheticOptions {
  readonly virtSlide?: bigint;
  readonly physText?: bigint;
  readonly pageOffsetBase?: bigint;
  readonly memoryEnd?: bigint;
  readonly cpus?: number;
  /** Registers for each vCPU (default true; false = a driver without registers). */
  readonly registers?: boolean;
  /**
   * How `kernel()` reads the memory: "local" (default: a cache-less Vmi walking page
   * tables itself) or "agent" (a caching Vmi over an agent-like driver: remote walks,
   * framed reads, GatherList; every write here invalidates what it cached).
   */
  readonly view?: SyntheticView;
}

export type SyntheticView = "local" | "agent";

export interface VmaSpec {
  readonly start: bigint;
  readonly end: bigint;
  readonly flags: bigint;
  /** "exe" = the executable's file, a file VA, or 0 for anonymous. */
  readonly file?: "exe" | bigint;
  readonly ops?: bigint;
}

export interface ProcessSpec {
  readonly pid: number;
  readonly comm: string;
  readonly parent?: bigint;
  readonly uid?: number;
  readonly euid?: number;
  readonly caps?: bigint;
  readonly kthread?: boolean;
  /** User process: its executable path ("/bin/x") and mappings (default set when omitted). */
  readonly exe?: string;
  readonly vmas?: readonly VmaSpec[];
  readonly cred?: bigint;
}

const PAGE = 0x1000n;
const MIB2 = 0x200000n;
const ROOT = 0n;

export class SyntheticKernel {
  readonly p: Profile;
  readonly mem: TestDriver;
  readonly pt: PageTableBuilder;
  readonly virtSlide: bigint;
  readonly physText: bigint;
  readonly pageOffsetBase: bigint;
  readonly memoryEnd: bigint;
  readonly cpus: number;
  readonly view: SyntheticView;
  readonly initTask: bigint;
  readonly initCred: bigint;
  readonly perCpu: bigint[] = [];
  readonly idle: bigint[] = [];
  readonly rootDentry: bigint;
  readonly rootMount: bigint;
  readonly procNet: bigint;
  #heap: bigint;
  #modArea = 0xffffffffc0000000n;
  readonly pids = new Map<number, bigint>();
  readonly tasks = new Map<number, bigint>();
  readonly dentries = new Map<string, bigint>();

  constructor(profile: Profile, o: SyntheticOptions = {}) {
    this.p = profile;
    this.virtSlide = o.virtSlide ?? 0n;
    this.physText = o.physText ?? 0x1000000n;
    this.pageOffsetBase = o.pageOffsetBase ?? 0xffff888000000000n;
    this.memoryEnd = o.memoryEnd ?? 0x20000000n;
    this.cpus = o.cpus ?? 2;
    this.view = o.view ?? "local";
    this.mem = new TestDriver(this.memoryEnd);
    this.#heap = this.memoryEnd / 2n;
    this.pt = new PageTableBuilder(this.mem, 4, this.memoryEnd - 0x1000000n);
    // The image (2 MiB pages) and the direct map (1 GiB pages), then init_top_pgt.
    const text = this.unslid("_text");
    for (let off = 0n; off < this.unslid("_end") - text; off += MIB2) this.map(text + this.virtSlide + off, this.physText + off, MIB2, { nx: false });
    for (let pa = 0n; pa < this.memoryEnd; pa += 1n << 30n) this.map(this.pageOffsetBase + pa, pa, 1n << 30n, { nx: true });
    this.u64(this.sym("page_offset_base"), this.pageOffsetBase);
    this.u64(this.sym("phys_base"), BigInt.asUintN(64, this.physText - (text + this.virtSlide - START_KERNEL_MAP)));
    this.cstr(this.sym("linux_banner"), profile.banner ?? "Linux version 6.1.0-synthetic (test@seven) #1 SMP\n");
    // init_task and its static friends.
    this.initCred = this.sym("init_cred");
    this.#cred(this.initCred, 0, 0, CAP_FULL_SET);
    this.initTask = this.sym("init_task");
    this.#task(this.initTask, { pid: 0, comm: "swapper/0", kthread: true, cred: this.initCred });
    const initFiles = this.sym("init_files");
    this.set(initFiles, "files_struct", "fdt", initFiles + this.off("files_struct", "fdtab"));
    this.set(initFiles, "files_struct", "fdtab.max_fds", 64);
    this.set(initFiles, "files_struct", "fdtab.fd", initFiles + this.off("files_struct", "fd_array"));
    this.set(this.initTask, "task_struct", "files", initFiles);
    this.set(this.initTask, "task_struct", "fs", this.sym("init_fs"));
    this.set(this.initTask, "task_struct", "nsproxy", this.sym("init_nsproxy"));
    this.set(this.initTask, "task_struct", "signal", this.sym("init_signals"));
    this.set(this.initTask, "task_struct", "sighand", this.sym("init_sighand"));
    this.set(this.initTask, "task_struct", "active_mm", this.sym("init_mm"));
    this.listInit(this.initTask + this.off("task_struct", "tasks"));
    // Per-CPU areas, idle tasks, run queues.
    this.u32(this.sym("nr_cpu_ids"), this.cpus);
    this.u64(this.sym("__cpu_online_mask"), (1n << BigInt(this.cpus)) - 1n);
    for (let c = 0; c < this.cpus; c++) {
      const area = this.alloc(0x40000, 4096);
      this.perCpu.push(area);
      this.u64(this.sym("__per_cpu_offset") + BigInt(c * 8), area);
      const idle = c === 0 ? this.initTask : this.alloc(this.p.sizeOf("task_struct"));
      if (c > 0) this.#task(idle, { pid: 0, comm: `swapper/${c}`, kthread: true, cred: this.initCred });
      this.idle.push(idle);
      this.u64(area + this.unslid("current_task"), idle);
      const rq = area + this.unslid("runqueues");
      this.set(rq, "rq", "cpu", c);
      this.set(rq, "rq", "curr", idle);
      this.set(rq, "rq", "idle", idle);
    }
    // Modules: the list and the kset (with one built-in entry, as /sys/module/printk).
    this.listInit(this.sym("modules"));
    const kset = this.alloc(this.p.sizeOf("kset"));
    this.u64(this.sym("module_kset"), kset);
    this.listInit(kset + this.off("kset", "list"));
    const builtin = this.alloc(this.p.sizeOf("module_kobject"));
    this.#kobject(builtin + this.off("module_kobject", "kobj"), "printk");
    // System calls and the IDT.
    const sys = this.sym("__x64_sys_ni_syscall");
    for (let i = 0; i < 451; i++) this.u64(this.sym("sys_call_table") + BigInt(i * 8), sys);
    for (let v = 0; v < 256; v++) this.setGate(v, { handler: this.sym("asm_exc_divide_error") });
    this.map(CPU_ENTRY_AREA_BASE, this.imagePa(this.sym("idt_table")), PAGE, { nx: true });
    // /proc, /proc/net, netfilter, ttys, notifiers.
    this.#pde(this.sym("proc_root"), "/proc", true, this.sym("proc_root_operations"), this.sym("proc_root_inode_operations"), 0n);
    this.fillOps(this.sym("proc_root_operations"), "file_operations");
    this.fillOps(this.sym("proc_root_inode_operations"), "inode_operations");
    this.procNet = this.alloc(this.p.sizeOf("proc_dir_entry") + 16);
    this.#pde(this.procNet, "net", false, this.sym("proc_root_operations"), 0n, 0n);
    this.set(this.sym("init_net"), "net", "proc_net", this.procNet);
    const netSeq = [
      ["tcp", "tcp4_seq_ops"],
      ["tcp6", "tcp6_seq_ops"],
      ["udp", "udp_seq_ops"],
      ["udp6", "udp6_seq_ops"],
    ] as const;
    const kids = netSeq.map(([name, seq]) => {
      const e = this.alloc(this.p.sizeOf("proc_dir_entry") + 16);
      this.#pde(e, name, false, this.sym("proc_net_seq_ops"), 0n, this.sym(seq));
      this.fillOps(this.sym(seq), "seq_operations");
      return e;
    });
    this.fillOps(this.sym("proc_net_seq_ops"), "proc_ops");
    this.setChildren(this.procNet, kids);
    this.listInit(this.sym("net_namespace_list"));
    this.listAdd(this.sym("net_namespace_list"), this.sym("init_net") + this.off("net", "list"));
    this.fillOps(this.sym("n_tty_ops"), "tty_ldisc_ops");
    this.u64(this.sym("tty_ldiscs"), this.sym("n_tty_ops"));
    this.set(this.sym("tcp4_seq_afinfo"), "tcp_seq_afinfo", "family", 2);
    // A filesystem: "/" with /dev/console and /bin, one mount.
    this.rootDentry = this.dentry("/", 0n);
    this.rootMount = this.alloc(this.p.sizeOf("mount"));
    this.set(this.rootMount, "mount", "mnt_parent", this.rootMount);
    this.set(this.rootMount, "mount", "mnt_mountpoint", this.rootDentry);
    this.set(this.rootMount, "mount", "mnt.mnt_root", this.rootDentry);
    this.dentry("dev/console");
    this.fillOps(this.sym("console_fops"), "file_operations");
    if (o.registers ?? true) this.mem.setVcpus(this.vcpuRegisters());
  }

  // ---- addresses -------------------------------------------------------------------

  unslid(name: string): bigint {
    const a = this.p.symbolAddress(name);
    if (a === undefined) throw new Error(`profile has no ${name}`);
    return a;
  }
  sym(name: string): bigint {
    const a = this.unslid(name);
    return a >= START_KERNEL_MAP ? a + this.virtSlide : a;
  }
  off(struct: string, path: string): bigint {
    return BigInt(this.p.offsetOf(struct, path));
  }
  imagePa(va: bigint): bigint {
    return va - (this.unslid("_text") + this.virtSlide) + this.physText;
  }
  get dtb(): bigint {
    return this.imagePa(this.sym("init_top_pgt"));
  }
  pa(va: bigint): bigint {
    if (va >= START_KERNEL_MAP && va < 0xffffffffc0000000n) return this.imagePa(va);
    if (va >= this.pageOffsetBase && va < this.pageOffsetBase + this.memoryEnd) return va - this.pageOffsetBase;
    const m = this.#extra.get(va & ~(PAGE - 1n));
    if (m === undefined) throw new Error(`synthetic kernel: no mapping for 0x${va.toString(16)}`);
    return m + (va & (PAGE - 1n));
  }
  readonly #extra = new Map<bigint, bigint>();

  map(va: bigint, pa: bigint, size: bigint, flags: { nx?: boolean; rw?: boolean } = {}): void {
    this.pt.map(va, pa, size, { rw: flags.rw ?? true, nx: flags.nx ?? false });
    if (size === PAGE) this.#extra.set(va, pa);
    // init_top_pgt is the root: keep its page a copy of the builder's root.
    const root = this.mem.peek(this.pt.root, 4096);
    const at = this.imagePa(this.sym("init_top_pgt"));
    this.mem.poke(at, root);
  }

  /** Every object allocated (direct-map VA and size), for corruption tests. */
  readonly allocations: { va: bigint; size: number }[] = [];

  /** Zeroed direct-map memory. */
  alloc(size: number, align = 64): bigint {
    const a = BigInt(align);
    this.#heap = ((this.#heap + a - 1n) / a) * a;
    const pa = this.#heap;
    this.#heap += BigInt(Math.max(size, 8));
    this.allocations.push({ va: this.pageOffsetBase + pa, size: Math.max(size, 8) });
    return this.pageOffsetBase + pa;
  }

  /** A page-mapped area outside the image and the direct map (module space). */
  allocModuleArea(size: number): bigint {
    const va = this.#modArea;
    const pages = BigInt(Math.ceil(size / 4096));
    for (let i = 0n; i < pages; i++) {
      const pa = this.pa(this.alloc(4096, 4096));
      this.map(va + i * PAGE, pa, PAGE, { nx: false });
    }
    this.#modArea += (pages + 1n) * PAGE;
    return va;
  }

  // ---- raw writes ------------------------------------------------------------------

  write(va: bigint, b: Uint8Array): void {
    for (let i = 0; i < b.length; ) {
      const a = va + BigInt(i);
      const n = Math.min(b.length - i, 4096 - Number(a & 0xfffn));
      this.mem.poke(this.pa(a), b.subarray(i, i + n));
      i += n;
    }
  }
  u64(va: bigint, v: bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
    this.write(va, b);
  }
  u32(va: bigint, v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    this.write(va, b);
  }
  read64(va: bigint): bigint {
    return new DataView(this.mem.peek(this.pa(va), 8).buffer).getBigUint64(0, true);
  }
  cstr(va: bigint, s: string): void {
    this.write(va, new TextEncoder().encode(s + "\0"));
  }
  /** A member by path, written with the member's size. */
  set(base: bigint, struct: string, path: string, v: bigint | number): void {
    const m = this.p.member(struct, path);
    const size = m.type.kind === "bitfield" ? m.size : Math.min(m.size, 8);
    const b = new Uint8Array(size);
    let x = BigInt.asUintN(64, BigInt(v));
    for (let i = 0; i < size; i++, x >>= 8n) b[i] = Number(x & 0xffn);
    this.write(base + BigInt(m.offset), b);
  }
  get(base: bigint, struct: string, path: string): bigint {
    return this.read64(base + this.off(struct, path));
  }

  // ---- lists and trees -------------------------------------------------------------

  listInit(head: bigint): void {
    this.u64(head, head);
    this.u64(head + 8n, head);
  }
  listAdd(head: bigint, node: bigint): void {
    const prev = this.read64(head + 8n);
    this.u64(node, head);
    this.u64(node + 8n, prev);
    this.u64(prev, node);
    this.u64(head + 8n, node);
  }
  listDel(node: bigint): void {
    const next = this.read64(node);
    const prev = this.read64(node + 8n);
    this.u64(prev, next);
    this.u64(next + 8n, prev);
    this.u64(node, 0xdead000000000100n); // LIST_POISON1
    this.u64(node + 8n, 0xdead000000000122n);
  }

  /** Writes a balanced rb-tree of `nodes` (rb_node addresses, in order) and returns its root. */
  rbTree(nodes: readonly bigint[], parent = 0n): bigint {
    if (nodes.length === 0) return 0n;
    const mid = nodes.length >> 1;
    const n = nodes[mid]!;
    this.u64(n, parent | 1n); // black
    this.u64(n + this.off("rb_node", "rb_left"), this.rbTree(nodes.slice(0, mid), n));
    this.u64(n + this.off("rb_node", "rb_right"), this.rbTree(nodes.slice(mid + 1), n));
    return n;
  }

  // ---- kernel objects --------------------------------------------------------------

  /** Points every function-pointer member of an ops table into kernel text. */
  fillOps(table: bigint, struct: string, target = this.sym("_stext") + 0x100n): void {
    for (const [, f] of Object.entries(this.p.userType(struct).fields)) {
      if (f.type.kind === "pointer" && f.type.subtype.kind === "function") this.u64(table + BigInt(f.offset), target);
    }
  }

  setGate(v: number, g: { handler?: bigint; type?: number; dpl?: number; present?: boolean; selector?: number }, table = this.sym("idt_table")): void {
    const at = table + BigInt(v * 16);
    const h = g.handler ?? this.sym("asm_exc_divide_error");
    const b = new Uint8Array(16);
    const dv = new DataView(b.buffer);
    dv.setUint16(0, Number(h & 0xffffn), true);
    dv.setUint16(2, g.selector ?? 0x10, true);
    b[5] = ((g.present ?? true) ? 0x80 : 0) | ((g.dpl ?? (v === 3 || v === 4 ? 3 : 0)) << 5) | (g.type ?? 0xe);
    dv.setUint16(6, Number((h >> 16n) & 0xffffn), true);
    dv.setUint32(8, Number((h >> 32n) & 0xffffffffn), true);
    this.write(at, b);
  }

  #cred(at: bigint, uid: number, euid: number, caps: bigint): void {
    for (const f of ["uid", "gid", "suid", "sgid", "fsuid", "fsgid"]) this.set(at, "cred", f, f === "uid" ? uid : f.endsWith("uid") ? euid : uid);
    this.set(at, "cred", "euid", euid);
    this.set(at, "cred", "egid", euid);
    this.set(at, "cred", "cap_effective", caps);
    this.set(at, "cred", "cap_permitted", caps);
    this.set(at, "cred", "usage", 1);
  }

  newCred(uid: number, euid = uid, caps = uid === 0 ? CAP_FULL_SET : 0n): bigint {
    const c = this.alloc(this.p.sizeOf("cred"));
    this.#cred(c, uid, euid, caps);
    return c;
  }

  #task(t: bigint, s: { pid: number; comm: string; kthread: boolean; cred: bigint; tgid?: number; parent?: bigint }): void {
    this.set(t, "task_struct", "pid", s.pid);
    this.set(t, "task_struct", "tgid", s.tgid ?? s.pid);
    this.cstr(t + this.off("task_struct", "comm"), s.comm.slice(0, 15));
    this.set(t, "task_struct", "flags", s.kthread ? PF_KTHREAD : 0);
    this.set(t, "task_struct", "real_parent", s.parent ?? t);
    this.set(t, "task_struct", "parent", s.parent ?? t);
    this.set(t, "task_struct", "group_leader", t);
    this.set(t, "task_struct", "cred", s.cred);
    this.set(t, "task_struct", "real_cred", s.cred);
    this.listInit(t + this.off("task_struct", "thread_group"));
  }

  /** A struct pid for `nr` pointing at `task`; the IDR is rebuilt. */
  #attachPid(nr: number, task: bigint): void {
    const pid = this.alloc(this.p.sizeOf("pid") + this.p.sizeOf("upid"));
    this.set(pid, "pid", "level", 0);
    const link = task + this.off("task_struct", "pid_links");
    this.u64(pid + this.off("pid", "tasks"), link);
    this.u64(link + 8n, pid + this.off("pid", "tasks"));
    const upid = pid + this.off("pid", "numbers");
    this.set(upid, "upid", "nr", nr);
    this.set(upid, "upid", "ns", this.sym("init_pid_ns"));
    this.pids.set(nr, pid);
    this.rebuildPidIdr();
  }

  /** Writes init_pid_ns's IDR (an XArray of 64-slot nodes) from `pids`. */
  rebuildPidIdr(): void {
    const head = this.sym("init_pid_ns") + this.off("pid_namespace", "idr") + this.off("idr", "idr_rt") + this.off("xarray", "xa_head");
    const entries = [...this.pids].filter(([nr]) => nr > 0).sort((a, b) => a[0] - b[0]);
    if (entries.length === 0) return this.u64(head, 0n);
    const max = entries[entries.length - 1]![0];
    let shift = 0;
    while (max >= 64 ** (shift / 6 + 1)) shift += 6;
    const build = (base: number, sh: number, parent: bigint, offset: number): bigint => {
      const node = this.alloc(this.p.sizeOf("xa_node"), 64);
      this.set(node, "xa_node", "shift", sh);
      this.set(node, "xa_node", "offset", offset);
      this.set(node, "xa_node", "parent", parent);
      const slots = node + this.off("xa_node", "slots");
      for (let s = 0; s < 64; s++) {
        const lo = base + s * 64 ** (sh / 6);
        const hi = lo + 64 ** (sh / 6);
        const inside = entries.filter(([nr]) => nr >= lo && nr < hi);
        if (inside.length === 0) continue;
        if (sh === 0) this.u64(slots + BigInt(s * 8), inside[0]![1]);
        else this.u64(slots + BigInt(s * 8), build(lo, sh - 6, node, s) | 2n);
      }
      return node;
    };
    this.u64(head, build(0, shift, 0n, 0) | 2n);
  }

  dentry(path: string, parent?: bigint): bigint {
    const have = this.dentries.get(path);
    if (have !== undefined) return have;
    const parts = path.split("/").filter((x) => x !== "");
    const name = path === "/" ? "/" : parts[parts.length - 1]!;
    const par = parent ?? (path === "/" ? 0n : this.dentry(parts.length > 1 ? parts.slice(0, -1).join("/") : "/"));
    const d = this.alloc(this.p.sizeOf("dentry"));
    const s = this.alloc(name.length + 1, 8);
    this.cstr(s, name);
    this.set(d, "dentry", "d_parent", par === ROOT ? d : par);
    this.set(d, "dentry", "d_name.name", s);
    this.set(d, "dentry", "d_name.len", name.length);
    this.dentries.set(path, d);
    return d;
  }

  /** An open file at `path` with f_op `fop`. */
  file(path: string, fop: bigint): bigint {
    const f = this.alloc(this.p.sizeOf("file"));
    this.set(f, "file", "f_path.dentry", this.dentry(path.replace(/^\//, "")));
    this.set(f, "file", "f_path.mnt", this.rootMount + this.off("mount", "mnt"));
    this.set(f, "file", "f_op", fop);
    this.set(f, "file", "f_inode", this.alloc(this.p.sizeOf("inode")));
    return f;
  }

  #pde(at: bigint, name: string, dir: boolean, ops: bigint, iops: bigint, seq: bigint): void {
    const nameAt = at + this.off("proc_dir_entry", "inline_name");
    this.cstr(nameAt, name);
    this.set(at, "proc_dir_entry", "name", nameAt);
    this.set(at, "proc_dir_entry", "mode", dir ? 0o40555 : 0o100444);
    this.set(at, "proc_dir_entry", "proc_ops", ops);
    this.set(at, "proc_dir_entry", "proc_iops", iops);
    this.set(at, "proc_dir_entry", "seq_ops", seq);
  }

  setChildren(dir: bigint, kids: readonly bigint[]): void {
    const nodes = kids.map((k) => k + this.off("proc_dir_entry", "subdir_node"));
    this.u64(dir + this.off("proc_dir_entry", "subdir"), this.rbTree(nodes));
  }

  #kobject(kobj: bigint, name: string): void {
    const s = this.alloc(name.length + 1, 8);
    this.cstr(s, name);
    this.set(kobj, "kobject", "name", s);
    const kset = this.read64(this.sym("module_kset"));
    this.listAdd(kset + this.off("kset", "list"), kobj + this.off("kobject", "entry"));
  }

  // ---- processes ---------------------------------------------------------------------

  addProcess(s: ProcessSpec): bigint {
    const t = this.alloc(this.p.sizeOf("task_struct"), 64);
    const kthread = s.kthread ?? s.exe === undefined;
    const cred = s.cred ?? this.newCred(s.uid ?? 0, s.euid ?? s.uid ?? 0, s.caps ?? ((s.uid ?? 0) === 0 ? CAP_FULL_SET : 0n));
    this.#task(t, { pid: s.pid, comm: s.comm, kthread, cred, parent: s.parent ?? this.initTask });
    this.listAdd(this.initTask + this.off("task_struct", "tasks"), t + this.off("task_struct", "tasks"));
    this.#attachPid(s.pid, t);
    this.tasks.set(s.pid, t);
    const files = this.alloc(this.p.sizeOf("files_struct"));
    const fdt = this.alloc(this.p.sizeOf("fdtable"));
    const fds = this.alloc(64 * 8);
    this.set(files, "files_struct", "fdt", fdt);
    this.set(fdt, "fdtable", "max_fds", 64);
    this.set(fdt, "fdtable", "fd", fds);
    this.set(t, "task_struct", "files", files);
    if (kthread) return t;
    const con = this.file("/dev/console", this.sym("console_fops"));
    for (let fd = 0; fd < 3; fd++) this.u64(fds + BigInt(fd * 8), con);
    const exe = this.file(s.exe!, this.sym("console_fops"));
    this.u64(fds + 80n, exe);
    const mm = this.alloc(this.p.sizeOf("mm_struct"), 64);
    this.set(t, "task_struct", "mm", mm);
    this.set(t, "task_struct", "active_mm", mm);
    this.set(mm, "mm_struct", "pgd", this.alloc(4096, 4096));
    this.set(mm, "mm_struct", "exe_file", exe);
    this.set(mm, "mm_struct", "start_code", 0x401000n);
    this.set(mm, "mm_struct", "context.vdso", 0x7ffff7fc1000n);
    this.setVmas(t, s.vmas ?? defaultVmas(this.sym("special_mapping_vmops")));
    return t;
  }

  addThread(leader: bigint, tid: number, comm: string): bigint {
    const t = this.alloc(this.p.sizeOf("task_struct"), 64);
    const tgid = Number(this.get(leader, "task_struct", "tgid") & 0xffffffffn);
    this.#task(t, { pid: tid, tgid, comm, kthread: false, cred: this.get(leader, "task_struct", "cred"), parent: this.get(leader, "task_struct", "real_parent") });
    this.set(t, "task_struct", "group_leader", leader);
    for (const f of ["mm", "active_mm", "files"]) this.set(t, "task_struct", f, this.get(leader, "task_struct", f));
    this.listAdd(leader + this.off("task_struct", "thread_group"), t + this.off("task_struct", "thread_group"));
    this.#attachPid(tid, t);
    return t;
  }

  mmOf(task: bigint): bigint {
    return this.get(task, "task_struct", "mm");
  }

  /** Writes the maple tree of an mm: one leaf for ≤ 15 VMAs, else a range64 root over leaves of 8. */
  setVmas(task: bigint, vmas: readonly VmaSpec[]): bigint[] {
    const mm = this.mmOf(task);
    const exe = this.get(mm, "mm_struct", "exe_file");
    const addrs = vmas.map((v) => {
      const a = this.alloc(this.p.sizeOf("vm_area_struct"), 64);
      this.set(a, "vm_area_struct", "vm_start", v.start);
      this.set(a, "vm_area_struct", "vm_end", v.end);
      this.set(a, "vm_area_struct", "vm_mm", mm);
      this.set(a, "vm_area_struct", "vm_flags", v.flags);
      this.set(a, "vm_area_struct", "vm_file", v.file === "exe" ? exe : (v.file ?? 0n));
      this.set(a, "vm_area_struct", "vm_ops", v.ops ?? 0n);
      return a;
    });
    const tree = mm + this.off("mm_struct", "mm_mt");
    const leaf = (items: readonly bigint[], parent: bigint): bigint => {
      const n = this.alloc(this.p.sizeOf("maple_node"), 256);
      this.set(n, "maple_node", "parent", parent);
      items.forEach((a, i) => {
        this.u64(n + this.off("maple_range_64", "slot") + BigInt(i * 8), a);
        this.u64(n + this.off("maple_range_64", "pivot") + BigInt(i * 8), this.read64(a + this.off("vm_area_struct", "vm_end")) - 1n);
      });
      return n;
    };
    const enode = (n: bigint, type: number): bigint => n | (BigInt(type) << 3n) | 4n;
    if (addrs.length <= 15) {
      this.u64(tree + this.off("maple_tree", "ma_root"), enode(leaf(addrs, tree | 1n), MAPLE_LEAF_64) | 2n);
    } else {
      const root = this.alloc(this.p.sizeOf("maple_node"), 256);
      this.set(root, "maple_node", "parent", tree | 1n);
      for (let i = 0; i * 8 < addrs.length; i++) {
        const l = leaf(addrs.slice(i * 8, i * 8 + 8), root | (BigInt(i) << 3n));
        this.u64(root + this.off("maple_range_64", "slot") + BigInt(i * 8), enode(l, MAPLE_LEAF_64));
      }
      this.u64(tree + this.off("maple_tree", "ma_root"), enode(root, MAPLE_RANGE_64) | 2n);
    }
    return addrs;
  }

  unlinkTask(task: bigint): void {
    this.listDel(task + this.off("task_struct", "tasks"));
  }

  // ---- modules -----------------------------------------------------------------------

  addModule(name: string, textSize = 0x2000, size = 0x4000): { module: bigint; base: bigint } {
    const m = this.alloc(this.p.sizeOf("module"), 64);
    const base = this.allocModuleArea(size);
    this.cstr(m + this.off("module", "name"), name);
    this.set(m, "module", "core_layout.base", base);
    this.set(m, "module", "core_layout.size", size);
    this.set(m, "module", "core_layout.text_size", textSize);
    this.set(m, "module", "sig_ok", 1);
    this.listAdd(this.sym("modules"), m + this.off("module", "list"));
    const mk = m + this.off("module", "mkobj");
    this.set(mk, "module_kobject", "mod", m);
    this.#kobject(mk + this.off("module_kobject", "kobj"), name);
    return { module: m, base };
  }

  // ---- registers and attach ------------------------------------------------------------

  vcpuRegisters(): VcpuRegisters[] {
    const known = new Set<RegisterName>(REGISTER_NAMES);
    return this.perCpu.map((gs, vcpu) => ({
      vcpu,
      regs: registerSet({
        cr3: this.dtb,
        cr0: 0x80050033n,
        cr4: 0x6f0n,
        efer: 0xd01n,
        rip: this.sym("_stext") + 0x100n,
        idtr: { base: CPU_ENTRY_AREA_BASE, limit: 0xfffn },
        gs: { selector: 0n, base: gs, limit: 0n, attrib: 0n },
        lstar: this.sym("entry_SYSCALL_64"),
        cstar: this.sym("entry_SYSCALL_compat"),
        sysenterEip: this.sym("entry_SYSENTER_compat"),
      }),
      known,
    }));
  }

  vmi(): Promise<Vmi> {
    return Vmi.open(this.mem, { cacheFrames: 0 });
  }

  async kernel(opts: OpenLinuxOptions = {}): Promise<LinuxKernel> {
    if (this.view === "agent") return (await this.remoteKernel(opts)).kernel;
    return openLinux(await this.vmi(), this.p, opts);
  }

  /**
   * The same memory seen through a driver that works like the agent (remote walks, framed
   * reads, GatherList unless `remote` says otherwise), on a caching Vmi: call
   * `vmi.invalidate()` after changing memory. `driver` logs its calls.
   */
  async remoteKernel(opts: OpenLinuxOptions = {}, remote: RemoteModeOptions = {}): Promise<{ kernel: LinuxKernel; driver: TestDriver }> {
    const src = this.mem;
    const driver = new TestDriver(this.memoryEnd, src.vcpus, src.frames).enableRemote(remote);
    // Registers stay those of the source (tests change them there).
    const caps = driver.capabilities;
    Object.defineProperty(driver, "capabilities", { get: () => ({ ...caps, registers: src.capabilities.registers }) });
    driver.getRegisters = (which) => src.getRegisters(which);
    const vmi = await Vmi.open(driver, { cacheFrames: 4096 });
    this.mem.onPoke((gpa, len) => {
      const frames: bigint[] = [];
      for (let f = gpa >> 12n; len > 0 && f <= (gpa + BigInt(len) - 1n) >> 12n; f++) frames.push(f);
      driver.sink?.invalidateFrames(frames);
    });
    return { kernel: await openLinux(vmi, this.p, opts), driver };
  }
}

/** A small static binary's mappings: ELF header, code, rodata, data, heap, stack, vDSO. */
export function defaultVmas(specialOps: bigint): VmaSpec[] {
  return [
    { start: 0x400000n, end: 0x401000n, flags: 0x71n, file: "exe" },
    { start: 0x401000n, end: 0x585000n, flags: 0x75n, file: "exe" },
    { start: 0x585000n, end: 0x5db000n, flags: 0x71n, file: "exe" },
    { start: 0x5e2000n, end: 0x5e5000n, flags: 0x73n, file: "exe" },
    { start: 0x5e5000n, end: 0x5ec000n, flags: 0x100073n },
    { start: 0x7ffffffde000n, end: 0x7ffffffff000n, flags: 0x100173n },
    { start: 0x7ffff7fc1000n, end: 0x7ffff7fc3000n, flags: 0x8040075n, ops: specialOps },
  ];
}

export async function syntheticKernel(profile: Profile, o: SyntheticOptions = {}): Promise<SyntheticKernel> {
  return new SyntheticKernel(profile, o);
}

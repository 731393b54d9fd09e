/**
 * What the guest model needs from a kernel profile, declared once as (struct, member)
 * pairs and resolved at construction with every missing name reported together
 * (DRAKVUF linux-offsets-map.h). Nothing in src/guest hard-codes an offset: every
 * structure is laid out from these numbers, so forensic code written against the same
 * profile reads the model's memory exactly as it reads a real kernel's.
 */
import type { Profile } from "../shared/kernel/index.js";
import { GuestError } from "./errors.js";

/**
 * The narrow view of a kernel profile the guest uses (the ISF-backed `Profile` of
 * src/shared/kernel satisfies it through `kernelInfoFromProfile`). Member paths are
 * dotted ("se.run_node", "mkobj.kobj.name"); anonymous structs and unions are transparent.
 */
export interface KernelProfileView {
  /** sizeof(type) for a struct, union or base type; undefined if unknown. */
  sizeOf(type: string): number | undefined;
  /** Byte offset of a member path inside `type`; undefined if unknown. */
  offsetOf(type: string, path: string): number | undefined;
  /** Size in bytes of the member's type; undefined if unknown. */
  memberSize(type: string, path: string): number | undefined;
  /** System.map (un-slid) address; undefined if unknown. */
  symbol(name: string): bigint | undefined;
}

/** The view of a shared/kernel `Profile` (ISF or BTF backed). */
export function kernelInfoFromProfile(profile: Profile): KernelProfileView {
  return {
    sizeOf: (type) => (profile.hasType(type) ? profile.sizeOf(type) : undefined),
    offsetOf: (type, path) => profile.findMember(type, path)?.offset,
    memberSize: (type, path) => profile.findMember(type, path)?.size,
    symbol: (name) => profile.symbolAddress(name),
  };
}

/** Every (struct, member path) the model writes or reads. */
export const NEEDED_MEMBERS = {
  task_struct: [
    "thread_info.flags", "thread_info.cpu", "__state", "stack", "usage", "flags", "on_cpu", "recent_used_cpu", "wake_cpu",
    "on_rq", "prio", "static_prio", "normal_prio", "se", "sched_class", "policy", "nr_cpus_allowed", "tasks", "mm",
    "active_mm", "exit_state", "exit_signal", "pid", "tgid", "stack_canary", "real_parent", "parent", "children",
    "sibling", "group_leader", "thread_pid", "pid_links", "thread_group", "thread_node", "start_time",
    "start_boottime", "real_cred", "cred", "comm", "fs", "files", "nsproxy",
  ],
  sched_entity: ["load.weight", "load.inv_weight", "run_node", "on_rq", "exec_start", "sum_exec_runtime", "vruntime", "cfs_rq"],
  rb_node: ["__rb_parent_color", "rb_right", "rb_left"],
  rb_root_cached: ["rb_root.rb_node", "rb_leftmost"],
  list_head: ["next", "prev"],
  hlist_node: ["next", "pprev"],
  hlist_head: ["first"],
  cred: ["usage", "uid", "gid", "suid", "sgid", "euid", "egid", "fsuid", "fsgid", "cap_inheritable", "cap_permitted", "cap_effective", "cap_bset", "user", "user_ns"],
  mm_struct: [
    "mm_mt", "mmap_base", "task_size", "pgd", "mm_users", "mm_count", "map_count", "total_vm", "start_code", "end_code",
    "start_data", "end_data", "start_brk", "brk", "start_stack", "arg_start", "arg_end", "env_start", "env_end", "owner",
    "exe_file", "context.vdso", "context.vdso_image",
  ],
  maple_tree: ["ma_root", "ma_flags"],
  maple_range_64: ["parent", "pivot", "slot"],
  vm_area_struct: ["vm_start", "vm_end", "vm_mm", "vm_page_prot", "vm_flags", "vm_pgoff", "vm_file", "vm_ops", "vm_private_data"],
  files_struct: ["count", "fdt", "fdtab", "next_fd", "close_on_exec_init", "open_fds_init", "full_fds_bits_init", "fd_array"],
  fdtable: ["max_fds", "fd", "close_on_exec", "open_fds", "full_fds_bits"],
  file: ["f_path", "f_path.mnt", "f_path.dentry", "f_inode", "f_op", "f_count", "f_flags", "f_mode", "f_pos", "f_cred"],
  dentry: ["d_flags", "d_parent", "d_name", "d_name.hash_len", "d_name.name", "d_inode", "d_iname", "d_lockref", "d_sb"],
  fs_struct: ["users", "umask", "root", "pwd"],
  path: ["mnt", "dentry"],
  mount: ["mnt_parent", "mnt_mountpoint", "mnt", "mnt_devname", "mnt_id"],
  vfsmount: ["mnt_root", "mnt_sb", "mnt_flags"],
  pid: ["count", "level", "tasks", "numbers"],
  upid: ["nr", "ns"],
  pid_namespace: ["idr", "pid_allocated", "child_reaper", "level"],
  idr: ["idr_rt", "idr_base", "idr_next"],
  xarray: ["xa_flags", "xa_head"],
  xa_node: ["shift", "offset", "count", "nr_values", "parent", "array", "slots", "marks"],
  rq: ["nr_running", "nr_switches", "cfs", "curr", "idle", "cpu", "online", "clock"],
  cfs_rq: ["load.weight", "nr_running", "h_nr_running", "min_vruntime", "tasks_timeline", "curr", "rq"],
  module: ["state", "list", "name", "mkobj", "mkobj.kobj", "mkobj.mod", "core_layout.base", "core_layout.size", "core_layout.text_size", "core_layout.ro_size", "refcnt", "version", "srcversion", "taints", "sig_ok"],
  kobject: ["name", "entry", "parent", "kset", "kref", "sd"],
  kset: ["list", "kobj"],
  nf_hook_entries: ["num_hook_entries", "hooks"],
  nf_hook_entry: ["hook", "priv"],
  net: ["nf.hooks_ipv4", "nf.hooks_ipv6", "nf.hooks_arp", "nf.hooks_bridge", "list", "proc_net", "proc_net_stat", "passive", "ns.count", "ns.inum", "ns.ops", "user_ns"],
  tty_ldisc_ops: ["name", "num", "write", "receive_buf"],
  atomic_notifier_head: ["head"],
  notifier_block: ["notifier_call", "next", "priority"],
  seq_operations: ["start", "stop", "next", "show"],
  file_operations: ["owner", "read_iter", "write_iter", "iterate_shared"],
  proc_dir_entry: [
    "in_use", "refcnt", "proc_iops", "proc_dir_ops", "proc_ops", "proc_dops", "seq_ops", "data", "state_size", "parent", "subdir", "subdir_node",
    "name", "mode", "flags", "namelen", "nlink", "low_ino", "uid", "gid", "size", "inline_name",
  ],
  nsproxy: ["count", "uts_ns", "ipc_ns", "mnt_ns", "pid_ns_for_children", "net_ns", "time_ns", "time_ns_for_children", "cgroup_ns"],
  uts_namespace: ["name.sysname", "name.nodename", "name.release", "name.version", "name.machine", "name.domainname"],
  gate_struct: ["offset_low", "segment", "bits", "offset_middle", "offset_high"],
} as const satisfies Record<string, readonly string[]>;

/** Types whose size the model needs (allocation sizes, array strides). */
export const NEEDED_SIZES = [
  "task_struct", "cred", "mm_struct", "vm_area_struct", "maple_node", "files_struct", "fdtable", "file", "dentry",
  "fs_struct", "mount", "pid", "upid", "xa_node", "module", "kobject", "nf_hook_entries", "nf_hook_entry",
  "notifier_block", "proc_dir_entry", "list_head", "rq", "hlist_node", "gate_struct", "kset",
] as const;

/** System.map symbols the model places things at. */
export const NEEDED_SYMBOLS = [
  "_text", "_stext", "_etext", "__start_rodata", "__end_rodata", "_sdata", "_edata", "__bss_start", "__bss_stop", "_end",
  "__per_cpu_start", "__per_cpu_end", "__per_cpu_load", "current_task", "runqueues", "gdt_page", "cpu_tss_rw",
  "init_top_pgt", "level4_kernel_pgt", "level3_kernel_pgt", "level2_kernel_pgt", "level2_fixmap_pgt", "phys_base",
  "page_offset_base", "vmalloc_base", "vmemmap_base", "__per_cpu_offset", "nr_cpu_ids", "init_task", "init_mm",
  "init_cred", "init_files", "init_fs", "init_pid_ns", "init_nsproxy", "init_uts_ns", "init_ipc_ns", "init_net",
  "init_time_ns", "init_cgroup_ns", "init_user_ns", "root_user", "linux_banner", "sys_call_table", "idt_table",
  "entry_SYSCALL_64", "modules", "module_kset", "tty_ldiscs", "keyboard_notifier_list", "tcp4_seq_afinfo",
  "tcp4_seq_ops", "proc_root", "proc_root_operations", "fair_sched_class", "idle_sched_class", "tasklist_lock",
  "net_namespace_list", "netns_operations", "__cpu_possible_mask", "__cpu_online_mask", "__cpu_present_mask", "__cpu_active_mask",
  "__num_online_cpus", "tainted_mask",
] as const;

type MemberMap = typeof NEEDED_MEMBERS;
export type KStruct = keyof MemberMap;
export type KMember<S extends KStruct> = MemberMap[S][number];
export type KSized = (typeof NEEDED_SIZES)[number];
export type KSymbol = (typeof NEEDED_SYMBOLS)[number];

/**
 * The resolved numbers: `o("task_struct", "comm")`, `size("cred")`, `sym("init_task")`
 * (un-slid). Only declared names type-check; all are resolved up front.
 */
export class KernelTypes {
  readonly #off = new Map<string, number>();
  readonly #size = new Map<string, number>();
  readonly #sym = new Map<string, bigint>();
  readonly #view: KernelProfileView;

  constructor(view: KernelProfileView) {
    this.#view = view;
    const missing: string[] = [];
    for (const [s, members] of Object.entries(NEEDED_MEMBERS)) {
      for (const m of members as readonly string[]) {
        const v = view.offsetOf(s, m);
        if (v === undefined) missing.push(`${s}.${m}`);
        else this.#off.set(`${s}.${m}`, v);
      }
    }
    for (const t of NEEDED_SIZES) {
      const v = view.sizeOf(t);
      if (v === undefined) missing.push(`sizeof(${t})`);
      else this.#size.set(t, v);
    }
    for (const n of NEEDED_SYMBOLS) {
      const v = view.symbol(n);
      if (v === undefined) missing.push(`symbol ${n}`);
      else this.#sym.set(n, v);
    }
    if (missing.length > 0) {
      throw new GuestError("PROFILE_INCOMPLETE", `the kernel profile lacks ${missing.length} names the guest model lays out: ${missing.join(", ")}`, { missing });
    }
  }

  o<S extends KStruct>(struct: S, member: KMember<S>): number {
    let m = this.#byStruct.get(struct);
    if (m === undefined) {
      m = new Map();
      for (const mem of NEEDED_MEMBERS[struct] as readonly string[]) m.set(mem, this.#off.get(`${struct}.${mem}`)!);
      this.#byStruct.set(struct, m);
    }
    return m.get(member as string)!;
  }
  readonly #byStruct = new Map<string, Map<string, number>>();
  size(type: KSized): number {
    return this.#size.get(type)!;
  }
  /** Un-slid System.map address of a declared symbol. */
  sym(name: KSymbol): bigint {
    return this.#sym.get(name)!;
  }
  /** Un-slid address of any symbol (data tables name symbols beyond the declared list). */
  symbolOrUndefined(name: string): bigint | undefined {
    return this.#sym.get(name) ?? this.#view.symbol(name);
  }
  /** Offset of an arbitrary member path (data tables name members by path); throws if unknown. */
  member(struct: string, path: string): number {
    const k = `${struct}.${path}`;
    const hit = this.#off.get(k);
    if (hit !== undefined) return hit;
    const v = this.#view.offsetOf(struct, path);
    if (v === undefined) throw new GuestError("PROFILE_INCOMPLETE", `the kernel profile has no member ${k}`, { missing: [k] });
    this.#off.set(k, v);
    return v;
  }
  /** Size of a member (data tables write integers of the member's width). */
  memberSize(struct: string, path: string): number {
    const v = this.#view.memberSize(struct, path);
    if (v === undefined) throw new GuestError("PROFILE_INCOMPLETE", `the kernel profile has no member ${struct}.${path}`, { missing: [`${struct}.${path}`] });
    return v;
  }
  sizeOfAny(type: string): number {
    const hit = this.#size.get(type);
    if (hit !== undefined) return hit;
    const v = this.#view.sizeOf(type);
    if (v === undefined) throw new GuestError("PROFILE_INCOMPLETE", `the kernel profile has no type ${type}`, { missing: [type] });
    this.#size.set(type, v);
    return v;
  }
}

/**
 * The user types the committed profile keeps (`profiles/*.isf.json.gz`, made by
 * scripts/gen-profile.ts): what a Linux forensics toolkit and the guest kernel model
 * read, grouped by use. The generator adds everything these embed by value.
 */
export const FORENSICS_PROFILE_TYPES: readonly string[] = [
  // lists, trees, ids
  "list_head", "hlist_head", "hlist_node", "rb_root", "rb_root_cached", "rb_node",
  "idr", "xarray", "xa_node",
  "maple_tree", "maple_node", "maple_range_64", "maple_arange_64", "maple_metadata", "ma_state",
  // processes and memory
  "task_struct", "thread_info", "thread_struct", "pt_regs", "signal_struct", "sighand_struct",
  "mm_struct", "vm_area_struct", "cred", "kernel_cap_struct", "user_namespace",
  "pid", "upid", "pid_namespace", "nsproxy", "uts_namespace", "new_utsname", "linux_binfmt",
  // scheduler
  "rq", "cfs_rq", "sched_entity",
  // files
  "files_struct", "fdtable", "file", "path", "dentry", "qstr", "inode", "super_block",
  "vfsmount", "mount", "mnt_namespace", "fs_struct", "file_operations", "inode_operations",
  "proc_ops", "proc_dir_entry", "seq_operations", "seq_file", "kernfs_node",
  // modules
  "module", "module_kobject", "module_layout", "mod_kallsyms", "elf64_sym", "kobject", "kset",
  "kernel_symbol", "kernel_param", "kernel_param_ops",
  // networking
  "net", "netns_nf", "nf_hook_entries", "nf_hook_entry", "tcp_seq_afinfo",
  "socket", "sock", "sock_common", "inet_sock", "unix_sock",
  // tty, notifiers, tracing, bpf
  "tty_struct", "tty_driver", "tty_ldisc", "tty_ldisc_ops",
  "notifier_block", "atomic_notifier_head", "blocking_notifier_head",
  "tracepoint", "bpf_prog", "bpf_prog_aux",
  // x86: IDT and descriptor tables, vmalloc areas
  "gate_struct", "idt_bits", "desc_ptr", "vm_struct", "vmap_area",
];

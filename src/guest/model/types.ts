/**
 * The model's own bookkeeping of what it put in guest memory. Ground truth is produced
 * from these objects, never by reading memory back.
 */
import type { PageTableTree } from "../mem/page-tables.js";
import type { RbNode } from "../kernel/rbtree.js";

export type TaskKind = "idle" | "kthread" | "user";
/** /proc state letters: R running/runnable, S sleeping, I idle kernel thread. */
export type TaskState = "R" | "S" | "I";
/** Lifecycle in the model: being built, linked and live, being torn down. */
export type TaskPhase = "creating" | "live" | "exiting";

export interface Cred {
  readonly va: bigint;
  uid: number;
  gid: number;
  euid: number;
  egid: number;
  /** Tasks whose cred/real_cred point here. */
  refs: number;
}

export interface Dentry {
  readonly va: bigint;
  readonly name: string;
  readonly parent: Dentry | null;
  /** Static dentries are never freed. */
  readonly persistent: boolean;
  refs: number;
}

export interface OpenFile {
  readonly va: bigint;
  readonly dentry: Dentry;
  /** VA of the file_operations table. */
  readonly fops: bigint;
  readonly fopsSymbol: string;
  readonly flags: number;
  readonly mode: number;
  refs: number;
}

export interface FilesStruct {
  readonly va: bigint;
  /** init_files is static and shared by kernel threads. */
  readonly isStatic: boolean;
  readonly fds: (OpenFile | null)[];
  refs: number;
}

export interface Vma {
  readonly va: bigint;
  readonly start: bigint;
  readonly end: bigint;
  readonly flags: bigint;
  readonly file: OpenFile | null;
  readonly pgoff: bigint;
  /** What the region holds (for ground truth): "text", "data", "heap", "stack", "vvar", "vdso", ... */
  readonly name: string;
  /** A special mapping (vvar, vdso): vm_ops = &special_mapping_vmops, vm_private_data = this symbol. */
  readonly special?: string;
}

export interface MappedPage {
  readonly va: bigint;
  readonly pa: bigint;
  /** Private pages are freed with the address space; shared ones (binary text, vdso) are not. */
  readonly owned: boolean;
  readonly flags: bigint;
}

export interface Mm {
  readonly va: bigint;
  readonly pgd: PageTableTree;
  readonly vmas: Vma[];
  readonly mapleNodeVa: bigint;
  readonly pages: MappedPage[];
  readonly binary: string;
  readonly argStart: bigint;
  readonly argEnd: bigint;
  readonly envStart: bigint;
  readonly envEnd: bigint;
  readonly startStack: bigint;
  readonly exeFile: OpenFile;
}

export interface Task {
  /** Model id (never reused). */
  readonly id: number;
  readonly va: bigint;
  readonly kind: TaskKind;
  pid: number;
  tgid: number;
  comm: string;
  /** The command line (argv) shown by ps; kernel threads have none. */
  readonly argv: readonly string[];
  parent: Task | null;
  readonly children: Task[];
  cred: Cred;
  mm: Mm | null;
  files: FilesStruct;
  fsVa: bigint;
  /** struct pid VA (init_struct_pid for the idle tasks). */
  pidVa: bigint;
  cpu: number;
  state: TaskState;
  phase: TaskPhase;
  /** Long-lived named processes never exit; hidden ones neither. */
  pinned: boolean;
  /** Unlinked from the task list by a rootkit (still in the IDR and run queue). */
  hidden: boolean;
  startTimeNs: bigint;
  readonly se: RbNode;
  /** On its CPU's run queue (in the tree or running). */
  onRq: boolean;
}

export interface KernelModule {
  readonly name: string;
  readonly va: bigint;
  readonly base: bigint;
  readonly size: number;
  readonly textSize: number;
  readonly roSize: number;
  /** PAs backing [base, base+size), one per page. */
  readonly pages: readonly bigint[];
  /** kobject name string VA. */
  readonly kobjNameVa: bigint;
  hiddenFromList: boolean;
  hiddenFromKset: boolean;
  /** Loaded by a rootkit scenario. */
  readonly rootkit: boolean;
  /** module.sig_ok: the signature verified at load. */
  readonly sigOk: boolean;
  /** module.taints (TAINT_OOT_MODULE, TAINT_UNSIGNED_MODULE bits). */
  readonly taints: bigint;
}

/** A builtin module's sysfs kobject (/sys/module/NAME with mkobj.mod = NULL). */
export interface BuiltinKobject {
  readonly name: string;
  readonly va: bigint;
}

/** Something a rootkit changed: where, what was there, what is there now. */
export interface HookRecord {
  readonly kind: string;
  /** What was hooked, e.g. "sys_call_table[217]", "idt[14]", "LSTAR", "proc_root_operations.iterate_shared". */
  readonly target: string;
  /** VA written (undefined for a register). */
  readonly address?: bigint;
  readonly original: bigint;
  readonly current: bigint;
  /** Module whose code the hook points into. */
  readonly owner?: string;
  readonly rootkit: string;
}

/** Code a rootkit placed in guest memory (a hook function in its module's text). */
export interface HookCode {
  readonly addr: bigint;
  readonly name: string;
  readonly rootkit: string;
  /**
   * Where the hook keeps the pointer it chains to (read at run time, so the chain follows
   * memory); undefined for a hook that does not chain (an added notifier).
   */
  readonly chainPtrVa?: bigint;
  /** A text-patch trampoline: after the hook, execution resumes here (the patched function + 5). */
  readonly resumeAt?: bigint;
}

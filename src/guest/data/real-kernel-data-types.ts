/** Types of the tables in real-kernel-data.generated.ts (read from a real kernel's memory). */

/** A pointer into the kernel image: the System.map symbol (name and un-slid address) plus an offset. */
export interface RealSymRef {
  readonly sym: string;
  readonly addr: bigint;
  readonly off?: number;
}

/** A char* member: the string and the un-slid address it lives at (a literal in .rodata). */
export interface RealStringRef {
  readonly str: string;
  readonly addr: bigint;
}

/** A pointer the real kernel had into the slab (not reproduced: written as NULL). */
export interface RealKmallocRef {
  readonly kmalloc: true;
}

export type RealFieldValue = RealSymRef | RealStringRef | RealKmallocRef | number;

/** A static struct instance: its symbol and type, and its non-zero members by member path. */
export interface RealTable {
  readonly symbol: string;
  readonly addr: bigint;
  readonly type: string;
  readonly fields: Readonly<Record<string, RealFieldValue>>;
}

export interface RealIdtGate {
  readonly handler: RealSymRef;
  readonly ist: number;
  readonly dpl: number;
}

/** The hook functions registered at init_net.nf.<family>[hook], in priority order. */
export interface RealNfHooks {
  readonly family: "hooks_ipv4" | "hooks_ipv6" | "hooks_arp" | "hooks_bridge";
  readonly hook: number;
  readonly fns: readonly RealSymRef[];
}

/** A loaded module as load_module left it. */
export interface RealModule {
  readonly name: string;
  /** core_layout.size, .text_size, .ro_size. */
  readonly size: number;
  readonly textSize: number;
  readonly roSize: number;
  readonly refcnt: number;
  readonly sigOk: boolean;
  readonly taints: number;
}

/**
 * A procfs entry (struct proc_dir_entry) as the kernel registered it. `ops` is the
 * proc_ops (files) / proc_dir_ops (directories) union slot, `seq` the seq_ops /
 * single_show one; `data` a static object or a small integer (heap data is not kept),
 * `link` a symlink's target.
 */
export interface RealProcEntry {
  readonly name: string;
  readonly mode: number;
  readonly nlink: number;
  readonly lowIno: number;
  readonly flags: number;
  readonly refcnt: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly stateSize?: number;
  readonly size?: number;
  readonly iops?: RealSymRef;
  readonly ops?: RealSymRef;
  readonly dops?: RealSymRef;
  readonly seq?: RealSymRef;
  readonly data?: RealSymRef | number;
  readonly link?: string;
  readonly children?: readonly RealProcEntry[];
}

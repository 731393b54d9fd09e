/**
 * Architectural and kernel-ABI constants the Linux layer needs, each with where it comes
 * from. Offsets never live here: they come from the profile (requirements.ts).
 */

/** arch/x86/include/asm/page_64_types.h: __START_KERNEL_map. */
export const START_KERNEL_MAP = 0xffffffff80000000n;
/** arch/x86/include/asm/page_64_types.h: KERNEL_IMAGE_SIZE with RANDOMIZE_BASE (1 GiB). */
export const KERNEL_IMAGE_SIZE = 1n << 30n;
/** CONFIG_PHYSICAL_ALIGN on x86-64 (and the step of both KASLR slides): 2 MiB. */
export const KERNEL_ALIGN = 2n << 20n;
export const KERNEL_ALIGN_MASK = KERNEL_ALIGN - 1n;
/** The lowest canonical higher-half address: every kernel pointer is at or above it. */
export const KERNEL_SPACE_START = 0xffff800000000000n;
/** arch/x86/include/asm/pgtable_64_types.h: CPU_ENTRY_AREA_BASE; the IDT's read-only alias. */
export const CPU_ENTRY_AREA_BASE = 0xfffffe0000000000n;

/** include/linux/sched.h */
export const PF_KTHREAD = 0x00200000;
export const PF_EXITING = 0x00000004;

/** include/linux/mm.h: vm_flags bits. */
export const VM_READ = 0x1n;
export const VM_WRITE = 0x2n;
export const VM_EXEC = 0x4n;
export const VM_SHARED = 0x8n;

/** include/linux/xarray.h: entry tagging. */
export const XA_INTERNAL_TAG = 2n;
export const XA_RETRY_ENTRY = 0x402n; // xa_mk_internal(256)
export const XA_ZERO_ENTRY = 0x406n; // xa_mk_internal(257)

/** lib/maple_tree.c, include/linux/maple_tree.h */
export const MAPLE_NODE_MASK = 0xffn;
export const MAPLE_NODE_TYPE_SHIFT = 3n;
export const MAPLE_NODE_TYPE_MASK = 0x0fn;
export const MAPLE_DENSE = 0;
export const MAPLE_LEAF_64 = 1;
export const MAPLE_RANGE_64 = 2;
export const MAPLE_ARANGE_64 = 3;
/** Deepest maple tree (MAPLE_HEIGHT_MAX). */
export const MAPLE_HEIGHT_MAX = 31;

/** include/linux/pid.h: enum pid_type. */
export const PIDTYPE_PID = 0;

/** include/uapi/linux/tty.h: NR_LDISCS. */
export const NR_LDISCS = 30;

/** include/uapi/linux/netfilter.h: NF_INET_NUMHOOKS (used when the profile has no array count). */
export const NF_INET_NUMHOOKS = 5;

/** include/uapi/linux/capability.h: CAP_LAST_CAP for 6.1 (CAP_CHECKPOINT_RESTORE). */
export const CAP_LAST_CAP = 40;
export const CAP_FULL_SET = (1n << BigInt(CAP_LAST_CAP + 1)) - 1n;

/** arch/x86/include/asm/desc_defs.h: gate types. */
export const GATE_INTERRUPT = 0xe;
export const GATE_TRAP = 0xf;
/** Vectors Linux lets user mode raise with INT n (DPL 3): #BP, #OF, IA32 syscalls. */
export const USER_GATES: ReadonlySet<number> = new Set([3, 4, 0x80]);
export const IDT_ENTRIES = 256;

/** The uid of root. */
export const ROOT_UID = 0;

export function isKernelPointer(v: bigint): boolean {
  return v >= KERNEL_SPACE_START && v <= 0xffffffffffffffffn;
}

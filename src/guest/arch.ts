/**
 * x86-64 constants the guest kernel programs into its vCPUs (Intel SDM / AMD APM; Linux
 * arch/x86/include/asm/msr-index.h, segment.h): MSR numbers, the control-register values
 * of the fixture kernel (registers.txt: CR0 0x80050033, CR4 0x6f0, EFER 0xd01), segment
 * selectors and their VMCB attribute encodings.
 */
export const MSR_EFER = 0xc000_0080;
export const MSR_STAR = 0xc000_0081;
export const MSR_LSTAR = 0xc000_0082;
export const MSR_CSTAR = 0xc000_0083;
export const MSR_SYSCALL_MASK = 0xc000_0084;
export const MSR_GS_BASE = 0xc000_0101;
export const MSR_KERNEL_GS_BASE = 0xc000_0102;
export const MSR_GHCB = 0xc001_0130;

/** PE | MP | ET | NE | WP | AM | PG. */
export const LINUX_CR0 = 0x80050033n;
/** PSE | PAE | MCE | PGE | OSFXSR | OSXMMEXCPT (qemu64 has no SMEP/SMAP). */
export const LINUX_CR4 = 0x6f0n;
/** SCE | LME | LMA | NXE. */
export const LINUX_EFER = 0xd01n;
export const EFER_SVME = 1n << 12n;

export const KERNEL_CS = 0x10;
export const KERNEL_DS = 0x18;
export const USER_DS = 0x2b;
export const USER_CS = 0x33;
export const GDT_ENTRY_TSS_SEL = 0x40;
/** VMCB segment attributes: descriptor byte 5 | (byte 6 high nibble) << 8. */
export const ATTR_KERNEL_CS = 0xa9b;
export const ATTR_KERNEL_DS = 0xc93;
export const ATTR_USER_CS = 0xafb;
export const ATTR_USER_DS = 0xcf3;
export const ATTR_TSS = 0x089;
/** STAR: SYSRET CS base (__USER32_CS) in 63:48, SYSCALL CS (__KERNEL_CS) in 47:32. */
export const LINUX_STAR = (0x23n << 48n) | (0x10n << 32n);
/** SFMASK: TF | IF | DF | IOPL | NT | AC | ID cleared on SYSCALL. */
export const LINUX_SFMASK = 0x47700n;
export const RFLAGS_KERNEL = 0x246n;
export const RFLAGS_USER = 0x246n;
export const DEFAULT_PAT = 0x0007040600070406n;

/** Vectors the workload raises. */
export const LOCAL_TIMER_VECTOR = 0xec;
/** IRQ1 (i8042 keyboard) as Linux routes it: ISA_IRQ_VECTOR(1) = FIRST_EXTERNAL_VECTOR + 0x10 + 1. */
export const KEYBOARD_VECTOR = 0x31;
export const PAGE_FAULT_VECTOR = 14;

/** x86-64 system call numbers the workload makes (arch/x86/entry/syscalls/syscall_64.tbl). */
export const NR = {
  read: 0,
  write: 1,
  close: 3,
  brk: 12,
  sched_yield: 24,
  nanosleep: 35,
  getpid: 39,
  sendto: 44,
  clone: 56,
  kill: 62,
  uname: 63,
  getuid: 102,
  getdents64: 217,
  clock_gettime: 228,
  exit_group: 231,
  openat: 257,
} as const;

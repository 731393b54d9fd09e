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

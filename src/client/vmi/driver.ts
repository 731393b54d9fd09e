/**
 * The driver interface (LibVMI `driver/`): the smallest surface a memory source must
 * offer, asynchronous throughout, with optional operations declared in `capabilities`.
 *
 * Conventions every driver follows:
 * - Physical addresses are guest-physical without the C-bit (the arch layer masks it).
 * - Batches are scatter-gather: one call, many ranges, one result per range in order.
 *   A per-range failure is a `VmiError` in that slot (INVALID_ADDRESS with the first
 *   unbacked address, or what the agent reported); the promise itself rejects only
 *   when the whole call failed (transport, closed driver).
 * - Returned buffers belong to the caller (never views of the driver's own storage).
 * - A driver whose memory can change while we look (`capabilities.live`) tells the
 *   owner's cache through the `InvalidationSink` the Vmi installs with
 *   `setInvalidationSink` (on resume, on events, after writes done behind our back).
 */
import type { VmiError } from "./errors.js";
import type { RegisterSet, VcpuRegisters } from "./registers.js";

/** A guest-physical byte range to read. */
export interface PhysRange {
  readonly gpa: bigint;
  readonly len: number;
}

/** A guest-physical write. */
export interface PhysWrite {
  readonly gpa: bigint;
  readonly data: Uint8Array;
}

/** A guest-virtual byte range (for drivers that walk page tables themselves). */
export interface VirtRange {
  readonly va: bigint;
  readonly len: number;
}

/** A backed region of guest-physical memory; `len` is bigint like every address. */
export interface MemoryRange {
  readonly gpa: bigint;
  readonly len: bigint;
}

/** Bytes, or why that range could not be read. */
export type ReadResult = Uint8Array | VmiError;

/** Result of a remote translation: where `va` lands, with the leaf's rights. */
export interface RemoteTranslation {
  readonly va: bigint;
  readonly pa: bigint;
  readonly pageSize: bigint;
  readonly writable: boolean;
  readonly user: boolean;
  readonly nx: boolean;
}

/** A virtual read together with the guest-physical frames it read (see `Driver.readVirtFrames`). */
export interface FramedRead {
  readonly data: Uint8Array;
  /**
   * The 4 KiB frame (GPA >> 12) behind each virtual page the range touched, in order;
   * undefined when the other side did not say (then the caller must translate itself).
   */
  readonly frames: readonly bigint[] | undefined;
}

/**
 * Pointer chasing in one exchange (protocol v1 GatherList), with no knowledge of what the
 * nodes are: from the pointer stored at `head`, follow the pointer at `node + nextOffset`
 * until it equals `stop`, is zero, repeats a visited node, or `maxNodes` nodes were
 * visited; for every node read `readLen` bytes at `node + readOffset` (may be negative).
 */
export interface GatherListSpec {
  readonly dtb: bigint;
  /** Virtual address of the pointer to the first node. */
  readonly head: bigint;
  readonly nextOffset: number;
  readonly stop: bigint;
  readonly maxNodes: number;
  readonly readOffset: number;
  readonly readLen: number;
}

/** Why a gather stopped: the next pointer equalled `stop`, was zero, repeated a node, the node budget ran out, or a next pointer could not be read. */
export type GatherStop = "reached" | "null" | "cycle" | "max-nodes" | "fault";

export interface GatherListResult {
  /** The visited nodes in order (the pointer values). */
  readonly nodes: readonly bigint[];
  /** One result per node: `readLen` bytes at `node + readOffset`, or why they could not be read. */
  readonly reads: readonly ReadResult[];
  readonly stop: GatherStop;
}

export interface MachineInfo {
  readonly vcpuCount: number;
  /** Backed guest-physical ranges, ascending, non-overlapping. */
  readonly memoryRanges: readonly MemoryRange[];
  /** Sum of the range lengths. */
  readonly memorySize: bigint;
  /** One past the highest backed guest-physical address. */
  readonly maxPhysAddress: bigint;
  /** Position of the SEV C-bit if the driver knows it (CPUID 0x8000001F EBX[5:0]). */
  readonly cBit?: number;
}

export interface DriverCapabilities {
  /** `writePhys` exists. */
  readonly write: boolean;
  /** `translate` exists: the other side walks page tables itself. */
  readonly translate: boolean;
  /** `readVirt` exists. */
  readonly readVirt: boolean;
  /** `getRegisters` exists. */
  readonly registers: boolean;
  /** `setRegisters` exists. */
  readonly writeRegisters: boolean;
  /** `pause` and `resume` exist. */
  readonly pause: boolean;
  /** `subscribe` exists. */
  readonly events: boolean;
  /** Memory may change between two reads (a running VM): caches must be invalidated. */
  readonly live: boolean;
  /** `readVirtFrames` exists (virtual reads that say which frames they read). */
  readonly virtFrames?: boolean;
  /** `gatherList` exists. */
  readonly gatherList?: boolean;
}

/** Something a driver pushes: a trap hit, a state change. Trap arming is the live drivers'. */
export interface DriverEvent {
  /** e.g. "memory-access", "execute", "paused", "resumed", "memory-changed". */
  readonly kind: string;
  readonly vcpu?: number;
  readonly regs?: RegisterSet;
  readonly gpa?: bigint;
  readonly va?: bigint;
  readonly access?: "r" | "w" | "x";
  /**
   * Frames (4 KiB frame numbers) whose contents may have changed before this event; absent
   * means "anything may have changed" and the whole cache is dropped.
   */
  readonly changedFrames?: readonly bigint[];
  /** The driver's own message, for whoever understands it. */
  readonly raw?: unknown;
}

export interface Subscription {
  dispose(): void;
}

/** What a driver calls when memory changed under the owner's cache. */
export interface InvalidationSink {
  invalidateAll(): void;
  invalidateFrames(frames: Iterable<bigint>): void;
}

export interface Driver {
  /** Short name for errors and logs ("elf-core", "lime", "raw", "agent", …). */
  readonly name: string;
  readonly capabilities: DriverCapabilities;

  info(): Promise<MachineInfo>;
  readPhys(ranges: readonly PhysRange[]): Promise<ReadResult[]>;

  /** All writes are attempted; one result per write (undefined = done). */
  writePhys?(writes: readonly PhysWrite[]): Promise<(VmiError | undefined)[]>;
  /** Remote page walks: one result per VA, in order. `dtb` is CR3 as the guest has it. */
  translate?(dtb: bigint, vas: readonly bigint[]): Promise<(RemoteTranslation | VmiError)[]>;
  /** Remote virtual reads: one result per range, in order. */
  readVirt?(dtb: bigint, ranges: readonly VirtRange[]): Promise<ReadResult[]>;
  /**
   * Remote virtual reads that also return the frame behind each page, so the owner can
   * cache by frame without a separate translation. A driver whose peer turns out not to
   * send frames returns `frames: undefined` (the data is still good).
   */
  readVirtFrames?(dtb: bigint, ranges: readonly VirtRange[]): Promise<(FramedRead | VmiError)[]>;
  /**
   * Pointer chasing in the peer (see GatherListSpec). Rejects with `UNSUPPORTED` when
   * the peer does not implement it; per-node read failures are in `reads`.
   */
  gatherList?(spec: GatherListSpec): Promise<GatherListResult>;
  /** Register sets of the given vCPUs (all when omitted), in one exchange. */
  getRegisters?(vcpus?: readonly number[]): Promise<VcpuRegisters[]>;
  setRegisters?(vcpu: number, regs: Partial<RegisterSet>): Promise<void>;
  pause?(): Promise<void>;
  resume?(): Promise<void>;
  subscribe?(handler: (e: DriverEvent) => void): Subscription;
  /** Installed by the owner of the cache (the Vmi); live drivers call it. */
  setInvalidationSink?(sink: InvalidationSink): void;

  close(): Promise<void>;
}

export const NO_CAPABILITIES: DriverCapabilities = Object.freeze({
  write: false,
  translate: false,
  readVirt: false,
  registers: false,
  writeRegisters: false,
  pause: false,
  events: false,
  live: false,
});

/** Derives MachineInfo totals from ranges. */
export function machineInfo(vcpuCount: number, ranges: readonly MemoryRange[], cBit?: number): MachineInfo {
  const sorted = [...ranges].sort((a, b) => (a.gpa < b.gpa ? -1 : a.gpa > b.gpa ? 1 : 0));
  let size = 0n;
  let max = 0n;
  for (const r of sorted) {
    size += r.len;
    if (r.gpa + r.len > max) max = r.gpa + r.len;
  }
  const base = { vcpuCount, memoryRanges: sorted, memorySize: size, maxPhysAddress: max };
  return cBit === undefined ? base : { ...base, cBit };
}

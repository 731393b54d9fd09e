/**
 * What the system-call bodies and scenarios need from the workload engine (the Workload
 * implements it), and the workload's options and statistics.
 */
import type { Kernel } from "../model/kernel.js";
import type { Task } from "../model/types.js";
import type { HookPoints } from "../kernel/hook-points.js";
import type { Gen, VcpuCtx } from "./context.js";
import type { Insn } from "./insn.js";

export interface WorkloadOptions {
  readonly enabled: boolean;
  /** Process count to stay around (± slack). */
  readonly target: number;
}

/** An operation queued to run on a vCPU (0 by default) in kernel mode with the task-list lock held. */
export interface AdminOp {
  readonly name: string;
  readonly cpu?: number;
  run(v: VcpuCtx): Gen;
}

export interface WorkloadStats {
  syscalls: number;
  forks: number;
  exits: number;
  switches: number;
  interrupts: number;
  /** Handler fetches per syscall number. */
  readonly syscallsByNr: Map<number, number>;
}

export interface KernelExec {
  readonly k: Kernel;
  readonly hooks: HookPoints;
  readonly opts: WorkloadOptions;
  readonly stats: WorkloadStats;
  fn(name: string): bigint;
  record(fnName: string, build: () => void): Insn[];
  callCode(v: VcpuCtx, addr: bigint, what: string, body?: () => Gen, depth?: number): Gen;
  callPointer(v: VcpuCtx, rip: bigint, ptrVa: bigint, what: string, body?: () => Gen): Gen;
  schedule(v: VcpuCtx): Gen;
  sleepCurrent(v: VcpuCtx, state: "S" | "I"): Gen;
  fork(v: VcpuCtx, parent: Task): Gen;
  exit(v: VcpuCtx, task: Task): Gen;
  liveCount(): number;
  slack(): number;
}

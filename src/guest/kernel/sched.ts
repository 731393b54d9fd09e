/**
 * Per-CPU run queues (kernel/sched/core.c `runqueues`, fair.c): `struct rq` in each CPU's
 * per-cpu area with `curr`, `idle`, `nr_running`, and the CFS run queue whose rb-tree holds
 * the runnable sched_entities except the running one (set_next_entity takes it out,
 * put_prev_entity puts it back). Every change is written through `k.mem`.
 */
import type { KernelTypes } from "../kernel-info.js";
import type { Task } from "../model/types.js";
import { StructBuf, u32Bytes, u64Bytes, type KMem } from "../mem/kmem.js";
import { RbTree, type RbNode } from "./rbtree.js";

const TASK_ON_RQ_QUEUED = 1;

/** What the run-queue code needs from the kernel model (the Kernel satisfies it). */
export interface SchedEnv {
  readonly t: KernelTypes;
  readonly mem: KMem;
  percpu(cpu: number, symOffset: bigint): bigint;
}
type Kernel = SchedEnv;
/** NICE_0_LOAD on 64-bit (scale_load(1024)) and its inverse weight. */
export const NICE_0_LOAD = 1024n << 10n;
export const NICE_0_INV_WEIGHT = 4194304;

export class RunQueue {
  readonly cpu: number;
  readonly rqVa: bigint;
  readonly cfsVa: bigint;
  readonly tree = new RbTree();
  curr: Task;
  readonly idle: Task;
  nrRunning = 0;
  switches = 0n;
  minVruntime = 0n;

  constructor(k: Kernel, cpu: number, idle: Task) {
    this.cpu = cpu;
    this.rqVa = k.percpu(cpu, k.t.sym("runqueues"));
    this.cfsVa = this.rqVa + BigInt(k.t.o("rq", "cfs"));
    this.idle = idle;
    this.curr = idle;
  }

  /** The whole struct rq as boot leaves it (curr = idle, empty CFS tree). */
  writeInitial(k: Kernel): void {
    const t = k.t;
    const b = new StructBuf(t.size("rq"));
    const cfs = t.o("rq", "cfs");
    b.u32(t.o("rq", "nr_running"), 0);
    b.u64(t.o("rq", "curr"), this.idle.va);
    b.u64(t.o("rq", "idle"), this.idle.va);
    b.i32(t.o("rq", "cpu"), this.cpu);
    b.i32(t.o("rq", "online"), 1);
    b.u64(cfs + t.o("cfs_rq", "rq"), this.rqVa);
    b.u64(cfs + t.o("cfs_rq", "min_vruntime"), 0n);
    k.mem.write(this.rqVa, b.bytes);
    k.mem.write(k.percpu(this.cpu, k.t.sym("current_task")), u64Bytes(this.idle.va));
  }

  /** Every runnable task of this queue (tree plus the running one). */
  runnable(): Task[] {
    const out: Task[] = [];
    if (this.curr.kind !== "idle" && this.curr.onRq) out.push(this.curr);
    for (const n of this.tree.inOrder()) out.push(taskOf(n));
    return out;
  }

  /** enqueue_task_fair: a task becomes runnable here (wake-up or new task). */
  enqueue(k: Kernel, task: Task): void {
    if (task.cpu !== this.cpu) {
      // set_task_cpu: the task migrates to this run queue's CPU.
      task.cpu = this.cpu;
      k.mem.write(task.va + BigInt(k.t.o("task_struct", "thread_info.cpu")), u32Bytes(this.cpu));
      k.mem.write(task.va + BigInt(k.t.o("task_struct", "wake_cpu")), u32Bytes(this.cpu));
    }
    if (task.se.key < this.minVruntime) task.se.key = this.minVruntime;
    task.onRq = true;
    this.tree.insert(task.se);
    this.nrRunning++;
    this.#writeSe(k, task);
    this.#flushTree(k);
    this.#writeCounts(k);
  }

  /** dequeue_task_fair of the running task (it sleeps or exits). */
  dequeueCurrent(k: Kernel): void {
    const task = this.curr;
    if (task.kind === "idle" || !task.onRq) return;
    task.onRq = false;
    this.nrRunning--;
    this.#writeSe(k, task);
    this.#writeCounts(k);
  }

  /** dequeue of a queued (not running) task. */
  dequeueQueued(k: Kernel, task: Task): void {
    if (!task.onRq || task === this.curr) return;
    this.tree.erase(task.se);
    task.onRq = false;
    this.nrRunning--;
    this.#writeSe(k, task);
    this.#flushTree(k);
    this.#writeCounts(k);
  }

  /** The task __schedule would pick: leftmost, or idle. */
  pickNext(): Task {
    const n = this.tree.leftmost();
    return n === null ? this.idle : taskOf(n);
  }

  /** Context switch bookkeeping: put prev back, take next out, curr pointers, on_cpu. */
  switchTo(k: Kernel, next: Task, ranNs: bigint): void {
    const prev = this.curr;
    const t = k.t;
    if (prev.kind !== "idle") {
      prev.se.key += ranNs;
      if (prev.onRq && prev !== next) this.tree.insert(prev.se);
      this.#writeSe(k, prev);
      k.mem.write(prev.va + BigInt(t.o("task_struct", "on_cpu")), u32Bytes(0));
    }
    if (next.kind !== "idle" && next !== prev) this.tree.erase(next.se);
    this.curr = next;
    this.switches++;
    const left = this.tree.leftmost();
    const candidates = [left === null ? undefined : left.key, next.kind !== "idle" ? next.se.key : undefined].filter((x): x is bigint => x !== undefined);
    if (candidates.length > 0) {
      const m = candidates.reduce((a, b) => (a < b ? a : b));
      if (m > this.minVruntime) this.minVruntime = m;
    }
    this.#flushTree(k);
    k.mem.write(next.va + BigInt(t.o("task_struct", "on_cpu")), u32Bytes(1));
    k.mem.write(this.rqVa + BigInt(t.o("rq", "curr")), u64Bytes(next.va));
    const seVa = next.kind === "idle" ? 0n : next.va + BigInt(t.o("task_struct", "se"));
    k.mem.write(this.cfsVa + BigInt(t.o("cfs_rq", "curr")), u64Bytes(seVa));
    k.mem.write(this.rqVa + BigInt(t.o("rq", "nr_switches")), u64Bytes(this.switches));
    k.mem.write(this.cfsVa + BigInt(t.o("cfs_rq", "min_vruntime")), u64Bytes(this.minVruntime));
    k.mem.write(k.percpu(this.cpu, t.sym("current_task")), u64Bytes(next.va));
  }

  #writeCounts(k: Kernel): void {
    const t = k.t;
    const b = u32Bytes(this.nrRunning);
    k.mem.write(this.rqVa + BigInt(t.o("rq", "nr_running")), b);
    k.mem.write(this.cfsVa + BigInt(t.o("cfs_rq", "nr_running")), b);
    k.mem.write(this.cfsVa + BigInt(t.o("cfs_rq", "h_nr_running")), b);
    k.mem.write(this.cfsVa + BigInt(t.o("cfs_rq", "load.weight")), u64Bytes(NICE_0_LOAD * BigInt(this.nrRunning)));
  }

  #writeSe(k: Kernel, task: Task): void {
    const t = k.t;
    const se = task.va + BigInt(t.o("task_struct", "se"));
    k.mem.write(se + BigInt(t.o("sched_entity", "vruntime")), u64Bytes(task.se.key));
    k.mem.write(se + BigInt(t.o("sched_entity", "on_rq")), u32Bytes(task.onRq ? 1 : 0));
    k.mem.write(se + BigInt(t.o("sched_entity", "cfs_rq")), u64Bytes(task.onRq ? this.cfsVa : 0n));
    k.mem.write(task.va + BigInt(t.o("task_struct", "on_rq")), u32Bytes(task.onRq ? TASK_ON_RQ_QUEUED : 0));
  }

  #flushTree(k: Kernel): void {
    const t = k.t;
    const { nodes } = this.tree.takeDirty();
    for (const n of nodes) writeRbNode(k, n);
    const tl = this.cfsVa + BigInt(t.o("cfs_rq", "tasks_timeline"));
    const root = this.tree.root;
    const left = this.tree.leftmost();
    k.mem.write(tl + BigInt(t.o("rb_root_cached", "rb_root.rb_node")), u64Bytes(root === null ? 0n : root.va));
    k.mem.write(tl + BigInt(t.o("rb_root_cached", "rb_leftmost")), u64Bytes(left === null ? 0n : left.va));
  }
}

export function writeRbNode(k: Kernel, n: RbNode): void {
  const t = k.t;
  const b = new StructBuf(24);
  b.u64(t.o("rb_node", "__rb_parent_color"), (n.parent === null ? 0n : n.parent.va) | (n.red ? 0n : 1n));
  b.u64(t.o("rb_node", "rb_right"), n.right === null ? 0n : n.right.va);
  b.u64(t.o("rb_node", "rb_left"), n.left === null ? 0n : n.left.va);
  k.mem.write(n.va, b.bytes);
}

/** Back-pointer from a run_node to its task (set when the task is created). */
const owners = new WeakMap<RbNode, Task>();
export function bindSe(task: Task): void {
  owners.set(task.se, task);
}
function taskOf(n: RbNode): Task {
  const t = owners.get(n);
  if (t === undefined) throw new Error("rb node without a task");
  return t;
}

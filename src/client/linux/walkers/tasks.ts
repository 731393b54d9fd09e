/**
 * Processes (Volatility `list_tasks`): the task list from init_task (thread-group leaders,
 * plus swapper/0 itself), threads through each leader's `thread_group` ring, the per-CPU
 * current tasks (__per_cpu_offset[cpu] + current_task), and the enrichment `ps` shows
 * (ppid, credentials, DTB) read in batches across all tasks.
 *
 * Round trips: the task list is one list walk (one exchange when the driver chases
 * pointers, every task's window with it); a leader whose thread_group ring is empty (its
 * window says so) costs nothing more, and the other leaders' rings are walked at once.
 */
import { VmiError } from "../../vmi/index.js";
import { PF_KTHREAD, isKernelPointer } from "../constants.js";
import { WalkError, badPointer, walkReadError } from "../errors.js";
import type { LinuxKernel } from "../kernel.js";
import { requirements } from "../requirements.js";
import { StructView, readViews, windowOfStruct, type Window } from "../struct-view.js";
import { CREDS, readCreds, type Cred } from "./creds.js";
import { containerOf, walkList } from "./list.js";

export const TASKS = requirements("tasks", {
  members: {
    task_struct: [
      "tasks", "pid", "tgid", "comm", "real_parent", "parent", "group_leader", "thread_group", "mm", "active_mm",
      "flags", "__state", "exit_state", "real_cred", "cred", "files",
    ],
  },
  symbols: ["init_task"],
  sizes: ["task_struct"],
});

export const PROCESSES = requirements("processes", {
  members: { mm_struct: ["pgd"] },
  uses: [TASKS, CREDS],
});

export const PER_CPU = requirements("per-cpu", {
  symbols: ["__per_cpu_offset", "nr_cpu_ids", "__cpu_online_mask", "current_task"],
});

export interface Task {
  readonly address: bigint;
  readonly pid: number;
  readonly tgid: number;
  /** task->comm: at most 15 characters. */
  readonly comm: string;
  readonly flags: number;
  readonly state: number;
  readonly exitState: number;
  readonly realParent: bigint;
  readonly parent: bigint;
  readonly groupLeader: bigint;
  readonly mm: bigint;
  readonly activeMm: bigint;
  readonly realCred: bigint;
  readonly cred: bigint;
  readonly files: bigint;
  /** PF_KTHREAD set. */
  readonly kernelThread: boolean;
}

export interface Process extends Task {
  /** real_parent's tgid (0 for swapper, init and kthreadd); null when unreadable. */
  readonly ppid: number | null;
  readonly creds: Cred | null;
  /** __pa(mm->pgd); null for kernel threads (no mm) or when unreadable. */
  readonly dtb: bigint | null;
}

function taskWindow(k: LinuxKernel): Window {
  const b = k.bound(TASKS);
  return windowOfStruct(b.m.task_struct);
}

/** thread_group.next of each decoded task (from its window), to skip empty thread rings. */
const threadGroupNext = new WeakMap<Task, bigint>();

export function decodeTask(k: LinuxKernel, v: StructView): Task {
  const o = k.bound(TASKS).m.task_struct;
  const t: Task = {
    address: v.addr,
    pid: v.i32(o.pid.offset),
    tgid: v.i32(o.tgid.offset),
    comm: v.str(o.comm.offset, o.comm.size),
    flags: v.u32(o.flags.offset),
    state: v.u32(o.__state.offset),
    exitState: v.u32(o.exit_state.offset),
    realParent: v.ptr(o.real_parent.offset),
    parent: v.ptr(o.parent.offset),
    groupLeader: v.ptr(o.group_leader.offset),
    mm: v.ptr(o.mm.offset),
    activeMm: v.ptr(o.active_mm.offset),
    realCred: v.ptr(o.real_cred.offset),
    cred: v.ptr(o.cred.offset),
    files: v.ptr(o.files.offset),
    kernelThread: (v.u32(o.flags.offset) & PF_KTHREAD) !== 0,
  };
  threadGroupNext.set(t, v.ptr(o.thread_group.offset));
  return t;
}

/** Tasks at the given addresses, in one batch. */
export async function readTasks(k: LinuxKernel, addrs: readonly bigint[]): Promise<(Task | WalkError)[]> {
  const views = await readViews(k.vmi, addrs, taskWindow(k));
  return views.map((v) => (v instanceof VmiError ? walkReadError("tasks", v, "task_struct") : decodeTask(k, v)));
}

async function readTask(k: LinuxKernel, addr: bigint, walker: string): Promise<Task> {
  const [t] = await readTasks(k, [addr]);
  if (t instanceof WalkError) throw new WalkError("WALK_INVALID_ADDRESS", walker, t.message, t.details, { cause: t.cause });
  return t!;
}

/** Tasks on a list threaded through `task_struct.<member>` starting at `head`. */
async function tasksOnList(k: LinuxKernel, head: bigint, member: "tasks" | "thread_group", walker: string, limit: number): Promise<Task[]> {
  const b = k.bound(TASKS);
  const off = b.o.task_struct[member];
  const w = taskWindow(k);
  const nodes = await walkList(k.vmi, head, { walker, limit, window: { from: w.from - off, len: w.len } });
  return nodes.map((n) => decodeTask(k, new StructView(containerOf(n.node, off), n.view.bytes, w.from)));
}

export interface ListTasksOptions {
  /** Include init_task (swapper/0) first (default true). */
  readonly swapper?: boolean;
  /** Add every leader's other threads after it (default false). */
  readonly threads?: boolean;
}

/** The task list from init_task, in list order (Volatility `list_tasks`). */
export async function listTasks(k: LinuxKernel, opts: ListTasksOptions = {}): Promise<Task[]> {
  const b = k.bound(TASKS);
  const init = b.sym.init_task;
  // swapper/0 is read alongside the walk; a failing walk is reported first, as if one after the other.
  const [leaders, swapper] = await settledInOrder([
    tasksOnList(k, init + BigInt(b.o.task_struct.tasks), "tasks", "tasks", k.limits.maxTasks),
    (opts.swapper ?? true) ? readTask(k, init, "tasks") : Promise.resolve(undefined),
  ] as const);
  const all = swapper !== undefined ? [swapper, ...leaders] : leaders;
  if (!opts.threads) return all;
  // The idle task's thread_group is its own; every other ring is walked at once.
  const threads = await settledInOrder(all.map((t) => (t.pid === 0 ? Promise.resolve([]) : listThreads(k, t))));
  return all.flatMap((t, i) => [t, ...threads[i]!]);
}

/** The other threads of a thread-group leader (its thread_group ring, leader excluded). */
export async function listThreads(k: LinuxKernel, leader: Task): Promise<Task[]> {
  const b = k.bound(TASKS);
  const head = leader.address + BigInt(b.o.task_struct.thread_group);
  // The leader's window holds the ring's next pointer: an empty ring needs no read.
  if (threadGroupNext.get(leader) === head) return [];
  return tasksOnList(k, head, "thread_group", "threads", k.limits.maxThreads);
}

/** Awaits all; throws the first failure in list order (as awaiting them one by one would). */
async function settledInOrder<T extends readonly unknown[]>(ps: { readonly [K in keyof T]: Promise<T[K]> }): Promise<{ -readonly [K in keyof T]: T[K] }> {
  const rs = await Promise.allSettled(ps);
  for (const r of rs) if (r.status === "rejected") throw r.reason;
  return rs.map((r) => (r as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: T[K] };
}

/** Online CPU numbers (from __cpu_online_mask, bounded by nr_cpu_ids and the limit). */
export async function onlineCpus(k: LinuxKernel): Promise<number[]> {
  const b = k.bound(PER_CPU);
  const nr = await k.vmi.u32({ kind: "kva", addr: b.sym.nr_cpu_ids }).catch((e: unknown) => {
    if (e instanceof VmiError) throw walkReadError("per-cpu", e, "nr_cpu_ids");
    throw e;
  });
  const n = Math.min(nr, k.limits.maxCpus);
  const words = await k.vmi.u64Array({ kind: "kva", addr: b.sym.__cpu_online_mask }, Math.ceil(Math.max(n, 1) / 64)).catch((e: unknown) => {
    if (e instanceof VmiError) throw walkReadError("per-cpu", e, "__cpu_online_mask");
    throw e;
  });
  const out: number[] = [];
  for (let c = 0; c < n; c++) if (((words[c >> 6]! >> BigInt(c & 63)) & 1n) !== 0n) out.push(c);
  // The boot CPU is always online: an empty mask is damage, so every possible CPU is looked at.
  return out.length > 0 ? out : Array.from({ length: n }, (_, c) => c);
}

/** __per_cpu_offset[cpu] for each CPU asked. */
export async function perCpuOffsets(k: LinuxKernel, cpus: readonly number[]): Promise<bigint[]> {
  const b = k.bound(PER_CPU);
  if (cpus.length === 0) return [];
  const max = Math.max(...cpus);
  const all = await k.vmi.u64Array({ kind: "kva", addr: b.sym.__per_cpu_offset }, max + 1).catch((e: unknown) => {
    if (e instanceof VmiError) throw walkReadError("per-cpu", e, "__per_cpu_offset");
    throw e;
  });
  return cpus.map((c) => all[c]!);
}

export interface CpuTask {
  readonly cpu: number;
  readonly task: Task;
}

/** Each online CPU's current task (per-CPU current_task): the idle task on a halted CPU. */
export async function currentTasks(k: LinuxKernel): Promise<CpuTask[]> {
  const b = k.bound(PER_CPU);
  const cpus = await onlineCpus(k);
  const offs = await perCpuOffsets(k, cpus);
  const ptrs = await k.vmi.readManySettled(offs.map((o) => ({ ctx: { kind: "kva" as const, addr: k.perCpu(o, b.sym.current_task) }, len: 8 })));
  const addrs: bigint[] = ptrs.map((p, i) => {
    if (p instanceof VmiError) throw walkReadError("per-cpu", p, `current_task of CPU ${cpus[i]}`);
    const v = new StructView(0n, p!).u64(0);
    if (!isKernelPointer(v)) throw badPointer("per-cpu", k.perCpu(offs[i]!, b.sym.current_task), v, "current_task");
    return v;
  });
  const tasks = await readTasks(k, addrs);
  return tasks.map((t, i) => {
    if (t instanceof WalkError) throw t;
    return { cpu: cpus[i]!, task: t };
  });
}

/** ppid, credentials and DTB of each task, read in three batches. */
export async function describeTasks(k: LinuxKernel, tasks: readonly Task[]): Promise<Process[]> {
  const b = k.bound(PROCESSES);
  const t = k.bound(TASKS);
  const parents = await k.vmi.readManySettled(tasks.map((x) => ({ ctx: { kind: "kva" as const, addr: x.realParent + BigInt(t.o.task_struct.tgid) }, len: 4 })));
  const creds = await readCreds(k, tasks.map((x) => x.cred));
  const withMm = tasks.map((x, i) => ({ x, i })).filter(({ x }) => x.mm !== 0n && !x.kernelThread);
  const pgds = await k.vmi.readManySettled(withMm.map(({ x }) => ({ ctx: { kind: "kva" as const, addr: x.mm + BigInt(b.o.mm_struct.pgd) }, len: 8 })));
  const dtbs = new Map<number, bigint | null>();
  withMm.forEach(({ i }, j) => {
    const p = pgds[j]!;
    dtbs.set(i, p instanceof VmiError ? null : (k.pa(new StructView(0n, p).u64(0)) ?? null));
  });
  return tasks.map((x, i) => {
    const p = parents[i]!;
    const c = creds[i]!;
    return {
      ...x,
      ppid: p instanceof VmiError ? null : new StructView(0n, p).i32(0),
      creds: c instanceof WalkError ? null : c,
      dtb: dtbs.get(i) ?? null,
    };
  });
}

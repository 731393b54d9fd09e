/**
 * task_struct, struct pid and struct cred as copy_process / alloc_pid / prepare_creds
 * leave them, and their links: the task list (init_task.tasks, list_add_tail_rcu), the
 * parent's children list (sibling), the pid IDR (init_pid_ns.idr) and the pid's task
 * hlists (pid->tasks[PIDTYPE_PID/TGID] ← task->pid_links[]).
 */
import type { Kernel } from "../model/kernel.js";
import type { Cred, Task, TaskState } from "../model/types.js";
import { StructBuf, u32Bytes, u64Bytes } from "../mem/kmem.js";
import { NICE_0_INV_WEIGHT, NICE_0_LOAD, bindSe } from "./sched.js";

/** include/linux/sched.h */
export const TASK_RUNNING = 0;
export const TASK_INTERRUPTIBLE = 1;
export const TASK_IDLE = 0x402; // TASK_UNINTERRUPTIBLE | TASK_NOLOAD
export const PF_IDLE = 0x2;
export const PF_FORKNOEXEC = 0x40;
export const PF_NOFREEZE = 0x8000;
export const PF_KTHREAD = 0x200000;
export const PF_RANDOMIZE = 0x400000;
const SIGCHLD = 17;
const PIDTYPE_PID = 0;
const PIDTYPE_TGID = 1;
const PIDNS_ADDING = 0x80000000;
/** CAP_FULL_SET for 6.1 (CAP_LAST_CAP 40). */
export const CAP_FULL_SET = (1n << 41n) - 1n;

export function stateValue(s: TaskState): number {
  return s === "R" ? TASK_RUNNING : s === "S" ? TASK_INTERRUPTIBLE : TASK_IDLE;
}

export interface NewTask {
  readonly va: bigint;
  readonly kind: Task["kind"];
  readonly pid: number;
  readonly comm: string;
  readonly argv: readonly string[];
  readonly parent: Task | null;
  readonly cred: Cred;
  readonly cpu: number;
  readonly state: TaskState;
  readonly pidVa: bigint;
  readonly filesVa: Task["files"];
  readonly fsVa: bigint;
  readonly pinned: boolean;
}

export function makeTask(k: Kernel, n: NewTask): Task {
  const t = k.t;
  const task: Task = {
    id: k.newTaskId(),
    va: n.va,
    kind: n.kind,
    pid: n.pid,
    tgid: n.pid,
    comm: n.comm.slice(0, 15),
    argv: n.argv,
    parent: n.parent,
    children: [],
    cred: n.cred,
    mm: null,
    files: n.filesVa,
    fsVa: n.fsVa,
    pidVa: n.pidVa,
    cpu: n.cpu,
    state: n.state,
    phase: "creating",
    pinned: n.pinned,
    hidden: false,
    startTimeNs: k.clockNs,
    se: {
      va: n.va + BigInt(t.o("task_struct", "se") + t.o("sched_entity", "run_node")),
      key: 0n,
      parent: null,
      left: null,
      right: null,
      red: false,
    },
    onRq: false,
  };
  n.cred.refs++;
  bindSe(task);
  return task;
}

/** The whole task_struct (links to other objects included; list neighbours written by linkTask). */
export function writeTaskStruct(k: Kernel, task: Task): void {
  const t = k.t;
  const b = new StructBuf(t.size("task_struct"));
  const o = (m: Parameters<typeof t.o<"task_struct">>[1]): number => t.o("task_struct", m);
  const self = (off: number): bigint => task.va + BigInt(off);
  b.u32(o("thread_info.cpu"), task.cpu);
  b.u32(o("__state"), stateValue(task.state));
  b.u32(o("usage"), 1);
  const flags = task.kind === "idle" ? PF_IDLE | PF_KTHREAD : task.kind === "kthread" ? PF_KTHREAD | PF_NOFREEZE | PF_FORKNOEXEC : PF_RANDOMIZE;
  b.u32(o("flags"), flags);
  b.i32(o("on_cpu"), 0);
  b.i32(o("recent_used_cpu"), task.cpu);
  b.i32(o("wake_cpu"), task.cpu);
  b.i32(o("on_rq"), task.onRq ? 1 : 0);
  const prio = task.kind === "idle" ? 140 : 120;
  b.i32(o("prio"), prio);
  b.i32(o("static_prio"), prio);
  b.i32(o("normal_prio"), prio);
  const se = o("se");
  b.u64(se + t.o("sched_entity", "load.weight"), NICE_0_LOAD);
  b.u32(se + t.o("sched_entity", "load.inv_weight"), NICE_0_INV_WEIGHT);
  b.u64(se + t.o("sched_entity", "vruntime"), task.se.key);
  b.u64(o("sched_class"), k.addr.ksym(task.kind === "idle" ? "idle_sched_class" : "fair_sched_class"));
  b.u32(o("policy"), 0);
  b.i32(o("nr_cpus_allowed"), k.cfg.layout.vcpus);
  const initMm = k.addr.ksym("init_mm");
  b.u64(o("mm"), task.mm === null ? 0n : task.mm.va);
  b.u64(o("active_mm"), task.mm === null ? initMm : task.mm.va);
  b.i32(o("exit_signal"), task.kind === "idle" ? 0 : SIGCHLD);
  b.i32(o("pid"), task.pid);
  b.i32(o("tgid"), task.tgid);
  b.u64(o("stack_canary"), k.rng.bigint(1n << 64n));
  const parentVa = task.parent === null ? task.va : task.parent.va;
  b.u64(o("real_parent"), parentVa);
  b.u64(o("parent"), parentVa);
  // children: empty list head; sibling/tasks are written by linkTask.
  b.u64(o("children") + t.o("list_head", "next"), self(o("children")));
  b.u64(o("children") + t.o("list_head", "prev"), self(o("children")));
  b.u64(o("sibling") + t.o("list_head", "next"), self(o("sibling")));
  b.u64(o("sibling") + t.o("list_head", "prev"), self(o("sibling")));
  b.u64(o("tasks") + t.o("list_head", "next"), self(o("tasks")));
  b.u64(o("tasks") + t.o("list_head", "prev"), self(o("tasks")));
  b.u64(o("group_leader"), task.va);
  b.u64(o("thread_pid"), task.pidVa);
  if (task.kind !== "idle") {
    const tasksOff = BigInt(t.o("pid", "tasks"));
    for (const type of [PIDTYPE_PID, PIDTYPE_TGID]) {
      const link = o("pid_links") + type * t.size("hlist_node");
      b.u64(link + t.o("hlist_node", "next"), 0n);
      b.u64(link + t.o("hlist_node", "pprev"), task.pidVa + tasksOff + BigInt(type * 8) + BigInt(t.o("hlist_head", "first")));
    }
  }
  for (const l of [o("thread_group"), o("thread_node")]) {
    b.u64(l + t.o("list_head", "next"), self(l));
    b.u64(l + t.o("list_head", "prev"), self(l));
  }
  b.u64(o("start_time"), task.startTimeNs);
  b.u64(o("start_boottime"), task.startTimeNs);
  b.u64(o("real_cred"), task.cred.va);
  b.u64(o("cred"), task.cred.va);
  b.str(o("comm"), task.comm, 15);
  b.u64(o("fs"), task.fsVa);
  b.u64(o("files"), task.files.va);
  b.u64(o("nsproxy"), k.addr.ksym("init_nsproxy"));
  k.mem.write(task.va, b.bytes);
}

/** struct pid with one upid (level 0, init_pid_ns) and the task on its PID/TGID hlists. */
export function writePid(k: Kernel, task: Task): void {
  const t = k.t;
  const b = new StructBuf(t.size("pid") + t.size("upid"));
  b.u32(t.o("pid", "count"), 1);
  b.u32(t.o("pid", "level"), 0);
  const tasks = t.o("pid", "tasks");
  for (const type of [PIDTYPE_PID, PIDTYPE_TGID]) {
    b.u64(tasks + type * 8 + t.o("hlist_head", "first"), task.va + BigInt(t.o("task_struct", "pid_links") + type * t.size("hlist_node")));
  }
  const num = t.o("pid", "numbers");
  b.i32(num + t.o("upid", "nr"), task.pid);
  b.u64(num + t.o("upid", "ns"), k.addr.ksym("init_pid_ns"));
  k.mem.write(task.pidVa, b.bytes);
}

export function writeCred(k: Kernel, c: Cred): void {
  const t = k.t;
  const b = new StructBuf(t.size("cred"));
  b.u64(t.o("cred", "usage"), BigInt(Math.max(c.refs, 1) * 2));
  b.u32(t.o("cred", "uid"), c.uid);
  b.u32(t.o("cred", "gid"), c.gid);
  b.u32(t.o("cred", "suid"), c.uid);
  b.u32(t.o("cred", "sgid"), c.gid);
  b.u32(t.o("cred", "euid"), c.euid);
  b.u32(t.o("cred", "egid"), c.egid);
  b.u32(t.o("cred", "fsuid"), c.euid);
  b.u32(t.o("cred", "fsgid"), c.egid);
  const caps = c.euid === 0 ? CAP_FULL_SET : 0n;
  b.u64(t.o("cred", "cap_inheritable"), 0n);
  b.u64(t.o("cred", "cap_permitted"), caps);
  b.u64(t.o("cred", "cap_effective"), caps);
  b.u64(t.o("cred", "cap_bset"), CAP_FULL_SET);
  b.u64(t.o("cred", "user"), k.addr.ksym("root_user"));
  b.u64(t.o("cred", "user_ns"), k.addr.ksym("init_user_ns"));
  k.mem.write(c.va, b.bytes);
}

export function newCred(k: Kernel, uid: number, gid: number): Cred {
  return { va: k.alloc("cred"), uid, gid, euid: uid, egid: gid, refs: 0 };
}

/** Links a built task: task list tail, parent's children, pid IDR. Marks it live. */
export function linkTask(k: Kernel, task: Task): void {
  const t = k.t;
  if (task.parent !== null) {
    task.parent.children.push(task);
    k.childList(task.parent).addTail(k.mem, task.va + BigInt(t.o("task_struct", "sibling")));
  }
  k.idr.insert(k.mem, task.pid, task.pidVa);
  writePidAllocated(k);
  k.taskList.addTail(k.mem, task.va + BigInt(t.o("task_struct", "tasks")));
  k.byPid.set(task.pid, task);
  task.phase = "live";
}

/** Unlinks a task (release_task): out of the task list, its parent's children, the IDR. */
export function unlinkTask(k: Kernel, task: Task): void {
  const t = k.t;
  task.phase = "exiting";
  if (!task.hidden) k.taskList.remove(k.mem, task.va + BigInt(t.o("task_struct", "tasks")), "poison");
  if (task.parent !== null) {
    const i = task.parent.children.indexOf(task);
    if (i >= 0) task.parent.children.splice(i, 1);
    k.childList(task.parent).remove(k.mem, task.va + BigInt(t.o("task_struct", "sibling")), "init");
  }
  k.idr.erase(k.mem, task.pid);
  writePidAllocated(k);
  k.byPid.delete(task.pid);
}

export function writePidAllocated(k: Kernel): void {
  const ns = k.addr.ksym("init_pid_ns");
  k.mem.write(ns + BigInt(k.t.o("pid_namespace", "pid_allocated")), u32Bytes(PIDNS_ADDING | k.idr.size));
}

export function writeTaskState(k: Kernel, task: Task): void {
  k.mem.write(task.va + BigInt(k.t.o("task_struct", "__state")), u32Bytes(stateValue(task.state)));
}

export function writeTaskCred(k: Kernel, task: Task): void {
  const t = k.t;
  k.mem.write(task.va + BigInt(t.o("task_struct", "real_cred")), u64Bytes(task.cred.va));
  k.mem.write(task.va + BigInt(t.o("task_struct", "cred")), u64Bytes(task.cred.va));
}

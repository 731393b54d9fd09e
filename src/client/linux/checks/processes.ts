/**
 * RDMI policies 1 and 2.
 * hidden-processes: the task list (leaders and threads) against the pid IDR, the run queues
 *   and the per-CPU current tasks; a task the scheduler or the pid allocator knows but the
 *   list does not is hidden (DKOM unlinking).
 * credentials: escalation signs — a user task running on init_cred, distinct processes
 *   sharing one root cred (subjective or objective), a root process whose parent is not
 *   root (neither itself a set-uid-root program, like su, nor the child of one), root ids without any capability (ids overwritten
 *   in place: the kernel grants root its capabilities unless SECBIT_NOROOT), a non-root
 *   task holding every capability.
 */
import { VmiError, kva } from "../../vmi/index.js";
import { CAP_FULL_SET, ROOT_UID } from "../constants.js";
import type { LinuxKernel } from "../kernel.js";
import { WalkError } from "../errors.js";
import { requirements } from "../requirements.js";
import { PID_IDR, listPids } from "../walkers/pid-idr.js";
import { RUNQUEUES, listRunQueues } from "../walkers/runqueues.js";
import { PER_CPU, PROCESSES, TASKS, currentTasks, describeTasks, listTasks, readTasks, type Process, type Task } from "../walkers/tasks.js";
import { type IntegrityCheck, type Finding, finder, hex } from "./check.js";

const name = (t: Task): string => `pid ${t.pid} (${t.comm})`;

export const hiddenProcesses: IntegrityCheck = {
  name: "hidden-processes",
  version: "1.0.0",
  policy: 1,
  description: "Task list vs pid IDR and run queues: tasks known to the kernel but missing from the list",
  requirements: [TASKS, PID_IDR, RUNQUEUES, PER_CPU],
  async run(ctx) {
    const k = ctx.kernel;
    const f = finder(this.name);
    // The four views are read at once; a failure is reported in this order, as if one after the other.
    const views = [listTasks(k, { threads: true }), currentTasks(k), listPids(k), listRunQueues(k)] as const;
    for (const v of views) v.catch(() => undefined);
    const listed = await views[0];
    // Only the list is the view under test. The per-CPU current tasks are a source like the
    // run queues: a hidden process that is running is current somewhere and must not count
    // as listed because of it.
    const known = new Set(listed.map((t) => t.address));
    const current = new Map<bigint, string>();
    for (const c of await views[1]) current.set(c.task.address, `current on CPU ${c.cpu}`);
    const findings: Finding[] = [];
    const pids = await views[2];
    const byTask = new Map<bigint, number>();
    for (const p of pids) if (p.task !== null) byTask.set(p.task, p.nr);
    const rqs = await views[3];
    const rqTasks = new Map<bigint, string>(current);
    for (const rq of rqs) {
      rqTasks.set(rq.curr, `curr of CPU ${rq.cpu}`);
      rqTasks.set(rq.idle, `idle of CPU ${rq.cpu}`);
      for (const t of rq.queued) rqTasks.set(t, `queued on CPU ${rq.cpu}`);
    }
    const idrOnly = [...byTask.keys()].filter((a) => !known.has(a));
    const rqOnly = [...rqTasks.keys()].filter((a) => a !== 0n && !known.has(a) && !byTask.has(a));
    const unknown = [...idrOnly, ...rqOnly];
    const read = await readTasks(k, unknown);
    unknown.forEach((a, i) => {
      const t = read[i]!;
      const label = t instanceof WalkError ? `task ${hex(a)}` : name(t);
      const where = byTask.has(a) ? `in the pid IDR as ${byTask.get(a)}` : `on a run queue (${rqTasks.get(a)})`;
      // Idle tasks of other CPUs are reached through the run queues, not the list: not hidden.
      if (!(t instanceof WalkError) && t.pid === 0 && rqTasks.get(a)?.startsWith("idle")) return;
      findings.push(f("high", label, `${where} but not in the task list`, a));
    });
    for (const t of listed) {
      if (t.pid !== 0 && !byTask.has(t.address) && t.exitState === 0) findings.push(f("medium", name(t), "in the task list but not in the pid IDR", t.address));
    }
    return { findings, note: `${listed.length} tasks listed, ${pids.length} pids, ${rqs.length} run queues` };
  },
};

const CRED_SYMS = requirements("credentials", {
  members: { mm_struct: ["exe_file"], file: ["f_inode"], inode: ["i_mode", "i_uid"] },
  symbols: ["init_cred"],
  uses: [PROCESSES],
});

/** S_ISUID (include/uapi/linux/stat.h). */
const S_ISUID = 0o4000;

/** Whether the task runs a set-uid-root executable (su, sudo: root by design, whatever the parent). */
async function runsSetuidRoot(k: LinuxKernel, mm: bigint): Promise<boolean> {
  const b = k.bound(CRED_SYMS);
  try {
    const exe = await k.vmi.pointer(kva(mm + BigInt(b.o.mm_struct.exe_file)));
    if (exe === 0n) return false;
    const inode = await k.vmi.pointer(kva(exe + BigInt(b.o.file.f_inode)));
    const mode = await k.vmi.u16(kva(inode + BigInt(b.o.inode.i_mode)));
    const uid = await k.vmi.u32(kva(inode + BigInt(b.o.inode.i_uid)));
    return (mode & S_ISUID) !== 0 && uid === ROOT_UID;
  } catch (e) {
    if (e instanceof VmiError) return false;
    throw e;
  }
}

const isRoot = (p: Process): boolean => p.creds !== null && (p.creds.uid === ROOT_UID || p.creds.euid === ROOT_UID);
/** include/uapi/linux/securebits.h: SECBIT_NOROOT. */
const SECBIT_NOROOT = 1;

export const credentials: IntegrityCheck = {
  name: "credentials",
  version: "1.0.0",
  policy: 2,
  description: "Credential escalation: init_cred on user tasks, shared root creds, root children of non-root parents, full capabilities without root",
  requirements: [CRED_SYMS],
  async run(ctx) {
    const k = ctx.kernel;
    const f = finder(this.name);
    const initCred = k.bound(CRED_SYMS).sym.init_cred;
    const procs = await describeTasks(k, await listTasks(k, { threads: true }));
    const byAddr = new Map(procs.map((p) => [p.address, p]));
    const findings: Finding[] = [];
    const owners = new Map<bigint, Process[]>();
    for (const p of procs) for (const c of new Set([p.realCred, p.cred])) owners.set(c, [...(owners.get(c) ?? []), p]);
    for (const p of procs) {
      if (p.pid === 0) continue;
      const user = !p.kernelThread;
      if (user && (p.cred === initCred || p.realCred === initCred)) {
        findings.push(f("high", name(p), "a user process runs with init_cred (the kernel's own credentials)", p.cred));
      }
      const c = p.creds;
      if (c === null) continue;
      if (user && c.uid === ROOT_UID) {
        const parent = byAddr.get(p.realParent);
        const pc = parent?.creds;
        if (parent && parent.pid !== 0 && pc && pc.uid !== ROOT_UID && pc.euid !== ROOT_UID && pc.suid !== ROOT_UID && !(await runsSetuidRoot(k, p.mm))) {
          findings.push(f("high", name(p), `runs as root but its parent ${name(parent)} is uid ${pc.uid} and not set-uid root`, p.address));
        }
      }
      if (user && c.uid === ROOT_UID && c.euid === ROOT_UID && c.capPermitted === 0n && c.capEffective === 0n && (c.securebits & SECBIT_NOROOT) === 0) {
        findings.push(f("high", name(p), "has root ids but no capabilities: its ids were overwritten in place, not granted by the kernel", p.cred));
      }
      if (c.uid !== ROOT_UID && c.euid !== ROOT_UID && (c.capEffective & CAP_FULL_SET) === CAP_FULL_SET) {
        findings.push(f("medium", name(p), `uid ${c.uid} holds every capability (0x${c.capEffective.toString(16)})`, p.cred));
      }
    }
    for (const [cred, ps] of owners) {
      const groups = new Set(ps.map((p) => p.tgid));
      if (groups.size < 2 || cred === initCred) continue;
      const root = ps.find((p) => isRoot(p));
      if (!root) continue;
      for (const p of ps) {
        if (p.tgid === root.tgid || p.kernelThread) continue;
        findings.push(f("high", name(p), `shares its credentials (${hex(cred)}) with root ${name(root)}`, cred));
      }
    }
    return { findings, note: `${procs.length} tasks` };
  },
};

/**
 * Per-CPU run queues (kernel/sched/sched.h `struct rq` at runqueues + __per_cpu_offset):
 * curr, idle, and the CFS tasks queued in the rb-tree (descending into group entities'
 * own cfs_rq when CONFIG_FAIR_GROUP_SCHED puts tasks in task groups).
 */
import { VmiError } from "../../vmi/index.js";
import { walkCorrupt, walkLimit, walkReadError } from "../errors.js";
import type { LinuxKernel } from "../kernel.js";
import { requirements } from "../requirements.js";
import { readViews, windowOf } from "../struct-view.js";
import { containerOf } from "./list.js";
import { RBTREE, walkRbTree } from "./rbtree.js";
import { PER_CPU, onlineCpus, perCpuOffsets } from "./tasks.js";

export const RUNQUEUES = requirements("runqueues", {
  members: {
    rq: ["nr_running", "cfs", "curr", "idle", "cpu"],
    cfs_rq: ["nr_running", "tasks_timeline"],
    rb_root_cached: ["rb_root"],
    rb_root: ["rb_node"],
    sched_entity: ["run_node", "my_q"],
    task_struct: ["se"],
  },
  symbols: ["runqueues"],
  uses: [PER_CPU, RBTREE],
});

export interface RunQueue {
  readonly cpu: number;
  readonly rq: bigint;
  readonly nrRunning: number;
  readonly curr: bigint;
  readonly idle: bigint;
  /** Tasks queued on the CFS tree(s), in vruntime order per tree. */
  readonly queued: readonly bigint[];
}

async function cfsTasks(k: LinuxKernel, cfsRq: bigint, depth: number, budget: { left: number }): Promise<bigint[]> {
  const b = k.bound(RUNQUEUES);
  if (depth > 16) throw walkLimit("runqueues", 16, cfsRq);
  let root: bigint;
  try {
    root = await k.vmi.pointer({ kind: "kva", addr: cfsRq + BigInt(b.o.cfs_rq.tasks_timeline + b.o.rb_root_cached.rb_root + b.o.rb_root.rb_node) });
  } catch (e) {
    if (e instanceof VmiError) throw walkReadError("runqueues", e, "cfs_rq");
    throw e;
  }
  const nodes = await walkRbTree(k, root, "runqueues");
  budget.left -= nodes.length;
  if (budget.left < 0) throw walkLimit("runqueues", k.limits.maxTreeNodes);
  const ses = nodes.map((n) => containerOf(n, b.o.sched_entity.run_node));
  const views = await readViews(k.vmi, ses, windowOf([b.m.sched_entity.my_q]));
  const out: bigint[] = [];
  for (let i = 0; i < ses.length; i++) {
    const v = views[i]!;
    if (v instanceof VmiError) throw walkReadError("runqueues", v, "sched_entity");
    const myQ = v.ptr(b.o.sched_entity.my_q);
    if (myQ === 0n) out.push(containerOf(ses[i]!, b.o.task_struct.se));
    else out.push(...(await cfsTasks(k, myQ, depth + 1, budget)));
  }
  return out;
}

export async function listRunQueues(k: LinuxKernel): Promise<RunQueue[]> {
  const b = k.bound(RUNQUEUES);
  const cpus = await onlineCpus(k);
  const offs = await perCpuOffsets(k, cpus);
  const rqs = offs.map((o) => k.perCpu(o, b.sym.runqueues));
  const views = await readViews(k.vmi, rqs, windowOf([b.m.rq.nr_running, b.m.rq.curr, b.m.rq.idle, b.m.rq.cpu]));
  const budget = { left: k.limits.maxTreeNodes };
  const out: RunQueue[] = [];
  for (let i = 0; i < cpus.length; i++) {
    const v = views[i]!;
    if (v instanceof VmiError) throw walkReadError("runqueues", v, "rq");
    if (v.i32(b.o.rq.cpu) !== cpus[i]) throw walkCorrupt("runqueues", rqs[i]!, `rq of CPU ${cpus[i]} says cpu ${v.i32(b.o.rq.cpu)}`);
    out.push({
      cpu: cpus[i]!,
      rq: rqs[i]!,
      nrRunning: v.u32(b.o.rq.nr_running),
      curr: v.ptr(b.o.rq.curr),
      idle: v.ptr(b.o.rq.idle),
      queued: await cfsTasks(k, rqs[i]! + BigInt(b.o.rq.cfs), 0, budget),
    });
  }
  return out;
}

/** `ps`: thread-group leaders from the task list (plus swapper/0), Volatility's pslist. */
import type { Column, Row } from "../../output/index.js";
import type { LinuxKernel } from "../kernel.js";
import { PROCESSES, describeTasks, listTasks, type Process } from "../walkers/tasks.js";
import type { Plugin } from "./plugin.js";

export interface PsOptions {
  /** Also list non-leader threads (default false). */
  readonly threads?: boolean;
}

export const PS_COLUMNS: readonly Column[] = [
  { name: "pid", type: "int" },
  { name: "ppid", type: "int" },
  { name: "uid", type: "int" },
  { name: "comm", type: "string", description: "task->comm (15 characters at most)" },
  { name: "task", type: "address", description: "struct task_struct" },
  { name: "dtb", type: "address", description: "__pa(mm->pgd); none for kernel threads" },
];

export function psRow(p: Process): Row {
  return { pid: p.pid, ppid: p.ppid, uid: p.creds?.uid ?? null, comm: p.comm, task: p.address, dtb: p.dtb };
}

export async function processes(k: LinuxKernel, threads = false): Promise<Process[]> {
  return describeTasks(k, await listTasks(k, { threads }));
}

export const ps: Plugin<PsOptions> = {
  name: "ps",
  version: "1.0.0",
  description: "Processes from the task list (thread-group leaders and swapper/0)",
  requirements: [PROCESSES],
  columns: PS_COLUMNS,
  async *run(k, o) {
    for (const p of await processes(k, o.threads ?? false)) yield psRow(p);
  },
};

/** `pstree`: the ps list as a tree by parent (real_parent's tgid), children by pid. */
import type { Row } from "../../output/index.js";
import { PROCESSES, type Process } from "../walkers/tasks.js";
import type { Plugin } from "./plugin.js";
import { processes } from "./ps.js";

/** Processes in tree order with their depth (cycle-safe: each process appears once). */
export function treeOrder(list: readonly Process[]): { p: Process; depth: number }[] {
  const byPid = new Map<number, Process>();
  for (const p of list) if (!byPid.has(p.pid)) byPid.set(p.pid, p);
  const kids = new Map<number, Process[]>();
  const roots: Process[] = [];
  for (const p of byPid.values()) {
    const parent = p.ppid === null || p.ppid === p.pid ? undefined : byPid.get(p.ppid);
    if (parent === undefined) roots.push(p);
    else kids.set(parent.pid, [...(kids.get(parent.pid) ?? []), p]);
  }
  const out: { p: Process; depth: number }[] = [];
  const seen = new Set<number>();
  const byPidOrder = (a: Process, b: Process): number => a.pid - b.pid;
  const stack = roots.sort(byPidOrder).reverse().map((p) => ({ p, depth: 0 }));
  while (stack.length > 0) {
    const x = stack.pop()!;
    if (seen.has(x.p.pid)) continue;
    seen.add(x.p.pid);
    out.push(x);
    for (const c of [...(kids.get(x.p.pid) ?? [])].sort(byPidOrder).reverse()) stack.push({ p: c, depth: x.depth + 1 });
  }
  // Anything left is on a parent cycle: list it at the top level.
  for (const p of byPid.values()) if (!seen.has(p.pid)) out.push({ p, depth: 0 });
  return out;
}

export const pstree: Plugin<Record<string, never>> = {
  name: "pstree",
  version: "1.0.0",
  description: "Processes as a tree by parent",
  requirements: [PROCESSES],
  columns: [
    { name: "depth", type: "int" },
    { name: "pid", type: "int" },
    { name: "ppid", type: "int" },
    { name: "uid", type: "int" },
    { name: "comm", type: "string" },
    { name: "task", type: "address" },
  ],
  indent: { column: "comm", by: "depth" },
  async *run(k) {
    for (const { p, depth } of treeOrder(await processes(k))) {
      const row: Row = { depth, pid: p.pid, ppid: p.ppid, uid: p.creds?.uid ?? null, comm: p.comm, task: p.address };
      yield row;
    }
  },
};

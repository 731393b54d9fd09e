/**
 * Ground truth: what really is in the guest, hidden things included — produced from the
 * model's own bookkeeping, never by reading guest memory back. Tests and benchmarks
 * compare the client's findings against it; the host writes it to `--ground-truth FILE`
 * whenever all VMPL1 vCPUs are paused and at exit.
 */
import { renameSync, writeFileSync } from "node:fs";
import { REAL_UTSNAME, REAL_LINUX_BANNER } from "./data/real-kernel-data.generated.js";
import { LOAD_PHYSICAL_ADDR } from "./layout/placement.js";
import type { Kernel } from "./model/kernel.js";
import type { Task } from "./model/types.js";
import { currentIdt, currentSyscallTable } from "./rootkits/state.js";
import type { ScenarioRecord } from "./rootkits/registry.js";
import type { Workload } from "./workload/workload.js";

export const GROUND_TRUTH_FORMAT = "00seven-guest-ground-truth/1";

/** Addresses are "0x…" strings in the JSON. */
export type Hex = string;

export interface GtProcess {
  readonly pid: number;
  readonly tgid: number;
  readonly ppid: number;
  readonly comm: string;
  readonly argv: readonly string[];
  readonly kind: "user" | "kthread";
  readonly uid: number;
  readonly euid: number;
  readonly gid: number;
  readonly state: string;
  readonly task: Hex;
  /** Physical address of the process's PGD (CR3 without flags); null for kernel threads. */
  readonly dtb: Hex | null;
  readonly mm: Hex | null;
  readonly cred: Hex;
  readonly cpu: number;
  readonly onRunQueue: boolean;
  /** In the init_task.tasks list (false when a rootkit unlinked it). */
  readonly inTaskList: boolean;
  readonly hidden: boolean;
  readonly pinned: boolean;
  readonly phase: string;
  readonly files: readonly { readonly fd: number; readonly path: string; readonly fops: string; readonly file: Hex }[];
  readonly vmas: readonly { readonly start: Hex; readonly end: Hex; readonly flags: Hex; readonly name: string; readonly file: string | null }[];
}

export interface GroundTruth {
  readonly format: typeof GROUND_TRUTH_FORMAT;
  /**
   * True when memory holds everything the model planned (no write of a process change, a
   * schedule or a scenario still pending): then memory and this document agree exactly.
   */
  readonly quiescent: boolean;
  readonly kernel: {
    readonly release: string;
    readonly banner: string;
    readonly kaslr: boolean;
    readonly virtualSlide: Hex;
    /** PA(_text) − CONFIG_PHYSICAL_START (0 with nokaslr). */
    readonly physicalSlide: Hex;
    readonly textVa: Hex;
    readonly textPa: Hex;
    readonly physBase: Hex;
    readonly pageOffsetBase: Hex;
    readonly vmallocBase: Hex;
    readonly vmemmapBase: Hex;
    readonly initTopPgt: Hex;
    readonly moduleBase: Hex;
    readonly idtr: Hex;
  };
  readonly vcpus: readonly { readonly cpu: number; readonly gsBase: Hex; readonly current: number; readonly currentTask: Hex; readonly runnable: readonly number[] }[];
  readonly processes: readonly GtProcess[];
  readonly idleTasks: readonly { readonly cpu: number; readonly comm: string; readonly task: Hex }[];
  readonly modules: readonly {
    readonly name: string;
    readonly base: Hex;
    readonly size: number;
    readonly struct: Hex;
    readonly hiddenFromList: boolean;
    readonly hiddenFromKset: boolean;
    readonly rootkit: boolean;
    /** module.sig_ok and module.taints as loaded. */
    readonly sigOk: boolean;
    readonly taints: number;
  }[];
  readonly builtinKobjects: readonly string[];
  readonly syscallTable: { readonly va: Hex; readonly entries: readonly Hex[] };
  readonly idt: { readonly va: Hex; readonly gates: readonly { readonly handler: Hex; readonly ist: number; readonly dpl: number }[] };
  readonly lstar: readonly Hex[];
  readonly hooks: readonly { readonly kind: string; readonly target: string; readonly address: Hex | null; readonly original: Hex; readonly current: Hex; readonly owner: string | null; readonly rootkit: string }[];
  readonly scenarios: readonly ScenarioRecord[];
  readonly inFlight: readonly { readonly pid: number; readonly op: string }[];
  readonly stats: Readonly<Record<string, number>>;
}

export const hex = (v: bigint): Hex => `0x${BigInt.asUintN(64, v).toString(16)}`;

/** What a GuestKernel exposes to the ground-truth builder. */
export interface GroundTruthSource {
  readonly kernel: Kernel;
  readonly workload: Workload;
  readonly scenarios: readonly ScenarioRecord[];
  stats(): object;
  quiescent(): boolean;
}

interface Named {
  readonly name: string;
  readonly parent: Named | null;
}

function pathOf(d: Named | null): string {
  const parts: string[] = [];
  let cur = d;
  while (cur !== null && cur.parent !== null) {
    parts.unshift(cur.name);
    cur = cur.parent;
  }
  return "/" + parts.join("/");
}

function gtProcess(_k: Kernel, t: Task): GtProcess {
  return {
    pid: t.pid,
    tgid: t.tgid,
    ppid: t.parent === null ? 0 : t.parent.tgid,
    comm: t.comm,
    argv: t.argv,
    kind: t.kind === "user" ? "user" : "kthread",
    uid: t.cred.uid,
    euid: t.cred.euid,
    gid: t.cred.gid,
    state: t.state,
    task: hex(t.va),
    dtb: t.mm === null ? null : hex(t.mm.pgd.rootPa),
    mm: t.mm === null ? null : hex(t.mm.va),
    cred: hex(t.cred.va),
    cpu: t.cpu,
    onRunQueue: t.onRq,
    inTaskList: !t.hidden && t.phase !== "exiting",
    hidden: t.hidden,
    pinned: t.pinned,
    phase: t.phase,
    files: t.files.isStatic
      ? []
      : t.files.fds.flatMap((f, fd) => (f === null ? [] : [{ fd, path: pathOf(f.dentry), fops: f.fopsSymbol, file: hex(f.va) }])),
    vmas:
      t.mm === null
        ? []
        : t.mm.vmas.map((v) => ({ start: hex(v.start), end: hex(v.end), flags: hex(v.flags), name: v.name, file: v.file === null ? null : pathOf(v.file.dentry) })),
  };
}

export function groundTruth(src: GroundTruthSource): GroundTruth {
  const k = src.kernel;
  const w = src.workload;
  const tasks = [...k.tasks.values()];
  const procs = tasks.filter((t) => t.kind !== "idle").sort((a, b) => a.pid - b.pid);
  return {
    format: GROUND_TRUTH_FORMAT,
    quiescent: src.quiescent(),
    kernel: {
      release: REAL_UTSNAME.release,
      banner: REAL_LINUX_BANNER,
      kaslr: k.p.kaslr,
      virtualSlide: hex(k.p.virtSlide),
      physicalSlide: hex(k.p.physText - LOAD_PHYSICAL_ADDR),
      textVa: hex(k.addr.textVa),
      textPa: hex(k.p.physText),
      physBase: hex(k.p.physBase),
      pageOffsetBase: hex(k.p.pageOffsetBase),
      vmallocBase: hex(k.p.vmallocBase),
      vmemmapBase: hex(k.p.vmemmapBase),
      initTopPgt: hex(k.kpt.rootPa),
      moduleBase: hex(k.p.moduleBase),
      idtr: hex(0xfffffe0000000000n),
    },
    vcpus: k.rqs.map((rq) => ({
      cpu: rq.cpu,
      gsBase: hex(k.perCpuBase[rq.cpu]!),
      current: rq.curr.pid,
      currentTask: hex(rq.curr.va),
      runnable: rq.runnable().map((t) => t.pid),
    })),
    processes: procs.map((t) => gtProcess(k, t)),
    idleTasks: k.idle.map((t) => ({ cpu: t.cpu, comm: t.comm, task: hex(t.va) })),
    modules: k.modules.map((m) => ({
      name: m.name,
      base: hex(m.base),
      size: m.size,
      struct: hex(m.va),
      hiddenFromList: m.hiddenFromList,
      hiddenFromKset: m.hiddenFromKset,
      rootkit: m.rootkit,
      sigOk: m.sigOk,
      taints: Number(m.taints),
    })),
    builtinKobjects: k.builtins.map((b) => b.name),
    syscallTable: { va: hex(k.addr.ksym("sys_call_table")), entries: currentSyscallTable(k).map(hex) },
    idt: { va: hex(k.addr.ksym("idt_table")), gates: currentIdt(k).map((g) => ({ handler: hex(g.handler), ist: g.ist, dpl: g.dpl })) },
    lstar: k.rqs.map((rq) => hex(k.lstar[rq.cpu] ?? k.addr.ksym("entry_SYSCALL_64"))),
    hooks: k.hooks.map((h) => ({
      kind: h.kind,
      target: h.target,
      address: h.address === undefined ? null : hex(h.address),
      original: hex(h.original),
      current: hex(h.current),
      owner: h.owner ?? null,
      rootkit: h.rootkit,
    })),
    scenarios: src.scenarios,
    inFlight: [...w.inflight.entries()].map(([id, op]) => ({ pid: k.tasks.get(id)?.pid ?? -1, op })),
    stats: src.stats() as Record<string, number>,
  };
}

/** JSON with bigints as hex (scenario outcomes may carry bigints). */
export function groundTruthJson(gt: GroundTruth): string {
  return JSON.stringify(gt, (_k, v: unknown) => (typeof v === "bigint" ? hex(v) : v), 2);
}

/** Writes the document atomically (temporary file, then rename). */
export function writeGroundTruth(path: string, gt: GroundTruth): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, groundTruthJson(gt) + "\n");
  renameSync(tmp, path);
}

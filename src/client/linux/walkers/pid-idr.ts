/**
 * pid → task through the pid namespace's IDR (an XArray of `struct pid *`, lib/xarray.c):
 * a bounded, cycle-safe, level-by-level walk (all nodes of a level read in one batch).
 * Entries: NULL; internal entries (low bits 10): nodes when above 4096, else sibling,
 * retry and zero markers (skipped); value entries (low bit 1, skipped); anything else is
 * a pointer. A pid's task is `pid->tasks[PIDTYPE_PID].first` minus the offset of
 * `task_struct.pid_links[PIDTYPE_PID]`.
 */
import { VmiError } from "../../vmi/index.js";
import { PIDTYPE_PID, isKernelPointer } from "../constants.js";
import { badPointer, walkCorrupt, walkCycle, walkLimit, walkReadError } from "../errors.js";
import type { LinuxKernel } from "../kernel.js";
import { requirements } from "../requirements.js";
import { readViews, windowOf } from "../struct-view.js";
import { containerOf } from "./list.js";

export const PID_IDR = requirements("pid-idr", {
  members: {
    pid_namespace: ["idr", "level"],
    idr: ["idr_rt", "idr_base"],
    xarray: ["xa_head"],
    xa_node: ["shift", "offset", "count", "parent", "slots"],
    pid: ["level", "tasks", "numbers"],
    upid: ["nr"],
    hlist_head: ["first"],
    task_struct: ["pid_links"],
  },
  symbols: ["init_pid_ns"],
  sizes: ["upid", "hlist_head", "hlist_node"],
});

export interface XaEntry {
  readonly index: bigint;
  readonly value: bigint;
}

function isNode(e: bigint): boolean {
  return (e & 3n) === 2n && e > 4096n;
}

/** Pointer entries of an XArray whose `xa_head` is at `headAddr`, by index. */
export async function walkXArray(k: LinuxKernel, headAddr: bigint, walker = "xarray"): Promise<XaEntry[]> {
  const b = k.bound(PID_IDR);
  const xo = b.m.xa_node;
  const slots = xo.slots.type.kind === "array" ? xo.slots.type.count : 64;
  const chunkShift = BigInt(Math.round(Math.log2(slots)));
  let head: bigint;
  try {
    head = await k.vmi.pointer({ kind: "kva", addr: headAddr });
  } catch (e) {
    if (e instanceof VmiError) throw walkReadError(walker, e, "xa_head");
    throw e;
  }
  const out: XaEntry[] = [];
  if (head === 0n) return out;
  if (!isNode(head)) {
    if ((head & 3n) === 0n) out.push({ index: 0n, value: head });
    return out;
  }
  const win = windowOf([xo.shift, xo.offset, xo.count, xo.parent, { offset: xo.slots.offset, size: slots * 8 }]);
  const seen = new Set<bigint>();
  let level: { node: bigint; base: bigint; parent: bigint; expectShift: number | undefined }[] = [{ node: head - 2n, base: 0n, parent: 0n, expectShift: undefined }];
  let visited = 0;
  for (let depth = 0; level.length > 0; depth++) {
    if (depth > k.limits.maxTreeDepth || depth > 16) throw walkLimit(walker, Math.min(k.limits.maxTreeDepth, 16));
    for (const n of level) {
      if (seen.has(n.node)) throw walkCycle(walker, n.node);
      seen.add(n.node);
    }
    visited += level.length;
    if (visited > k.limits.maxTreeNodes) throw walkLimit(walker, k.limits.maxTreeNodes);
    const views = await readViews(k.vmi, level.map((n) => n.node), win);
    const next: typeof level = [];
    views.forEach((v, i) => {
      const n = level[i]!;
      if (v instanceof VmiError) throw walkReadError(walker, v, "xa_node");
      const shift = v.u8(xo.shift.offset);
      if (shift % Number(chunkShift) !== 0 || shift > 64 - Number(chunkShift) || (n.expectShift !== undefined && shift !== n.expectShift)) {
        throw walkCorrupt(walker, n.node, `xa_node.shift ${shift}`);
      }
      if (n.parent !== 0n && v.ptr(xo.parent.offset) !== n.parent) throw walkCorrupt(walker, n.node, "xa_node.parent does not point back");
      for (let s = 0; s < slots; s++) {
        const e = v.ptr(xo.slots.offset + s * 8);
        if (e === 0n) continue;
        const index = n.base + (BigInt(s) << BigInt(shift));
        if (isNode(e)) {
          if (shift === 0) throw walkCorrupt(walker, n.node, "node entry below the last level");
          next.push({ node: e - 2n, base: index, parent: n.node, expectShift: shift - Number(chunkShift) });
        } else if ((e & 3n) === 0n) {
          if (!isKernelPointer(e)) throw badPointer(walker, v.field(xo.slots.offset + s * 8), e, "xarray slot");
          out.push({ index, value: e });
        }
      }
    });
    level = next;
  }
  return out.sort((a, c) => (a.index < c.index ? -1 : a.index > c.index ? 1 : 0));
}

export interface PidEntry {
  /** The number in this namespace (IDR index + idr_base). */
  readonly nr: number;
  /** The struct pid. */
  readonly pid: bigint;
  /** The task using it as PIDTYPE_PID, or null (a pid kept alive only as a pgid/sid). */
  readonly task: bigint | null;
}

/** Every allocated pid of a namespace (init_pid_ns by default) with its task. */
export async function listPids(k: LinuxKernel, ns?: bigint): Promise<PidEntry[]> {
  const b = k.bound(PID_IDR);
  const nsAddr = ns ?? b.sym.init_pid_ns;
  const idr = nsAddr + BigInt(b.o.pid_namespace.idr);
  let idrBase: number;
  let level: number;
  try {
    idrBase = await k.vmi.u32({ kind: "kva", addr: idr + BigInt(b.o.idr.idr_base) });
    level = await k.vmi.u32({ kind: "kva", addr: nsAddr + BigInt(b.o.pid_namespace.level) });
  } catch (e) {
    if (e instanceof VmiError) throw walkReadError("pid-idr", e, "pid namespace");
    throw e;
  }
  if (level > 32) throw walkCorrupt("pid-idr", nsAddr, `pid namespace level ${level}`);
  const entries = await walkXArray(k, idr + BigInt(b.o.idr.idr_rt) + BigInt(b.o.xarray.xa_head), "pid-idr");
  const pidWin = windowOf([
    { offset: b.o.pid.tasks + PIDTYPE_PID * b.size.hlist_head + b.o.hlist_head.first, size: 8 },
    { offset: b.o.pid.numbers + level * b.size.upid + b.o.upid.nr, size: 4 },
  ]);
  const views = await readViews(k.vmi, entries.map((e) => e.value), pidWin);
  const linkOff = b.o.task_struct.pid_links + PIDTYPE_PID * b.size.hlist_node;
  return entries.map((e, i) => {
    const v = views[i]!;
    if (v instanceof VmiError) throw walkReadError("pid-idr", v, "struct pid");
    const first = v.ptr(b.o.pid.tasks + PIDTYPE_PID * b.size.hlist_head + b.o.hlist_head.first);
    const nr = Number(e.index) + idrBase;
    const stored = v.i32(b.o.pid.numbers + level * b.size.upid + b.o.upid.nr);
    if (stored !== nr) throw walkCorrupt("pid-idr", e.value, `struct pid says ${stored} at IDR index ${nr}`);
    if (first !== 0n && !isKernelPointer(first)) throw badPointer("pid-idr", e.value, first, "pid->tasks[PIDTYPE_PID].first");
    return { nr, pid: e.value, task: first === 0n ? null : containerOf(first, linkOff) };
  });
}


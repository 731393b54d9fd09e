/**
 * Process creation and exit (kernel_clone + exec, do_exit + release_task) in terms of the
 * structure builders: objects are written first, links last, so a process is never
 * reachable half-built; on exit the links go first. Used by boot and by the workload.
 */
import type { Kernel } from "../model/kernel.js";
import type { FileSpec, ProcSpec } from "../model/population.js";
import type { Cred, FilesStruct, OpenFile, Task } from "../model/types.js";
import { freeDentry, newFile, writeFileCount, writeFilesStruct, writeFsStruct } from "./files.js";
import { BINARIES, createMm, freeMm } from "./mm.js";
import { realTable, refVa } from "./static-data.js";
import { linkTask, makeTask, newCred, unlinkTask, writeCred, writePid, writeTaskStruct } from "./task.js";

/** RESERVED_PIDS: cyclic allocation wraps to here. */
export const RESERVED_PIDS = 300;

export function fopsVa(k: Kernel, symbol: string): bigint {
  return refVa(k, { sym: symbol, addr: realTable(symbol).addr });
}

function openFiles(k: Kernel, files: readonly FileSpec[], cred: Cred): (OpenFile | null)[] {
  const fds: (OpenFile | null)[] = [k.consoleFile, k.consoleFile, k.consoleFile];
  k.consoleFile.refs += 3;
  writeFileCount(k, k.consoleFile);
  for (const f of files) {
    const of = newFile(k, f.path, f.fops, fopsVa(k, f.fops), f.flags, cred, f.shared === true);
    of.refs = 1;
    writeFileCount(k, of);
    fds.push(of);
  }
  return fds;
}

export interface SpawnOptions {
  readonly spec: ProcSpec;
  readonly parent: Task;
  readonly cpu: number;
  /** A fixed pid (boot) or the next cyclic one. */
  readonly pid?: number;
}

/** Builds and links one process; returns it live (not yet on a run queue). */
export function spawn(k: Kernel, o: SpawnOptions): Task {
  const s = o.spec;
  const pid = o.pid ?? k.idr.chooseCyclic(RESERVED_PIDS, k.pidMax);
  k.idr.next = pid + 1;
  const va = k.alloc("task_struct");
  const pidVa = k.alloc("pid");
  let cred: Cred;
  let files: FilesStruct;
  let fsVa: bigint;
  if (s.kind === "kthread") {
    cred = k.initCred;
    files = k.initFiles;
    k.initFiles.refs++;
    fsVa = k.addr.ksym("init_fs");
  } else {
    cred = newCred(k, s.uid, s.uid === 0 ? 0 : s.uid);
    // Fillers share names: their private log files get the pid in the name.
    const fds = openFiles(k, s.files.map((f) => (!s.pinned && f.shared !== true ? { ...f, path: f.path.replace(/\.log$/, `.${pid}.log`) } : f)), cred);
    files = { va: k.alloc("files_struct"), isStatic: false, fds, refs: 1 };
    fsVa = k.alloc("fs_struct");
  }
  const task = makeTask(k, {
    va,
    kind: s.kind,
    pid,
    comm: s.comm,
    argv: s.argv,
    parent: o.parent,
    cred,
    cpu: o.cpu,
    state: s.state,
    pidVa,
    filesVa: files,
    fsVa,
    pinned: s.pinned,
  });
  if (s.kind === "user") {
    writeCred(k, cred);
    writeFilesStruct(k, files);
    writeFsStruct(k, fsVa, 1);
    const bin = BINARIES[s.binary] ?? BINARIES["busybox"]!;
    task.mm = createMm(k, { binary: bin, argv: s.argv, cred, ownerVa: va });
  }
  writePid(k, task);
  writeTaskStruct(k, task);
  linkTask(k, task);
  k.addTask(task);
  return task;
}

/** Unlinks and frees a process (it must have no children and not be on a run queue). */
export function reap(k: Kernel, task: Task): void {
  unlinkTask(k, task);
  releaseTask(k, task);
}

/**
 * Frees what an unlinked task owned (its task_struct, pid, cred, mm, files): after this
 * the memory may be reused, so the caller must no longer run on the task's page tables.
 */
export function releaseTask(k: Kernel, task: Task): void {
  k.removeTask(task);
  if (task.mm !== null) {
    const exe = task.mm.exeFile;
    freeMm(k, task.mm);
    exe.dentry.refs--;
  }
  if (!task.files.isStatic) {
    for (const f of task.files.fds) {
      if (f === null) continue;
      f.refs--;
      if (f === k.consoleFile) continue;
      if (f.refs <= 0) {
        f.dentry.refs--;
        k.free("filp", f.va);
        freeDentry(k, pathOf(f));
      }
    }
    writeFileCount(k, k.consoleFile);
    k.free("files_struct", task.files.va);
    k.free("fs_struct", task.fsVa);
  }
  task.cred.refs--;
  if (task.cred.refs <= 0 && task.cred !== k.initCred) k.free("cred", task.cred.va);
  k.free("pid", task.pidVa);
  k.free("task_struct", task.va);
}

function pathOf(f: OpenFile): string {
  const parts: string[] = [];
  for (let d: OpenFile["dentry"] | null = f.dentry; d !== null && d.parent !== null; d = d.parent) parts.unshift(d.name);
  return "/" + parts.join("/");
}

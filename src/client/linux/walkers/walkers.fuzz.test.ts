/**
 * Property: whatever garbage the guest's memory holds, every walker ends — with its
 * result or a WalkError (typed: walker, address, layer) — and runChecks ends with a
 * report (a failed walk is a check "error"), never a hang or another exception.
 * And the same walkers give the same results and the same errors whether the driver
 * chases pointers (GatherList) and reads pages with their frames, or not.
 */
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { testProfile } from "../testing/profile.js";
import { SyntheticKernel } from "../testing/synthetic-kernel.js";
import { LinuxError } from "../errors.js";
import type { LinuxKernel } from "../kernel.js";
import { currentTasks, describeTasks, listTasks } from "./tasks.js";
import { listPids } from "./pid-idr.js";
import { listRunQueues } from "./runqueues.js";
import { listModuleKset, listModules } from "./modules.js";
import { listVmas } from "./maple-tree.js";
import { listOpenFiles } from "./files.js";
import { walkProcTree } from "./procfs.js";
import { ALL_CHECKS, runChecks } from "../checks/run.js";

const RUNS = Number(process.env.SEVEN_FUZZ_RUNS ?? 200);

let s: SyntheticKernel;
let k: LinuxKernel;
/** The same memory through an agent-like driver: with GatherList and framed reads, and without (the older v1 path). */
let gathering: LinuxKernel;
let plain: LinuxKernel;
let targets: { va: bigint; size: number }[];

before(async () => {
  s = new SyntheticKernel(await testProfile(), { virtSlide: 0x1000000n, physText: 0x2000000n });
  const init = s.addProcess({ pid: 1, comm: "init", exe: "/init" });
  for (let i = 0; i < 6; i++) {
    const p = s.addProcess({ pid: 100 + i, comm: `p${i}`, exe: `/bin/p${i}`, parent: init, uid: i });
    if (i % 2 === 0) s.addThread(p, 200 + i, `t${i}`);
  }
  s.addProcess({ pid: 70, comm: "kworker" });
  s.addModule("m1");
  s.addModule("m2");
  const rq = s.perCpu[0]! + s.unslid("runqueues");
  const node = (t: bigint): bigint => t + s.off("task_struct", "se") + s.off("sched_entity", "run_node");
  s.u64(rq + s.off("rq", "cfs") + s.off("cfs_rq", "tasks_timeline"), s.rbTree([...s.tasks.values()].slice(0, 5).map(node)));
  const limits = { maxTasks: 4096, maxListLength: 4096, maxTreeNodes: 1 << 14, maxFds: 1 << 12, maxVmas: 4096 };
  k = await s.kernel({ limits });
  gathering = (await s.remoteKernel({ limits })).kernel;
  plain = (await s.remoteKernel({ limits }, { frames: false, gather: false })).kernel;
  const image = (name: string, struct: string) => ({ va: s.sym(name), size: s.p.sizeOf(struct) });
  targets = [
    ...s.allocations.filter((a) => a.size <= 0x4000),
    image("init_task", "task_struct"),
    image("init_pid_ns", "pid_namespace"),
    image("modules", "list_head"),
    image("proc_root", "proc_dir_entry"),
    image("init_net", "net"),
    image("init_files", "files_struct"),
  ];
});

/** A value a corrupted pointer-sized field might hold. */
function value(): fc.Arbitrary<(self: bigint) => bigint> {
  const someTarget = fc.nat().map((i) => () => targets[i % targets.length]!.va);
  return fc.oneof(
    fc.constant(() => 0n),
    fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((v) => () => v),
    fc.bigInt({ min: 0n, max: 4096n }).map((v) => () => v),
    fc.constant((self: bigint) => self),
    fc.tuple(someTarget, fc.nat(0x400)).map(([t, o]) => () => t() + BigInt(o & ~7)),
    fc.constant(() => 0xffffc90000400000n), // unmapped kernel space
    fc.bigInt({ min: 0n, max: 0xffffn }).map((v) => () => 0xffff888000000000n + v * 0x1000n + 2n), // xarray/maple-looking
  );
}

const corruption = fc.array(fc.tuple(fc.nat(), fc.nat(), value()), { minLength: 1, maxLength: 6 });

async function ends<T>(p: Promise<T>): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof LinuxError, `a walker threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
}

async function withCorruption(list: readonly [number, number, (self: bigint) => bigint][], body: () => Promise<void>): Promise<void> {
  const saved: [bigint, bigint][] = [];
  for (const [ti, off, v] of list) {
    const t = targets[ti % targets.length]!;
    const at = t.va + BigInt((off % Math.max(1, Math.floor(t.size / 8))) * 8);
    saved.push([at, s.read64(at)]);
    s.u64(at, v(at));
  }
  try {
    await body();
  } finally {
    for (const [at, old] of saved.reverse()) s.u64(at, old);
  }
}

/** A walk's result, or its error as data (code, message, details). */
async function outcome(p: Promise<unknown>): Promise<unknown> {
  try {
    return { ok: await p };
  } catch (e) {
    if (e instanceof LinuxError) return { error: e.code, message: e.message, details: e.details };
    throw e;
  }
}

/** Every walker (and the checks) on one kernel view. */
function walks(kk: LinuxKernel): (() => Promise<unknown>)[] {
  const names = ALL_CHECKS.map((c) => c.name).filter((n) => n !== "kernel-text");
  return [
    () => listTasks(kk, { threads: true }).then((ts) => describeTasks(kk, ts)),
    () => currentTasks(kk),
    () => listPids(kk),
    () => listRunQueues(kk),
    () => listModules(kk),
    () => listModuleKset(kk),
    () => walkProcTree(kk, s.sym("proc_root")),
    ...[...s.tasks.values()].slice(0, 3).flatMap((t) => [
      () => listVmas(kk, s.read64(t + s.off("task_struct", "mm"))),
      () => listOpenFiles(kk, s.read64(t + s.off("task_struct", "files"))),
    ]),
    () => runChecks(kk, names).then((r) => ({ ...r, ms: 0, checks: r.checks.map((c) => ({ ...c, ms: 0 })) })),
  ];
}

describe("walkers over corrupted kernel memory", () => {
  it("give the same results and errors with pointer chasing and framed reads in the driver", async () => {
    await fc.assert(
      fc.asyncProperty(corruption, async (list) => {
        await withCorruption(list, async () => {
          gathering.vmi.invalidate();
          plain.vmi.invalidate();
          const [a, b, c] = [walks(k), walks(plain), walks(gathering)];
          for (let i = 0; i < a.length; i++) {
            const local = await outcome(a[i]!());
            assert.deepEqual(await outcome(b[i]!()), local, `walk ${i}, the driver walking page tables`);
            assert.deepEqual(await outcome(c[i]!()), local, `walk ${i}, with GatherList and framed reads`);
          }
        });
      }),
      { numRuns: Math.max(10, Math.floor(RUNS / 4)) },
    );
  });

  it("end with a result or a WalkError", async () => {
    await fc.assert(
      fc.asyncProperty(corruption, async (list) => {
        await withCorruption(list, async () => {
          await ends(listTasks(k, { threads: true }).then((ts) => describeTasks(k, ts)));
          await ends(currentTasks(k));
          await ends(listPids(k));
          await ends(listRunQueues(k));
          await ends(listModules(k));
          await ends(listModuleKset(k));
          await ends(walkProcTree(k, s.sym("proc_root")));
          for (const t of [...s.tasks.values()].slice(0, 3)) {
            await ends(listVmas(k, s.read64(t + s.off("task_struct", "mm"))));
            await ends(listOpenFiles(k, s.read64(t + s.off("task_struct", "files"))));
          }
        });
      }),
      { numRuns: RUNS },
    );
  });

  it("leave runChecks with a report", async () => {
    const names = ALL_CHECKS.map((c) => c.name).filter((n) => n !== "kernel-text");
    await fc.assert(
      fc.asyncProperty(corruption, async (list) => {
        await withCorruption(list, async () => {
          const r = await runChecks(k, names);
          assert.equal(r.checks.length, names.length);
          for (const c of r.checks) if (c.status === "error") assert.match(c.error!.code, /^[A-Z_]+$/);
        });
      }),
      { numRuns: Math.max(10, Math.floor(RUNS / 4)) },
    );
  });

  it("end on whole objects of random bytes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.uint8Array({ minLength: 64, maxLength: 4096 }), async (ti, bytes) => {
        const t = targets[ti % targets.length]!;
        const n = Math.min(bytes.length, t.size);
        const old = s.mem.peek(s.pa(t.va), n);
        s.write(t.va, bytes.subarray(0, n));
        try {
          await ends(listTasks(k, { threads: true }));
          await ends(listPids(k));
          await ends(listModules(k));
          await ends(listModuleKset(k));
          await ends(listRunQueues(k));
        } finally {
          s.write(t.va, old);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

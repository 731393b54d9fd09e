/**
 * Walkers on a synthetic kernel: what they return on well-formed structures (threads,
 * multi-level XArrays, run-queue trees, modules, paths across mounts), and the typed
 * error each kind of damage ends in (Volatility's InvalidAddressException: walker, layer,
 * address) — never a hang.
 */
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { testProfile } from "../testing/profile.js";
import { SyntheticKernel, type SyntheticView } from "../testing/synthetic-kernel.js";
import { WalkError } from "../errors.js";
import { listTasks, listThreads, describeTasks, currentTasks, onlineCpus } from "./tasks.js";
import { listPids } from "./pid-idr.js";
import { listRunQueues } from "./runqueues.js";
import { listModuleKset, listModules } from "./modules.js";
import { listVmas } from "./maple-tree.js";
import { dentryPaths, listOpenFiles } from "./files.js";
import { walkRbTree } from "./rbtree.js";
import { walkList } from "./list.js";
import { walkProcTree } from "./procfs.js";
import { mmDtb } from "./mm.js";

/** Every test runs twice: reading memory locally, and through an agent-like driver that chases pointers (GatherList) and reads pages with their frames. */
const VIEWS: readonly SyntheticView[] = ["local", "agent"];
let view: SyntheticView = "local";

async function world() {
  const s = new SyntheticKernel(await testProfile(), { virtSlide: 0x4000000n, physText: 0x3000000n, view });
  const init = s.addProcess({ pid: 1, comm: "init", exe: "/init" });
  const a = s.addProcess({ pid: 10, comm: "alpha", exe: "/bin/alpha", parent: init });
  const b = s.addProcess({ pid: 11, comm: "beta", parent: init });
  return { s, init, a, b };
}

async function rejectsWith(p: Promise<unknown>, code: string, walker?: string): Promise<WalkError> {
  let err: unknown;
  await assert.rejects(p, (e: unknown) => {
    err = e;
    return e instanceof WalkError && e.code === code && (walker === undefined || e.walker === walker);
  });
  return err as WalkError;
}

for (const v of VIEWS) {
  describe(v === "local" ? "memory read locally" : "memory read through an agent-like driver", () => {
    before(() => {
      view = v;
    });

    describe("task walkers", () => {
      it("list leaders in list order with swapper/0 first, threads after their leader", async () => {
        const { s, a } = await world();
        s.addThread(a, 12, "alpha-t1");
        s.addThread(a, 13, "alpha-t2");
        const k = await s.kernel();
        assert.deepEqual((await listTasks(k)).map((t) => [t.pid, t.tgid, t.comm]), [[0, 0, "swapper/0"], [1, 1, "init"], [10, 10, "alpha"], [11, 11, "beta"]]);
        assert.deepEqual((await listTasks(k, { threads: true })).map((t) => t.pid), [0, 1, 10, 12, 13, 11]);
        const leader = (await listTasks(k)).find((t) => t.pid === 10)!;
        assert.deepEqual((await listThreads(k, leader)).map((t) => [t.pid, t.tgid]), [[12, 10], [13, 10]]);
        const ps = await describeTasks(k, await listTasks(k));
        assert.deepEqual(ps.map((p) => p.ppid), [0, 0, 1, 1]);
        assert.equal(ps[2]!.dtb, await mmDtb(k, ps[2]!.mm));
        assert.equal(ps[3]!.dtb, null, "kernel thread");
        assert.equal(ps[3]!.kernelThread, true);
        assert.deepEqual((await currentTasks(k)).map((c) => [c.cpu, c.task.comm]), [[0, "swapper/0"], [1, "swapper/1"]]);
        // An empty online mask cannot be (the boot CPU is always online): every CPU is looked at.
        s.u64(s.sym("__cpu_online_mask"), 0n);
        assert.deepEqual(await onlineCpus(k), [0, 1]);
      });

      it("ends a list that loops without passing the head in WALK_CYCLE", async () => {
        const { s, init, a } = await world();
        const off = s.off("task_struct", "tasks");
        s.u64(a + off, init + off); // alpha → init → alpha → …
        const e = await rejectsWith(listTasks(await s.kernel()), "WALK_CYCLE", "tasks");
        assert.equal(e.details["address"], init + off);
      });

      it("ends a list with a non-kernel pointer in WALK_BAD_POINTER", async () => {
        const { s, a } = await world();
        s.u64(a + s.off("task_struct", "tasks"), 0x41414141n);
        const e = await rejectsWith(listTasks(await s.kernel()), "WALK_BAD_POINTER", "tasks");
        assert.equal(e.details["value"], 0x41414141n);
        assert.equal(e.details["address"], a + s.off("task_struct", "tasks"));
      });

      it("ends a list whose next is unmapped in WALK_INVALID_ADDRESS with the layer and address", async () => {
        const { s, a } = await world();
        const hole = 0xffffc90000123000n; // vmalloc space, nothing mapped
        s.u64(a + s.off("task_struct", "tasks"), hole);
        const e = await rejectsWith(listTasks(await s.kernel()), "WALK_INVALID_ADDRESS", "tasks");
        assert.equal(e.details["layer"], "virtual");
        assert.equal(e.details["reason"], "PAGE_FAULT");
        assert.ok(typeof e.details["address"] === "bigint");
      });

      it("ends a list longer than the bound in WALK_LIMIT", async () => {
        const { s } = await world();
        await rejectsWith(listTasks(await s.kernel({ limits: { maxTasks: 2 } })), "WALK_LIMIT", "tasks");
        const k = await s.kernel();
        await rejectsWith(walkList(k.vmi, s.sym("modules"), { walker: "m", limit: 0 }).then(() => {
          s.addModule("one");
          return walkList(k.vmi, s.sym("modules"), { walker: "m", limit: 0 });
        }), "WALK_LIMIT", "m");
      });
    });

    describe("pid IDR", () => {
      it("resolves pids through one-, two- and three-level XArrays", async () => {
        const { s } = await world();
        for (const pid of [63, 64, 65, 4095, 4096, 70000]) s.addProcess({ pid, comm: `p${pid}` });
        const k = await s.kernel();
        const pids = await listPids(k);
        assert.deepEqual(pids.map((p) => p.nr), [1, 10, 11, 63, 64, 65, 4095, 4096, 70000]);
        for (const p of pids) assert.equal(p.task, s.tasks.get(p.nr));
      });

      it("ends in WALK_CYCLE when a node points at itself, WALK_CORRUPT on a bad shift", async () => {
        const { s } = await world();
        s.addProcess({ pid: 100, comm: "x" }); // two levels now
        const head = s.sym("init_pid_ns") + s.off("pid_namespace", "idr") + s.off("idr", "idr_rt") + s.off("xarray", "xa_head");
        const root = s.read64(head) - 2n;
        const slot = (n: bigint, i: number): bigint => n + s.off("xa_node", "slots") + BigInt(i * 8);
        const child = s.read64(slot(root, 0));
        s.u64(slot(child - 2n, 5), root | 2n);
        // The child's shift is 0, so a node entry below it is corrupt before it can loop.
        await rejectsWith(listPids(await s.kernel()), "WALK_CORRUPT", "pid-idr");
        s.u64(slot(child - 2n, 5), 0n);
        s.set(root, "xa_node", "shift", 5);
        await rejectsWith(listPids(await s.kernel()), "WALK_CORRUPT", "pid-idr");
        s.set(root, "xa_node", "shift", 6);
        s.u64(slot(root, 1), root | 2n);
        await rejectsWith(listPids(await s.kernel()), "WALK_CYCLE", "pid-idr");
      });

      it("checks that a struct pid holds the number it is filed under", async () => {
        const { s } = await world();
        s.set(s.pids.get(10)! + s.off("pid", "numbers"), "upid", "nr", 99);
        await rejectsWith(listPids(await s.kernel()), "WALK_CORRUPT", "pid-idr");
      });
    });

    describe("rb-trees and run queues", () => {
      it("returns queued tasks in tree order", async () => {
        const { s, init, a, b } = await world();
        const rq = s.perCpu[0]! + s.unslid("runqueues");
        const node = (t: bigint): bigint => t + s.off("task_struct", "se") + s.off("sched_entity", "run_node");
        s.u64(rq + s.off("rq", "cfs") + s.off("cfs_rq", "tasks_timeline"), s.rbTree([node(init), node(a), node(b)]));
        const k = await s.kernel();
        const rqs = await listRunQueues(k);
        assert.deepEqual(rqs[0]!.queued, [init, a, b]);
        assert.deepEqual(rqs[1]!.queued, []);
        assert.deepEqual(await walkRbTree(k, 0n, "x"), []);
      });

      it("ends a tree whose child points back up in WALK_CYCLE", async () => {
        const { s } = await world();
        const n = [s.alloc(24), s.alloc(24), s.alloc(24)];
        const root = s.rbTree(n);
        const k = await s.kernel();
        assert.deepEqual(await walkRbTree(k, root, "t"), n.map((x) => x));
        s.u64(n[2]! + s.off("rb_node", "rb_left"), root);
        await rejectsWith(walkRbTree(k, root, "t"), "WALK_CYCLE", "t");
        s.u64(n[2]! + s.off("rb_node", "rb_left"), 0n);
        s.u64(n[2]!, n[0]!); // right child claims another parent
        await rejectsWith(walkRbTree(k, root, "t"), "WALK_CORRUPT", "t");
      });
    });

    describe("modules", () => {
      it("lists modules and the kset (built-ins without a module)", async () => {
        const { s } = await world();
        const m1 = s.addModule("first", 0x1000, 0x3000);
        const m2 = s.addModule("second");
        const k = await s.kernel();
        // __pa knows the image and the direct map; module space only the page tables know.
        assert.equal(k.pa(s.sym("init_task")), s.pa(s.sym("init_task")));
        assert.equal(k.pa(m1.module), s.pa(m1.module));
        assert.equal(k.pa(m1.base), undefined);
        assert.equal(await k.vmi.translate({ kind: "kva", addr: m1.base }), s.pa(m1.base));
        const mods = await listModules(k);
        assert.deepEqual(mods.map((m) => [m.name, m.address, m.base, m.size, m.textSize]), [
          ["first", m1.module, m1.base, 0x3000, 0x1000],
          ["second", m2.module, m2.base, 0x4000, 0x2000],
        ]);
        assert.deepEqual((await listModuleKset(k)).map((e) => [e.name, e.module]), [["printk", null], ["first", m1.module], ["second", m2.module]]);
      });
    });

    describe("VMAs and files", () => {
      it("ends a maple tree whose node does not point back to its parent in WALK_CORRUPT", async () => {
        const { s, a } = await world();
        const mm = s.mmOf(a);
        const k = await s.kernel();
        assert.equal((await listVmas(k, mm)).length, 7);
        const root = s.read64(mm + s.off("mm_struct", "mm_mt") + s.off("maple_tree", "ma_root")) & ~0xffn;
        s.set(root, "maple_node", "parent", 0xffff888000001001n);
        await rejectsWith(listVmas(k, mm), "WALK_CORRUPT", "vmas");
      });

      it("ends a maple tree that loops in WALK_CYCLE", async () => {
        const { s, a } = await world();
        const many = Array.from({ length: 20 }, (_, i) => ({ start: 0x1000000n + BigInt(i) * 0x2000n, end: 0x1001000n + BigInt(i) * 0x2000n, flags: 1n }));
        s.setVmas(a, many);
        const mm = s.mmOf(a);
        const k = await s.kernel();
        assert.equal((await listVmas(k, mm)).length, 20);
        const enc = s.read64(mm + s.off("mm_struct", "mm_mt") + s.off("maple_tree", "ma_root"));
        const root = enc & ~0xffn;
        const leaf0 = s.read64(root + s.off("maple_range_64", "slot")) & ~0xffn;
        // Make leaf 0 an internal node whose first child is leaf 0 again.
        s.u64(root + s.off("maple_range_64", "slot"), leaf0 | (2n << 3n) | 4n);
        s.u64(leaf0 + s.off("maple_range_64", "slot"), leaf0 | (2n << 3n) | 4n);
        s.set(leaf0, "maple_node", "parent", leaf0);
        await assert.rejects(listVmas(k, mm), (e: unknown) => e instanceof WalkError && (e.code === "WALK_CYCLE" || e.code === "WALK_CORRUPT"));
      });

      it("builds paths across mounts, and bounds the descriptor table", async () => {
        const { s, a } = await world();
        // A second filesystem mounted on /dev: its root is its own parent.
        const devRoot = s.alloc(s.p.sizeOf("dentry"));
        s.set(devRoot, "dentry", "d_parent", devRoot);
        const name = s.alloc(8);
        s.cstr(name, "/");
        s.set(devRoot, "dentry", "d_name.name", name);
        s.set(devRoot, "dentry", "d_name.len", 1);
        const tty = s.dentry("ttyS0", devRoot);
        const mnt = s.alloc(s.p.sizeOf("mount"));
        s.set(mnt, "mount", "mnt_parent", s.rootMount);
        s.set(mnt, "mount", "mnt_mountpoint", s.dentry("dev"));
        s.set(mnt, "mount", "mnt.mnt_root", devRoot);
        const k = await s.kernel();
        const paths = await dentryPaths(k, [
          { dentry: tty, vfsmount: mnt + s.off("mount", "mnt") },
          { dentry: s.dentry("dev/console"), vfsmount: s.rootMount + s.off("mount", "mnt") },
          { dentry: s.rootDentry, vfsmount: s.rootMount + s.off("mount", "mnt") },
        ]);
        assert.deepEqual(paths, ["/dev/ttyS0", "/dev/console", "/"]);
        const files = await listOpenFiles(k, s.get(a, "task_struct", "files"));
        assert.deepEqual(files.map((f) => [f.fd, f.path]), [[0, "/dev/console"], [1, "/dev/console"], [2, "/dev/console"], [10, "/bin/alpha"]]);
        const fdt = s.get(s.get(a, "task_struct", "files"), "files_struct", "fdt");
        s.set(fdt, "fdtable", "max_fds", 1 << 20);
        await rejectsWith(listOpenFiles(k, s.get(a, "task_struct", "files")), "WALK_LIMIT", "files");
      });

      it("ends a dentry chain that never reaches a root in WALK_LIMIT", async () => {
        const { s } = await world();
        const x = s.alloc(s.p.sizeOf("dentry"));
        const y = s.alloc(s.p.sizeOf("dentry"));
        s.set(x, "dentry", "d_parent", y);
        s.set(y, "dentry", "d_parent", x);
        await rejectsWith(dentryPaths(await s.kernel({ limits: { maxPathDepth: 8 } }), [{ dentry: x, vfsmount: 0n }]), "WALK_LIMIT", "files");
      });
    });

    describe("procfs", () => {
      it("walks /proc/net with paths", async () => {
        const { s } = await world();
        const e = await walkProcTree(await s.kernel(), s.procNet);
        assert.deepEqual(e.map((x) => x.path).sort(), ["", "tcp", "tcp6", "udp", "udp6"]);
      });
    });
  });
}

describe("round trips through an agent-like driver", () => {
  /** Driver calls of ps (tasks + ppid, creds, DTB), the thread rings and lsmod on a kernel with `n` processes (one with a thread). */
  async function calls(n: number, remote: { gather?: boolean; frames?: boolean } = {}) {
    const s = new SyntheticKernel(await testProfile(), { virtSlide: 0x4000000n, physText: 0x3000000n });
    const init = s.addProcess({ pid: 1, comm: "init", exe: "/init" });
    for (let i = 0; i < n; i++) {
      const p = s.addProcess({ pid: 100 + i, comm: `p${i}`, exe: `/bin/p${i}`, parent: init, uid: i });
      if (i === 3) s.addThread(p, 5000, "p3-t");
    }
    s.addModule("m1");
    s.addModule("m2");
    const { kernel: k, driver: d } = await s.remoteKernel({}, remote);
    const ops = async (f: () => Promise<unknown>): Promise<string[]> => {
      k.vmi.invalidate();
      const before = d.calls.length;
      await f();
      return d.calls.slice(before).map((c) => c.op).sort();
    };
    return {
      tasks: await ops(() => listTasks(k)),
      ps: await ops(async () => describeTasks(k, await listTasks(k))),
      threads: await ops(() => listTasks(k, { threads: true })),
      lsmod: await ops(() => listModules(k)),
      kset: await ops(() => listModuleKset(k)),
    };
  }

  it("lists processes, threads and modules in a constant number of exchanges, whatever the process count", async () => {
    const few = await calls(4);
    assert.deepEqual(few.tasks, ["gatherList", "readVirtFrames"], "the list with every task's window, and swapper/0");
    assert.deepEqual(few.threads, ["gatherList", "gatherList", "readVirtFrames"], "only the leader with threads walks its ring");
    assert.deepEqual(few.lsmod, ["gatherList"]);
    assert.deepEqual(few.kset, ["gatherList", "readVirtFrames", "readVirtFrames"], "the kset with names and owners, then the names and module_kset");
    assert.ok(few.ps.length <= 6, few.ps.join(" "));
    assert.deepEqual(await calls(40), few);
    // Without GatherList and frames the same walks cost calls per element.
    const [a, b] = [await calls(4, { gather: false, frames: false }), await calls(40, { gather: false, frames: false })];
    assert.ok(b.tasks.length > a.tasks.length + 30, `${a.tasks.length} → ${b.tasks.length}`);
  });
});

/** Plugins on a synthetic kernel: rows and typed columns; the hooks attach installs. */
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { testProfile } from "../testing/profile.js";
import { SyntheticKernel, type SyntheticView } from "../testing/synthetic-kernel.js";
import { LinuxError } from "../errors.js";
import { runPlugin } from "./plugin.js";
import { ps } from "./ps.js";
import { pstree, treeOrder } from "./pstree.js";
import { lsmod } from "./lsmod.js";
import { regs } from "./regs.js";
import { ALL_PLUGINS, findPlugin } from "./registry.js";
import { renderJson, renderTable } from "../../output/index.js";
import { pidVa, ksym, VmiError } from "../../vmi/index.js";
import type { Process } from "../walkers/tasks.js";

/** Every test runs twice: reading memory locally, and through an agent-like driver that chases pointers (GatherList) and reads pages with their frames. */
const VIEWS: readonly SyntheticView[] = ["local", "agent"];
let view: SyntheticView = "local";

async function world() {
  const s = new SyntheticKernel(await testProfile(), { virtSlide: 0x2000000n, physText: 0x4000000n, view });
  const init = s.addProcess({ pid: 1, comm: "init", exe: "/init" });
  const sh = s.addProcess({ pid: 50, comm: "sh", exe: "/bin/sh", parent: init, uid: 1000 });
  s.addThread(sh, 51, "sh");
  s.addProcess({ pid: 60, comm: "sleep", exe: "/bin/sleep", parent: sh, uid: 1000 });
  s.addProcess({ pid: 2, comm: "kthreadd" });
  const m = s.addModule("dummy", 0x1000, 0x5000);
  return { s, init, sh, m };
}

for (const v of VIEWS) {
  describe(v === "local" ? "memory read locally" : "memory read through an agent-like driver", () => {
    before(() => {
      view = v;
    });

    describe("plugins", () => {
      it("ps: pid, ppid, uid, comm, task, DTB per leader (threads on request)", async () => {
        const { s, sh } = await world();
        const k = await s.kernel();
        const out = await runPlugin(ps, k, {});
        assert.deepEqual(out.columns.map((c) => [c.name, c.type]), [["pid", "int"], ["ppid", "int"], ["uid", "int"], ["comm", "string"], ["task", "address"], ["dtb", "address"]]);
        assert.deepEqual(out.rows.map((r) => [r["pid"], r["ppid"], r["uid"], r["comm"]]), [[0, 0, 0, "swapper/0"], [1, 0, 0, "init"], [50, 1, 1000, "sh"], [60, 50, 1000, "sleep"], [2, 0, 0, "kthreadd"]]);
        assert.equal(out.rows[2]!["task"], sh);
        assert.equal(out.rows[2]!["dtb"], s.pa(s.get(s.mmOf(sh), "mm_struct", "pgd")));
        assert.equal(out.rows[4]!["dtb"], null);
        assert.equal(out.plugin, "ps");
        assert.equal(out.version, "1.0.0");
        assert.deepEqual((await runPlugin(ps, k, { threads: true })).rows.map((r) => r["pid"]), [0, 1, 50, 51, 60, 2]);
        const table = renderTable(out);
        assert.match(table.split("\n")[0]!, /^PID\s+PPID\s+UID\s+COMM\s+TASK\s+DTB$/);
        assert.match(table, /\n\s+50\s+1\s+1000\s+sh\s+0xffff8880[0-9a-f]{8}\s+0x[0-9a-f]{16}\n/);
        const json = JSON.parse(renderJson(out, { plugin: out.plugin })) as { plugin: string; rows: Record<string, unknown>[] };
        assert.equal(json.plugin, "ps");
        assert.deepEqual(json.rows[4], { pid: 2, ppid: 0, uid: 0, comm: "kthreadd", task: "0x" + s.tasks.get(2)!.toString(16), dtb: null });
      });

      it("pstree: depth-first by pid, indented for people", async () => {
        const { s } = await world();
        const out = await runPlugin(pstree, await s.kernel(), {});
        assert.deepEqual(out.rows.map((r) => [r["depth"], r["pid"]]), [[0, 0], [1, 1], [2, 50], [3, 60], [1, 2]]);
        assert.match(renderTable(out), /\n\s+3\s+60\s+50\s+1000\s+    └ sleep/);
      });

      it("pstree survives a parent cycle", () => {
        const p = (pid: number, ppid: number): Process => ({ pid, ppid, comm: `p${pid}` }) as unknown as Process;
        const order = treeOrder([p(5, 6), p(6, 5), p(1, 0)]);
        assert.deepEqual(order.map((x) => [x.p.pid, x.depth]), [[1, 0], [5, 0], [6, 0]]);
      });

      it("lsmod: name, base, size, state", async () => {
        const { s, m } = await world();
        const out = await runPlugin(lsmod, await s.kernel(), {});
        assert.deepEqual(out.rows, [{ name: "dummy", base: m.base, size: 0x5000, state: "live", module: m.module }]);
      });

      it("regs: each vCPU, RIP symbolized, absent registers as none", async () => {
        const { s } = await world();
        const k = await s.kernel();
        let out = await runPlugin(regs, k, {});
        assert.equal(out.rows.length, 2);
        assert.equal(out.rows[0]!["symbol"], k.symbolName(s.sym("_stext") + 0x100n));
        assert.equal(out.rows[1]!["gs_base"], s.perCpu[1]);
        assert.equal(out.rows[0]!["lstar"], s.sym("entry_SYSCALL_64"));
        s.mem.setVcpus(s.vcpuRegisters().map((v) => ({ ...v, known: new Set(["rip", "cr3"] as const) })));
        out = await runPlugin(regs, k, { vcpus: [1] });
        assert.deepEqual([out.rows.length, out.rows[0]!["vcpu"], out.rows[0]!["lstar"], out.rows[0]!["rsp"]], [1, 1, null, null]);
        s.mem.setVcpus(undefined);
        await assert.rejects(runPlugin(regs, await s.kernel(), {}), (e: unknown) => e instanceof VmiError && e.code === "UNSUPPORTED");
      });

      it("attach installs pid and symbol hooks on the Vmi", async () => {
        const { s, sh } = await world();
        const k = await s.kernel();
        const pgd = s.get(s.mmOf(sh), "mm_struct", "pgd");
        assert.equal(k.vmi.kernelDtb, s.dtb);
        assert.equal(await k.vmi.translate(ksym("init_task")), s.pa(s.initTask));
        await assert.rejects(k.vmi.read(pidVa(50, 0x400000n), 4), (e: unknown) => e instanceof VmiError && e.code === "PAGE_FAULT" && e.details["dtb"] === s.pa(pgd));
        await assert.rejects(k.vmi.read(pidVa(2, 0n), 4), (e: unknown) => e instanceof VmiError && e.code === "RESOLVE_FAILED");
        await assert.rejects(k.vmi.read(pidVa(999, 0n), 4), (e: unknown) => e instanceof VmiError && /no task with pid 999/.test(e.message));
      });

      it("finds plugins by name and refuses unknown ones", () => {
        assert.equal(findPlugin("lsmod"), lsmod);
        assert.deepEqual(Object.keys(ALL_PLUGINS), ["ps", "pstree", "lsmod", "regs"]);
        assert.throws(() => findPlugin("malfind"), (e: unknown) => e instanceof LinuxError && e.code === "UNKNOWN_PLUGIN");
      });
    });
  });
}

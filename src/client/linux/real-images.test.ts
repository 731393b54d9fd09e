/**
 * The Linux layer against real Debian 6.1 memory images (../shared/fixtures/linux), using
 * only the image, the kernel's BTF and its System.map: discovery without registers, ps
 * and lsmod against what the guest printed, and every check clean. Registers are used
 * only to cross-check discovery (the IDT route).
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { loadBtfProfileFiles, type Profile } from "../../shared/kernel/index.js";
import { openImage, type ImageDriver } from "../vmi/index.js";
import { Vmi } from "../vmi/index.js";
import { FIXTURE_DIR, FIXTURE_IMAGES, fixtureSkip, parseInfoRegisters } from "../vmi/testing/fixtures.js";
import { readFileSync } from "node:fs";
import { discoverKernel } from "./discovery/discover.js";
import type { LinuxKernel } from "./kernel.js";
import { openLinux } from "./session.js";
import { runPlugin } from "./plugins/plugin.js";
import { ps } from "./plugins/ps.js";
import { pstree } from "./plugins/pstree.js";
import { lsmod } from "./plugins/lsmod.js";
import { regs } from "./plugins/regs.js";
import { runChecks } from "./checks/run.js";
import { memoryBaselineStore } from "./checks/baseline.js";
import { listTasks, currentTasks, describeTasks } from "./walkers/tasks.js";
import { listPids } from "./walkers/pid-idr.js";
import { listRunQueues } from "./walkers/runqueues.js";
import { listModuleKset, listModules } from "./walkers/modules.js";
import { listVmas } from "./walkers/maple-tree.js";
import { listOpenFiles } from "./walkers/files.js";
import { readGroundTruth } from "./testing/ground-truth.js";
import { renderJson } from "../output/index.js";
import { pidVa, ksym } from "../vmi/access-context.js";

const BTF = FIXTURE_DIR + "debian-6.1.0-56-amd64/vmlinux.btf";
const MAP = FIXTURE_DIR + "debian-6.1.0-56-amd64/System.map";

for (const img of FIXTURE_IMAGES) {
  const skip = fixtureSkip(img) || (!existsSync(BTF) && `fixture file ${BTF} is absent`);
  describe(`Linux on real image ${img.name}`, { skip }, () => {
    let profile: Profile;
    let drv: ImageDriver;
    let k: LinuxKernel;
    const truth = () => readGroundTruth(FIXTURE_DIR + img.name + "/ground-truth.txt");

    before(async () => {
      profile = await loadBtfProfileFiles(BTF, MAP);
      drv = await openImage(img.vmcore);
      k = await openLinux(await Vmi.open(drv), profile, { discover: { useRegisters: false } });
    });
    after(async () => {
      await drv?.close();
    });

    it("finds the kernel from memory alone: slides, phys_base, page_offset_base, init_top_pgt", () => {
      const loc = k.location;
      assert.equal(loc.virtSlide, img.slide);
      assert.equal(loc.physText, truth().kernelCode, "_text is where /proc/iomem says Kernel code starts");
      assert.equal(loc.physSlide, truth().kernelCode - 0x1000000n);
      assert.equal(loc.physBase, BigInt.asUintN(64, loc.physText - (profile.requireSymbol("_text") + img.slide - 0xffffffff80000000n)));
      assert.deepEqual(
        loc.routes.filter((r) => r.route === "banner" || r.route === "swapper").map((r) => [r.route, r.status, r.virtSlide, r.physText]),
        [
          ["banner", "found", img.slide, loc.physText],
          ["swapper", "found", img.slide, loc.physText],
        ],
      );
      assert.ok(loc.routes.every((r) => r.route !== "idt" && r.route !== "lstar"), "no register route ran");
      assert.ok(loc.checks.every((c) => c.ok));
      assert.match(loc.banner, /^Linux version 6\.1\.0-56-amd64 .*Debian 6\.1\.192-2/);
      if (img.slide === 0n) assert.equal(loc.pageOffsetBase, 0xffff888000000000n);
    });

    it("agrees with the IDT route and with what the registers show", async () => {
      const cpus = parseInfoRegisters(readFileSync(img.registersTxt, "utf8"));
      const loc = await discoverKernel(k.vmi, profile);
      const idt = loc.routes.find((r) => r.route === "idt")!;
      assert.equal(idt.status, "found");
      assert.equal(idt.virtSlide, loc.virtSlide);
      assert.equal(idt.physText, loc.physText);
      assert.deepEqual(loc.checks.find((c) => c.name === "banner vs idt")?.ok, true);
      // vCPU 0 runs on init_top_pgt in both images' idle loop, or on a process's page tables.
      const dtbs = new Set([loc.dtb, ...(await describeTasks(k, await listTasks(k))).map((p) => p.dtb)]);
      for (const c of cpus) assert.ok(dtbs.has(c.values.get("CR3")!), `CR3 ${c.values.get("CR3")!.toString(16)} is init_top_pgt or a process's DTB`);
      // Each vCPU's GS base is its per-CPU area, in the direct map at page_offset_base.
      for (const c of cpus) assert.ok(c.segments.get("GS")![1] - loc.pageOffsetBase < 0x10000000n);
    });

    it("ps gives exactly the TASK lines of ground-truth.txt plus swapper/0", async () => {
      const out = await runPlugin(ps, k, {});
      const rows = out.rows.map((r) => ({ pid: r["pid"] as number, ppid: r["ppid"] as number, comm: r["comm"] as string }));
      const want = truth().tasks;
      assert.equal(rows.length, want.length + 1);
      assert.deepEqual(rows[0], { pid: 0, ppid: 0, comm: "swapper/0" });
      const byPid = new Map(rows.map((r) => [r.pid, r]));
      assert.equal(byPid.size, rows.length, "pids are unique");
      for (const t of want) {
        const r = byPid.get(t.pid);
        assert.ok(r, `pid ${t.pid} (${t.comm}) listed`);
        assert.equal(r.ppid, t.ppid, `ppid of ${t.pid}`);
        assert.ok(t.comm.startsWith(r.comm) && r.comm.length > 0, `comm ${JSON.stringify(r.comm)} is a prefix of ${JSON.stringify(t.comm)}`);
        assert.ok(r.comm.length === Math.min(15, t.comm.length) || t.comm.startsWith(r.comm + "-"), `comm ${r.comm} vs ${t.comm}`);
      }
      // Everyone is root on this busybox system; kernel threads have no DTB, user processes one.
      for (const r of out.rows) {
        assert.equal(r["uid"], 0);
        const user = truth().commands.get(r["pid"] as number);
        if (r["pid"] === 0 || (user !== undefined && user.startsWith("["))) assert.equal(r["dtb"], null, `pid ${r["pid"]}`);
        else assert.equal(typeof r["dtb"], "bigint", `pid ${r["pid"]}`);
      }
      const json = JSON.parse(renderJson(out)) as { rows: { pid: number; task: string }[] };
      assert.equal(json.rows.length, rows.length);
      assert.match(json.rows[0]!.task, /^0xffffffff[0-9a-f]{8}$/);
      // No thread beyond the leaders (the guest listed none).
      assert.equal((await runPlugin(ps, k, { threads: true })).rows.length, rows.length);
    });

    it("pstree puts every process under its parent", async () => {
      const out = await runPlugin(pstree, k, {});
      assert.equal(out.rows.length, truth().tasks.length + 1);
      const stack: number[] = [];
      for (const r of out.rows) {
        const depth = r["depth"] as number;
        stack.length = depth;
        if (depth > 0) assert.equal(r["ppid"], stack[depth - 1], `parent of ${r["pid"]}`);
        stack.push(r["pid"] as number);
      }
      assert.deepEqual(out.rows.slice(0, 3).map((r) => [r["depth"], r["pid"]]), [[0, 0], [1, 1], [2, 106]]);
    });

    it("lsmod gives the 11 modules with /proc/modules' bases and sizes", async () => {
      const out = await runPlugin(lsmod, k, {});
      const want = truth().modules;
      assert.equal(want.length, 11);
      assert.deepEqual(
        out.rows.map((r) => [r["name"], r["base"], r["size"], r["state"]]),
        want.map((m) => [m.name, m.base, m.size, "live"]),
      );
    });

    it("regs shows both vCPUs with RIP symbolized", async () => {
      const out = await runPlugin(regs, k, {});
      const cpus = parseInfoRegisters(readFileSync(img.registersTxt, "utf8"));
      assert.equal(out.rows.length, 2);
      out.rows.forEach((r, i) => {
        assert.equal(r["rip"], cpus[i]!.values.get("RIP"));
        assert.equal(r["cr3"], cpus[i]!.values.get("CR3"));
        assert.match(String(r["symbol"]), /^[a-z_]\w*\+0x[0-9a-f]+$/);
        assert.equal(r["lstar"], null, "an ELF core holds no MSRs");
      });
    });

    it("finds nothing wrong: every check is clean", async () => {
      const r = await runChecks(k, undefined, { baseline: memoryBaselineStore() });
      assert.deepEqual(r.findings, []);
      const byName = new Map(r.checks.map((c) => [c.check, c]));
      for (const c of r.checks) assert.ok(c.status === "clean" || (c.check === "syscall-msrs" && c.status === "skipped"), `${c.check}: ${c.status} ${c.note ?? c.error?.message}`);
      assert.match(byName.get("syscall-table")!.note!, /^451 entries$/);
      assert.match(byName.get("idt")!.note!, /^256 present gates/);
      assert.match(byName.get("hidden-modules")!.note!, /^11 listed, 11 in the kset/);
      assert.match(byName.get("syscall-msrs")!.note!, /no MSRs/);
      assert.equal(r.clean, true);
    });

    it("sees the same processes through the pid IDR and the per-CPU current tasks", async () => {
      const tasks = await listTasks(k, { threads: true });
      const pids = await listPids(k);
      const byPid = new Map(tasks.map((t) => [t.pid, t.address]));
      assert.equal(pids.length, tasks.length - 1, "every task but swapper/0 has a pid");
      for (const p of pids) assert.equal(p.task, byPid.get(p.nr), `pid ${p.nr}`);
      const cur = await currentTasks(k);
      assert.deepEqual(cur.map((c) => [c.cpu, c.task.comm]), [[0, "swapper/0"], [1, "swapper/1"]]);
      const rqs = await listRunQueues(k);
      assert.deepEqual(rqs.map((r) => [r.cpu, r.curr === r.idle, r.queued.length]), [[0, true, 0], [1, true, 0]]);
      const kset = await listModuleKset(k);
      const mods = await listModules(k);
      assert.deepEqual(new Set(kset.flatMap((e) => (e.module === null ? [] : [e.module]))), new Set(mods.map((m) => m.address)));
    });

    it("walks VMAs and open files: the scripts are open and mapped as the guest said", async () => {
      const tasks = await listTasks(k);
      for (const [pid, cmd] of truth().commands) {
        const script = /^\{vmi_\w+\} \/bin\/sh (\/bin\/vmi_\w+)$/.exec(cmd)?.[1];
        if (script === undefined) continue;
        const t = tasks.find((x) => x.pid === pid)!;
        const files = await listOpenFiles(k, t.files);
        assert.ok(files.some((f) => f.path === script), `pid ${pid} has ${script} open: ${files.map((f) => f.path).join(", ")}`);
        assert.deepEqual(files.filter((f) => f.fd <= 2).map((f) => f.fd), [0, 1, 2]);
        const vmas = await listVmas(k, t.mm);
        assert.ok(vmas.length >= 5);
        for (let i = 1; i < vmas.length; i++) assert.ok(vmas[i - 1]!.end <= vmas[i]!.start, "sorted, not overlapping");
      }
    });

    it("serves pid and kernel-symbol access contexts through the hooks it installed", async () => {
      const init = (await listTasks(k)).find((t) => t.pid === 1)!;
      const elf = await k.vmi.read(pidVa(1, 0x400000n), 4);
      assert.deepEqual([...elf], [0x7f, 0x45, 0x4c, 0x46], "busybox's ELF header at 0x400000 in init");
      assert.equal(await k.vmi.readCString(ksym("linux_banner"), 13), "Linux version");
      assert.notEqual(init.mm, 0n);
    });
  });
}

/**
 * Every integrity check, on a synthetic kernel laid out with the real profile: clean, it
 * finds nothing; broken the way a rootkit breaks it, it reports exactly that.
 */
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CAP_FULL_SET, VM_EXEC, VM_READ, VM_WRITE } from "../constants.js";
import { testProfile } from "../testing/profile.js";
import { SyntheticKernel, defaultVmas, type SyntheticOptions, type SyntheticView } from "../testing/synthetic-kernel.js";
import { fileBaselineStore, memoryBaselineStore } from "./baseline.js";
import type { Finding } from "./check.js";
import { ALL_CHECKS, mergeRerun, runChecks, walkFailed, type ChecksReport, type RunChecksOptions } from "./run.js";
import { LinuxError } from "../errors.js";
import { registerSet } from "../../vmi/index.js";
import { hashKernelText } from "./kernel-text.js";

/** Every test runs twice: reading memory locally, and through an agent-like driver that chases pointers (GatherList) and reads pages with their frames. */
const VIEWS: readonly SyntheticView[] = ["local", "agent"];
let view: SyntheticView = "local";

async function world(o: SyntheticOptions = {}) {
  const s = new SyntheticKernel(await testProfile(), { view, ...o });
  const init = s.addProcess({ pid: 1, comm: "init", exe: "/init" });
  s.addProcess({ pid: 2, comm: "kthreadd" });
  const shell = s.addProcess({ pid: 100, comm: "sh", exe: "/bin/sh", parent: init, uid: 1000 });
  const mod = s.addModule("dummy");
  return { s, init, shell, mod };
}

async function check(s: SyntheticKernel, name: string, opts: RunChecksOptions = {}) {
  const r = await runChecks(await s.kernel({ discover: { useRegisters: false } }), [name], opts);
  const st = r.checks[0]!;
  assert.notEqual(st.status, "error", `${name} failed: ${st.error?.message}`);
  return r;
}

function only(findings: readonly Finding[], object: RegExp, detail?: RegExp): Finding {
  const hits = findings.filter((f) => object.test(f.object) && (detail === undefined || detail.test(f.detail)));
  assert.equal(hits.length, 1, `expected one finding on ${object}, got ${JSON.stringify(findings.map((f) => [f.object, f.detail]))}`);
  return hits[0]!;
}

for (const v of VIEWS) {
  describe(v === "local" ? "memory read locally" : "memory read through an agent-like driver", () => {
    before(() => {
      view = v;
    });

    describe("integrity checks on a clean synthetic kernel", () => {
      for (const [label, o] of [
        ["nokaslr", {}],
        ["kaslr", { virtSlide: 0x18800000n, physText: 0x9a00000n, pageOffsetBase: 0xffff8f0a00000000n }],
      ] as const) {
        it(`finds nothing (${label}), and each check runs`, async () => {
          const { s } = await world(o);
          const r = await runChecks(await s.kernel(), undefined, { baseline: memoryBaselineStore() });
          assert.deepEqual(r.findings, []);
          assert.equal(r.clean, true);
          assert.deepEqual(r.checks.map((c) => c.check), ALL_CHECKS.map((c) => c.name));
          for (const c of r.checks) assert.equal(c.status, "clean", `${c.check}: ${c.note ?? c.error?.message}`);
          assert.match(r.checks.find((c) => c.check === "kernel-text")!.note!, /baseline recorded/);
        });
      }

      it("rejects unknown check names all at once", async () => {
        const { s } = await world();
        const k = await s.kernel();
        await assert.rejects(runChecks(k, ["idt", "nope", "zilch"]), (e: unknown) => e instanceof LinuxError && e.code === "UNKNOWN_CHECK" && JSON.stringify(e.details["names"]) === '["nope","zilch"]');
      });

      it("reports a check whose walk fails as an error, not clean", async () => {
        const { s, shell } = await world();
        s.u64(shell + s.off("task_struct", "tasks"), 0x1234n); // garbage next pointer
        const r = await runChecks(await s.kernel(), ["hidden-processes", "syscall-table"]);
        assert.equal(r.clean, false);
        assert.equal(r.checks[0]!.status, "error");
        assert.equal(r.checks[0]!.error!.code, "WALK_BAD_POINTER");
        assert.equal(r.checks[1]!.status, "clean");
      });
    });

    describe("policy 1: hidden processes", () => {
      it("finds a task unlinked from the task list through the pid IDR", async () => {
        const { s, shell } = await world();
        s.unlinkTask(shell);
        const r = await check(s, "hidden-processes");
        const f = only(r.findings, /^pid 100 \(sh\)$/, /pid IDR as 100 but not in the task list/);
        assert.equal(f.severity, "high");
        assert.equal(f.address, shell);
      });

      it("finds a task only the scheduler knows (queued in a task group's CFS tree)", async () => {
        const { s } = await world();
        const ghost = s.addProcess({ pid: 300, comm: "ghost", exe: "/ghost" });
        s.unlinkTask(ghost);
        s.pids.delete(300);
        s.rebuildPidIdr();
        // CPU 1's root cfs_rq holds a group entity whose own cfs_rq queues the task.
        const rq = s.perCpu[1]! + s.unslid("runqueues");
        const group = s.alloc(s.p.sizeOf("sched_entity"), 64);
        const groupRq = s.alloc(s.p.sizeOf("cfs_rq"), 64);
        s.set(group, "sched_entity", "my_q", groupRq);
        const taskSe = ghost + s.off("task_struct", "se");
        const timeline = (cfs: bigint): bigint => cfs + s.off("cfs_rq", "tasks_timeline");
        s.u64(timeline(groupRq), s.rbTree([taskSe + s.off("sched_entity", "run_node")]));
        s.u64(timeline(rq + s.off("rq", "cfs")), s.rbTree([group + s.off("sched_entity", "run_node")]));
        const r = await check(s, "hidden-processes");
        only(r.findings, /^pid 300 \(ghost\)$/, /run queue \(queued on CPU 1\)/);
      });

      it("finds a hidden task that is running: current on a CPU is not listed", async () => {
        const { s } = await world({ cpus: 2 });
        const ghost = s.addProcess({ pid: 301, comm: "spin", exe: "/spin" });
        s.unlinkTask(ghost);
        s.pids.delete(301);
        s.rebuildPidIdr();
        // Running on CPU 1: current_task only (rq.curr still names the idle task, as it
        // does for a moment around a context switch).
        s.u64(s.perCpu[1]! + s.unslid("current_task"), ghost);
        const r = await check(s, "hidden-processes");
        const f = only(r.findings, /^pid 301 \(spin\)$/, /current on CPU 1\) but not in the task list/);
        assert.equal(f.severity, "high");
        assert.equal(f.address, ghost);
      });

      it("does not report the other CPUs' idle tasks, which are never on the list", async () => {
        const { s } = await world({ cpus: 4 });
        const r = await check(s, "hidden-processes");
        assert.deepEqual(r.findings, []);
      });
    });

    describe("policy 2: credentials", () => {
      it("finds a user process running on init_cred", async () => {
        const { s, shell } = await world();
        s.set(shell, "task_struct", "cred", s.initCred);
        s.set(shell, "task_struct", "real_cred", s.initCred);
        const r = await check(s, "credentials");
        only(r.findings, /^pid 100 \(sh\)$/, /init_cred/);
      });

      it("finds a root process whose parent is an ordinary user, but not a set-uid root parent's child", async () => {
        const { s, shell, init } = await world();
        s.addProcess({ pid: 101, comm: "escalated", exe: "/tmp/x", parent: shell, uid: 0 });
        const sudo = s.addProcess({ pid: 102, comm: "sudo", exe: "/usr/bin/sudo", parent: init, uid: 1000, euid: 0 });
        s.addProcess({ pid: 103, comm: "rootsh", exe: "/bin/sh", parent: sudo, uid: 0 });
        // su run from the user's shell: root itself, parent not — but its executable is set-uid root.
        const su = s.addProcess({ pid: 104, comm: "su", exe: "/bin/su", parent: shell, uid: 0 });
        const inode = s.get(s.get(s.mmOf(su), "mm_struct", "exe_file"), "file", "f_inode");
        s.set(inode, "inode", "i_mode", 0o104755);
        s.set(inode, "inode", "i_uid", 0);
        const r = await check(s, "credentials");
        only(r.findings, /^pid 101 \(escalated\)$/, /parent pid 100 \(sh\) is uid 1000/);
        assert.equal(r.findings.length, 1);
      });

      it("finds a process sharing a root process's cred, and full capabilities without root", async () => {
        const { s, init } = await world();
        s.addProcess({ pid: 200, comm: "borrower", exe: "/b", parent: init, cred: s.get(init, "task_struct", "cred") });
        s.addProcess({ pid: 201, comm: "capable", exe: "/c", parent: init, uid: 1000, caps: CAP_FULL_SET });
        const r = await check(s, "credentials");
        only(r.findings, /^pid 200 \(borrower\)$/, /shares its credentials .* with root pid 1 \(init\)/);
        assert.equal(only(r.findings, /^pid 201 \(capable\)$/, /every capability/).severity, "medium");
      });

      it("finds root ids written over a user's cred in place, and a borrowed subjective cred", async () => {
        const { s, shell, init } = await world();
        const cred = s.get(shell, "task_struct", "cred");
        for (const fld of ["uid", "gid", "suid", "sgid", "euid", "egid", "fsuid", "fsgid"]) s.set(cred, "cred", fld, 0);
        const other = s.addProcess({ pid: 210, comm: "worker", exe: "/w", parent: shell, uid: 1000 });
        s.set(other, "task_struct", "cred", s.get(init, "task_struct", "cred")); // real_cred left alone
        const r = await check(s, "credentials");
        only(r.findings, /^pid 100 \(sh\)$/, /root ids but no capabilities/);
        only(r.findings, /^pid 210 \(worker\)$/, /shares its credentials .* with root pid 1 \(init\)/);
      });

      it("accepts threads sharing their leader's cred", async () => {
        const { s, shell } = await world();
        s.addThread(shell, 150, "sh-thread");
        const r = await check(s, "credentials");
        assert.deepEqual(r.findings, []);
      });
    });

    describe("policy 3: /proc operations", () => {
      it("finds a hooked function in proc_root_operations", async () => {
        const { s } = await world();
        const evil = s.alloc(64);
        s.set(s.sym("proc_root_operations"), "file_operations", "iterate_shared", evil);
        const r = await check(s, "proc-fops");
        const f = only(r.findings, /^\/proc\/ proc_dir_ops\.iterate_shared$/);
        assert.equal(f.address, evil);
        assert.match(f.detail, /outside kernel and module text/);
      });

      it("finds /proc's root switched to a forged table", async () => {
        const { s, mod } = await world();
        const forged = s.alloc(s.p.sizeOf("file_operations"));
        s.fillOps(forged, "file_operations", mod.base + 0x10n); // module code: each function passes
        s.set(s.sym("proc_root"), "proc_dir_entry", "proc_dir_ops", forged);
        const r = await check(s, "proc-fops");
        assert.equal(only(r.findings, /^\/proc$/, /instead of proc_root_operations/).severity, "high");
        assert.equal(only(r.findings, /proc_dir_ops$/, /outside kernel and module data/).severity, "medium");
      });
    });

    describe("policy 4: netfilter hooks", () => {
      it("still checks init_net when net_namespace_list is broken, and says so", async () => {
        const { s } = await world();
        s.u64(s.sym("net_namespace_list"), 0n);
        const entries = s.alloc(64);
        s.set(entries, "nf_hook_entries", "num_hook_entries", 1);
        s.u64(entries + s.off("nf_hook_entries", "hooks"), s.alloc(8));
        s.u64(s.sym("init_net") + s.off("net", "nf.hooks_ipv6"), entries);
        const r = await check(s, "netfilter-hooks");
        only(r.findings, /hooks_ipv6\[0\] hook 0$/, /outside kernel and module text/);
        assert.match(r.checks[0]!.note!, /net_namespace_list unreadable: WALK_BAD_POINTER; init_net checked/);
      });

      it("finds a hook outside code and accepts one in module text", async () => {
        const { s, mod } = await world();
        const entries = s.alloc(s.p.sizeOf("nf_hook_entries") + 2 * s.p.sizeOf("nf_hook_entry"));
        s.set(entries, "nf_hook_entries", "num_hook_entries", 2);
        const hooks = entries + s.off("nf_hook_entries", "hooks");
        const evil = s.alloc(16);
        s.u64(hooks, mod.base + 0x40n);
        s.u64(hooks + BigInt(s.p.sizeOf("nf_hook_entry")), evil);
        s.u64(s.sym("init_net") + s.off("net", "nf.hooks_ipv4") + 8n * 3n, entries);
        const r = await check(s, "netfilter-hooks");
        const f = only(r.findings, /hooks_ipv4\[3\] hook 1$/);
        assert.equal(f.address, evil);
        assert.match(r.checks[0]!.note!, /2 hooks/);
      });
    });

    describe("whose code a pointer may reach", () => {
      it("takes hooks into unsigned or out-of-tree modules as findings, but a module's own tables into itself as fine", async () => {
        const { s } = await world();
        const rk = s.addModule("rk_net");
        s.set(rk.module, "module", "sig_ok", 0);
        const oot = s.addModule("oot_kbd");
        s.set(oot.module, "module", "taints", 1n << 12n);
        // A netfilter hook into the unsigned module.
        const entries = s.alloc(64);
        s.set(entries, "nf_hook_entries", "num_hook_entries", 1);
        s.u64(entries + s.off("nf_hook_entries", "hooks"), rk.base + 0x40n);
        s.u64(s.sym("init_net") + s.off("net", "nf.hooks_ipv4"), entries);
        // A keyboard notifier living in the out-of-tree module's data, calling its code.
        const nb = oot.base + 0x3000n;
        s.set(nb, "notifier_block", "notifier_call", oot.base + 0x80n);
        s.set(s.sym("keyboard_notifier_list"), "atomic_notifier_head", "head", nb);
        // The unsigned module's own /proc entry: its table and code are its own business.
        const ops = rk.base + 0x2000n;
        s.fillOps(ops, "proc_ops", rk.base + 0x100n);
        const pde = s.alloc(s.p.sizeOf("proc_dir_entry") + 16);
        s.set(pde, "proc_dir_entry", "proc_ops", ops);
        s.setChildren(s.sym("proc_root"), [pde]);
        const r = await runChecks(await s.kernel(), ["netfilter-hooks", "keyboard-notifiers", "proc-fops"]);
        assert.ok(r.checks.every((c) => c.status !== "error"));
        const nf = only(r.findings, /hooks_ipv4\[0\] hook 0$/);
        assert.equal(nf.severity, "medium");
        assert.match(nf.detail, /module rk_net\+0x40, whose code is not vouched for \(its signature was not verified\)/);
        const kb = only(r.findings, /keyboard notifier/);
        assert.equal(kb.severity, "high");
        assert.match(kb.detail, /out-of-tree module/);
        assert.equal(r.findings.filter((f) => f.check === "proc-fops").length, 0);
      });

      it("holds the kernel's own tables to kernel text, even against a signed module", async () => {
        const { s, mod } = await world();
        s.set(s.sym("n_tty_ops"), "tty_ldisc_ops", "receive_buf", mod.base + 0x10n);
        const r = await check(s, "tty-ldisc");
        assert.match(only(r.findings, /^tty_ldiscs\[0\]\.receive_buf$/).detail, /module dummy\+0x10, not kernel text/);
      });
    });

    describe("policy 5: tty line disciplines", () => {
      it("finds a hooked receive_buf", async () => {
        const { s } = await world();
        s.set(s.sym("n_tty_ops"), "tty_ldisc_ops", "receive_buf", s.alloc(8));
        const r = await check(s, "tty-ldisc");
        only(r.findings, /^tty_ldiscs\[0\]\.receive_buf$/);
      });
    });

    describe("policy 6: system call table", () => {
      it("finds entries pointing into a module and outside any code", async () => {
        const { s, mod } = await world();
        s.u64(s.sym("sys_call_table") + 59n * 8n, mod.base + 0x20n);
        s.u64(s.sym("sys_call_table"), s.alloc(8));
        const r = await check(s, "syscall-table");
        assert.match(only(r.findings, /^sys_call_table\[59\]$/).detail, /module dummy\+0x20/);
        assert.match(only(r.findings, /^sys_call_table\[0\]$/).detail, /outside kernel and module text/);
        assert.equal(r.findings.length, 2);
        assert.match(r.checks[0]!.note!, /451 entries/);
      });
    });

    describe("policy 7: process mappings", () => {
      it("finds injected anonymous and writable executable code, not the vDSO", async () => {
        const { s, shell } = await world();
        const special = s.sym("special_mapping_vmops");
        s.setVmas(shell, [
          ...defaultVmas(special),
          { start: 0x10000000n, end: 0x10001000n, flags: VM_READ | VM_EXEC },
          { start: 0x20000000n, end: 0x20002000n, flags: VM_READ | VM_WRITE | VM_EXEC, file: "exe" },
        ]);
        const r = await check(s, "process-vmas");
        only(r.findings, /pid 100 \(sh\) 0x10000000-0x10001000/, /anonymous executable/);
        only(r.findings, /pid 100 \(sh\) 0x20000000-0x20002000/, /writable and executable/);
        assert.equal(r.findings.length, 2);
      });

      it("finds a code mapping whose file is not the executable", async () => {
        const { s, shell } = await world();
        const other = s.file("/tmp/implant", s.sym("console_fops"));
        s.setVmas(shell, defaultVmas(s.sym("special_mapping_vmops")).map((v) => (v.start === 0x401000n ? { ...v, file: other } : v)));
        const r = await check(s, "process-vmas");
        only(r.findings, /pid 100 \(sh\) 0x401000-0x585000/, /not the executable/);
      });

      it("walks a two-level maple tree (more VMAs than one leaf holds)", async () => {
        const { s, shell } = await world();
        const many = Array.from({ length: 40 }, (_, i) => ({ start: 0x1000000n + BigInt(i) * 0x10000n, end: 0x1001000n + BigInt(i) * 0x10000n, flags: VM_READ | VM_EXEC }));
        s.setVmas(shell, [...defaultVmas(s.sym("special_mapping_vmops")), ...many]);
        const r = await check(s, "process-vmas");
        assert.equal(r.findings.filter((f) => /anonymous executable/.test(f.detail)).length, 40);
      });
    });

    describe("policy 8: keyboard notifiers", () => {
      it("finds a keylogger's notifier and accepts a module's", async () => {
        const { s, mod } = await world();
        const a = s.alloc(s.p.sizeOf("notifier_block"));
        const b = s.alloc(s.p.sizeOf("notifier_block"));
        const evil = s.alloc(8);
        s.set(a, "notifier_block", "notifier_call", mod.base + 8n);
        s.set(a, "notifier_block", "next", b);
        s.set(b, "notifier_block", "notifier_call", evil);
        s.set(s.sym("keyboard_notifier_list"), "atomic_notifier_head", "head", a);
        const r = await check(s, "keyboard-notifiers");
        assert.equal(only(r.findings, /keyboard notifier/).address, evil);
        assert.match(r.checks[0]!.note!, /2 notifiers/);
      });

      it("stops on a notifier chain that loops", async () => {
        const { s } = await world();
        const a = s.alloc(s.p.sizeOf("notifier_block"));
        s.set(a, "notifier_block", "notifier_call", s.sym("_stext"));
        s.set(a, "notifier_block", "next", a);
        s.set(s.sym("keyboard_notifier_list"), "atomic_notifier_head", "head", a);
        const r = await runChecks(await s.kernel(), ["keyboard-notifiers"]);
        assert.equal(r.checks[0]!.error?.code, "WALK_CYCLE");
      });
    });

    describe("policy 9: hidden modules", () => {
      it("finds a module unlinked from the module list", async () => {
        const { s, mod } = await world();
        s.cstr(mod.module + s.off("module", "name"), "rootkit");
        s.listDel(mod.module + s.off("module", "list"));
        const r = await check(s, "hidden-modules");
        assert.equal(only(r.findings, /^module rootkit$/, /not in the module list/).address, mod.module);
      });

      it("finds a module removed from /sys/module", async () => {
        const { s, mod } = await world();
        s.listDel(mod.module + s.off("module", "mkobj") + s.off("module_kobject", "kobj") + s.off("kobject", "entry"));
        const r = await check(s, "hidden-modules");
        only(r.findings, /^module dummy$/, /not in \/sys\/module/);
      });
    });

    describe("policy 10: TCP seq operations", () => {
      it("finds /proc/net/tcp switched to another seq_operations", async () => {
        const { s, mod } = await world();
        const tcp = s.procNet; // find the tcp entry: children were made in order tcp, tcp6, udp, udp6
        const root = s.read64(tcp + s.off("proc_dir_entry", "subdir"));
        assert.notEqual(root, 0n);
        const forged = s.alloc(s.p.sizeOf("seq_operations"));
        s.fillOps(forged, "seq_operations", mod.base);
        // Walk to the entry named "tcp" through the plugin-independent tree: patch all four, expect four.
        const k = await s.kernel();
        const { walkProcTree } = await import("../walkers/procfs.js");
        const tcpEntry = (await walkProcTree(k, s.procNet)).find((e) => e.path === "tcp")!;
        s.set(tcpEntry.address, "proc_dir_entry", "seq_ops", forged);
        const r = await check(s, "tcp-seq-ops");
        only(r.findings, /^\/proc\/net\/tcp$/, /instead of tcp4_seq_ops/);
        only(r.findings, /^\/proc\/net\/tcp seq_ops\.show$/, /module dummy/);
      });

      it("finds tcp4_seq_ops.show hooked into a module", async () => {
        const { s, mod } = await world();
        s.set(s.sym("tcp4_seq_ops"), "seq_operations", "show", mod.base + 0x100n);
        const r = await check(s, "tcp-seq-ops");
        only(r.findings, /^tcp4_seq_ops\.show$/);
      });
    });

    describe("policy 11: open files", () => {
      it("finds a hooked file operation and a forged f_op table", async () => {
        const { s, init } = await world();
        s.set(s.sym("console_fops"), "file_operations", "read_iter", s.alloc(8));
        const forged = s.alloc(s.p.sizeOf("file_operations"));
        s.fillOps(forged, "file_operations");
        const fds = s.get(s.get(s.get(init, "task_struct", "files"), "files_struct", "fdt"), "fdtable", "fd");
        s.u64(fds + 7n * 8n, s.file("/dev/secret", forged));
        const r = await check(s, "open-files");
        assert.ok(r.findings.some((f) => /f_op\.read_iter$/.test(f.object) && f.severity === "high"));
        only(r.findings, /pid 1 \(init\) fd 7 \(\/dev\/secret\) f_op$/, /outside kernel and module data/);
      });
    });

    describe("IDT", () => {
      it("finds a hooked handler, a user-callable gate, a call gate and a foreign selector", async () => {
        const { s } = await world();
        s.setGate(14, { handler: s.alloc(16) });
        s.setGate(0x30, { dpl: 3 });
        s.setGate(0x31, { type: 0xc });
        s.setGate(0x32, { selector: 0x33 });
        s.setGate(0x33, { present: false, handler: 0n });
        const r = await check(s, "idt");
        only(r.findings, /idt_table vector 14 \(0xe\)/, /not kernel text/);
        only(r.findings, /idt_table vector 48 /, /DPL 3/);
        only(r.findings, /idt_table vector 49 /, /neither an interrupt nor a trap gate/);
        only(r.findings, /idt_table vector 50 /, /not __KERNEL_CS/);
        assert.equal(r.findings.length, 4);
      });

      it("finds a vCPU whose IDTR points at another table", async () => {
        const { s } = await world();
        const copy = s.allocModuleArea(4096);
        for (let v = 0; v < 256; v++) s.setGate(v, { handler: v === 1 ? s.alloc(8) : s.sym("asm_exc_divide_error") }, copy);
        const regs = s.vcpuRegisters();
        s.mem.setVcpus(regs.map((v) => (v.vcpu === 1 ? { ...v, regs: registerSet({ ...v.regs, idtr: { base: copy, limit: 0xfffn } }) } : v)));
        const r = await check(s, "idt");
        only(r.findings, /^vCPU 1 IDTR$/, /differs from idt_table at 1 vector/);
        only(r.findings, /^vCPU 1 IDT vector 1 /, /not kernel text/);
      });
    });

    describe("syscall MSRs", () => {
      it("finds a hooked LSTAR", async () => {
        const { s, mod } = await world();
        s.mem.setVcpus(s.vcpuRegisters().map((v) => (v.vcpu === 0 ? { ...v, regs: registerSet({ ...v.regs, lstar: mod.base + 0x80n }) } : v)));
        const r = await check(s, "syscall-msrs");
        assert.match(only(r.findings, /^vCPU 0 MSR_LSTAR$/).detail, /module dummy\+0x80/);
      });

      it("is skipped without registers, and without MSRs in them", async () => {
        const { s } = await world({ registers: false });
        let r = await check(s, "syscall-msrs");
        assert.equal(r.checks[0]!.status, "skipped");
        assert.match(r.checks[0]!.note!, /no registers/);
        s.mem.setVcpus(s.vcpuRegisters().map((v) => ({ ...v, known: new Set([...v.known].filter((n) => n !== "lstar")) })));
        r = await check(s, "syscall-msrs");
        assert.equal(r.checks[0]!.status, "skipped");
        assert.match(r.checks[0]!.note!, /no MSRs/);
        assert.equal(r.clean, true);
      });
    });

    describe("kernel text", () => {
      it("records a baseline, then finds a patched page and names it", async () => {
        const { s } = await world();
        const store = memoryBaselineStore();
        let r = await check(s, "kernel-text", { baseline: store });
        assert.match(r.checks[0]!.note!, /baseline recorded/);
        r = await check(s, "kernel-text", { baseline: store });
        assert.match(r.checks[0]!.note!, /match the baseline/);
        const target = s.sym("__x64_sys_getpid");
        s.write(target, new Uint8Array([0xe9, 1, 2, 3, 4]));
        r = await check(s, "kernel-text", { baseline: store });
        const f = only(r.findings, /kernel text/);
        assert.equal(f.address, target & ~0xfffn);
        assert.match(f.detail, new RegExp(`1 page\\(s\\) from 0x${(target & ~0xfffn).toString(16)} differ`));
        assert.match(r.checks[0]!.note!, /^1 of \d+ pages changed/);
      });

      it("skips a baseline from another boot, and without a store", async () => {
        const { s } = await world();
        const store = memoryBaselineStore();
        await check(s, "kernel-text", { baseline: store });
        const other = new SyntheticKernel(s.p, { virtSlide: 0x200000n, view });
        let r = await check(other, "kernel-text", { baseline: store });
        assert.equal(r.checks[0]!.status, "skipped");
        assert.match(r.checks[0]!.note!, /another kernel or boot/);
        r = await check(other, "kernel-text");
        assert.equal(r.checks[0]!.status, "skipped");
      });

      it("keeps its baseline in a file and rejects a forged one", async () => {
        const dir = await mkdtemp(join(tmpdir(), "seven-text-"));
        try {
          const path = join(dir, "text.json");
          const { s } = await world();
          await check(s, "kernel-text", { baseline: fileBaselineStore(path) });
          const doc = JSON.parse(await readFile(path, "utf8")) as { pages: string[] };
          assert.equal(doc.pages.length, Math.ceil(Number(s.sym("_etext") - s.sym("_stext")) / 4096));
          const r = await check(s, "kernel-text", { baseline: fileBaselineStore(path) });
          assert.equal(r.checks[0]!.status, "clean");
          await writeFile(path, JSON.stringify({ ...doc, pages: doc.pages.slice(1) }));
          const bad = await runChecks(await s.kernel(), ["kernel-text"], { baseline: fileBaselineStore(path) });
          assert.equal(bad.checks[0]!.error?.code, "BASELINE_INVALID");
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });
    });
  });
}

describe("kernel text through a live driver", () => {
  it("keeps several 1 MiB chunks in flight while hashing, and hashes the same as a local read", async () => {
    const { s } = await world({ view: "local" });
    const { kernel: k, driver: d } = await s.remoteKernel();
    let out = 0;
    let most = 0;
    const inner = d.readVirtFrames.bind(d);
    d.readVirtFrames = async (dtb, ranges) => {
      most = Math.max(most, ++out);
      await new Promise((r) => setImmediate(r));
      out--;
      return inner(dtb, ranges);
    };
    const remote = await hashKernelText(k);
    assert.deepEqual([most >= 2, most <= 8], [true, true], `${most} reads in flight at most`);
    assert.ok(remote.pages.length > 256 * 3);
    assert.equal(remote.digest, (await hashKernelText(await s.kernel())).digest);
  });
});

describe("mergeRerun: the checks run again replace their first results", () => {
  const base = { version: "1.0.0", ms: 1 } as const;
  const first: ChecksReport = {
    clean: false,
    findings: [{ check: "syscall-table", severity: "high", object: "sys_call_table[62]", detail: "hooked" }],
    checks: [
      { ...base, check: "hidden-processes", status: "error", findings: 0, error: { code: "WALK_CORRUPT", message: "torn" } },
      { ...base, check: "syscall-table", status: "findings", findings: 1 },
      { ...base, check: "hidden-modules", status: "error", findings: 0, error: { code: "UNAVAILABLE", message: "x" } },
    ],
    ms: 3,
  };
  it("only walk errors are worth a rerun", () => {
    assert.deepEqual(first.checks.filter(walkFailed).map((c) => c.check), ["hidden-processes"]);
  });
  it("replaces statuses and findings in the first report's order, notes the rerun, adds times", () => {
    const again: ChecksReport = {
      clean: false,
      findings: [{ check: "hidden-processes", severity: "high", object: "pid 9 (x)", detail: "hidden" }],
      checks: [{ ...base, check: "hidden-processes", status: "findings", findings: 1, note: "3 tasks listed", ms: 5 }],
      ms: 5,
    };
    const m = mergeRerun(first, again);
    assert.deepEqual(m.checks.map((c) => [c.check, c.status]), [["hidden-processes", "findings"], ["syscall-table", "findings"], ["hidden-modules", "error"]]);
    assert.equal(m.checks[0]!.note, "run again after WALK_CORRUPT on a paused live guest; 3 tasks listed");
    assert.equal(m.checks[0]!.ms, 6);
    assert.equal(m.checks[0]!.error, undefined);
    assert.deepEqual(m.findings.map((f) => f.check), ["hidden-processes", "syscall-table"]);
    assert.equal(m.clean, false);
    assert.equal(m.ms, 8);
  });
});

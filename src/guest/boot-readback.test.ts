/**
 * The guest's memory, read back by a plain profile-driven walker (testing/linux-reader.ts)
 * starting only from a vCPU's CR3 and IDTR, matches the ground truth: process list,
 * modules and the module kset, sys_call_table, IDT, pid IDR, run queues, VMAs, open files —
 * with and without KASLR, for several seeds.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PTE } from "../shared/spec/index.js";
import { bootGuest, type Booted } from "./testing/harness.js";
import { fixtureProfile } from "./testing/btf-profile-view.js";
import { GuestError } from "./errors.js";
import { createGuest } from "./program.js";
import { computeLayout } from "../shared/spec/index.js";

const big = (h: string): bigint => BigInt(h);

function checkAll(b: Booted): void {
  const gt = b.guest.groundTruth();
  const r = b.reader();
  const p = fixtureProfile();

  // KASLR: IDT gate 0 gives the virtual slide; phys_base and page_offset_base are in memory.
  assert.equal(r.slide, big(gt.kernel.virtualSlide));
  assert.equal(r.u64(r.sym("phys_base")), big(gt.kernel.physBase));
  assert.equal(r.u64(r.sym("page_offset_base")), big(gt.kernel.pageOffsetBase));
  // VA → PA of a kernel symbol = VA − __START_KERNEL_map + phys_base (mod 2^64).
  const initTask = r.sym("init_task");
  assert.equal(r.translate(initTask), BigInt.asUintN(64, initTask - 0xffffffff80000000n + big(gt.kernel.physBase)));
  assert.equal(r.translate(r.sym("_text")), big(gt.kernel.textPa));
  // The banner at linux_banner, and found physically at the same low 21 bits.
  assert.equal(r.str(r.sym("linux_banner"), 256), gt.kernel.banner);
  assert.match(gt.kernel.banner, /^Linux version 6\.1\.0-56-amd64 \(debian-kernel@lists\.debian\.org\)/);
  assert.equal(r.translate(r.sym("linux_banner")) & 0x1fffffn, p.requireSymbol("linux_banner") & 0x1fffffn);

  // Process list (init_task.tasks) = ground truth (no rootkit: nothing hidden).
  const tasks = r.tasks();
  assert.equal(tasks[0]!.comm, "swapper/0");
  const listed = tasks.slice(1).map((t) => ({ pid: t.pid, ppid: t.ppid, comm: t.comm, uid: t.uid, task: `0x${t.va.toString(16)}`, dtb: t.dtb === null ? null : `0x${t.dtb.toString(16)}` }));
  const truth = gt.processes.filter((x) => x.inTaskList).map((x) => ({ pid: x.pid, ppid: x.ppid, comm: x.comm, uid: x.uid, task: x.task, dtb: x.dtb }));
  assert.deepEqual(listed, truth);
  // Named processes and the fixture's shape.
  for (const name of ["init", "sshd", "vmi_alpha", "vmi_beta", "vmi_gamma_with_", "kthreadd"]) assert.ok(tasks.some((t) => t.comm === name), name);
  assert.equal(tasks.find((t) => t.comm === "init")!.pid, 1);
  assert.equal(tasks.find((t) => t.comm === "kthreadd")!.pid, 2);

  // pid IDR holds every process, mapping to its struct pid whose numbers[0].nr is the pid.
  const idr = r.idrPids();
  assert.deepEqual([...idr.keys()].sort((a, c) => a - c), gt.processes.map((x) => x.pid));
  for (const [pid, pidVa] of idr) assert.equal(r.i32(pidVa + r.off("pid", "numbers") + r.off("upid", "nr")), pid);

  // Modules and the kset.
  const mods = r.modules();
  assert.deepEqual(
    mods.map((m) => ({ name: m.name, base: `0x${m.base.toString(16)}`, size: m.size })),
    gt.modules.filter((m) => !m.hiddenFromList).slice().reverse().map((m) => ({ name: m.name, base: m.base, size: m.size })),
  );
  const kset = r.ksetEntries();
  assert.deepEqual(kset.filter((e) => e.mod !== 0n).map((e) => e.name).sort(), gt.modules.filter((m) => !m.hiddenFromKset).map((m) => m.name).sort());
  assert.deepEqual(kset.filter((e) => e.mod === 0n).map((e) => e.name).sort(), [...gt.builtinKobjects].sort());
  for (const m of mods) assert.equal(r.str(m.va + r.off("module", "name"), 56), m.name);

  // sys_call_table: every entry is System.map's handler (slid), inside kernel text.
  const sct = r.syscallTable();
  assert.deepEqual(sct.map((x) => `0x${x.toString(16)}`), gt.syscallTable.entries);
  const text0 = r.sym("_stext");
  const etext = r.sym("_etext");
  for (const h of sct) assert.ok(h >= text0 && h < etext);
  assert.equal(sct[39], p.requireSymbol("__x64_sys_getpid") + r.slide);
  assert.equal(sct[0], p.requireSymbol("__x64_sys_read") + r.slide);

  // IDT through the cpu_entry_area alias: 256 present interrupt gates, as in the ground truth.
  for (let v = 0; v < 256; v++) {
    const g = r.gate(v);
    const t = gt.idt.gates[v]!;
    assert.equal(`0x${g.handler.toString(16)}`, t.handler);
    assert.equal(g.ist, t.ist);
    assert.equal(g.dpl, t.dpl);
    assert.equal(g.type, 0xe);
    assert.equal(g.present, true);
    assert.equal(g.selector, 0x10);
  }
  assert.equal(r.gate(14).handler, p.requireSymbol("asm_exc_page_fault") + r.slide);
  assert.equal(r.gate(3).dpl, 3);
  // The alias is read-only and private; it maps the idt_table page.
  const alias = r.leaf(0xfffffe0000000000n);
  assert.equal(alias & PTE.RW, 0n);
  assert.notEqual(alias & (1n << 51n), 0n);
  assert.equal(r.translate(0xfffffe0000000000n), r.translate(r.sym("idt_table")));

  // Per-CPU: GS base = __per_cpu_offset[cpu]; current_task there; run queues.
  for (let c = 0; c < b.layout.vcpus; c++) {
    const cpu = b.machine.cpus[c]!;
    assert.equal(cpu.getSegment("gs").base, r.perCpuOffset(c));
    assert.equal(`0x${r.perCpuOffset(c).toString(16)}`, gt.vcpus[c]!.gsBase);
    const cur = r.u64(r.perCpuOffset(c) + p.requireSymbol("current_task"));
    assert.equal(`0x${cur.toString(16)}`, gt.vcpus[c]!.currentTask);
    const rq = r.runqueue(c);
    assert.equal(rq.curr, cur);
    const queued = rq.queued.map((t) => r.i32(t + r.off("task_struct", "pid")));
    const running = gt.vcpus[c]!.current;
    assert.deepEqual(
      [...queued, ...(gt.vcpus[c]!.runnable.includes(running) ? [running] : [])].sort((a, x) => a - x),
      [...gt.vcpus[c]!.runnable].sort((a, x) => a - x),
    );
    assert.equal(rq.nrRunning, gt.vcpus[c]!.runnable.length);
    assert.equal(cpu.getReg("lstar"), r.sym("entry_SYSCALL_64"));
    assert.equal(cpu.getSegment("idtr").base, 0xfffffe0000000000n);
  }
  // Idle tasks of the other CPUs are reached through current_task/rq->idle, not the task list.
  for (const it of gt.idleTasks.slice(1)) assert.ok(!tasks.some((t) => `0x${t.va.toString(16)}` === it.task));

  // VMAs (maple tree) and open files of the named processes.
  for (const name of ["vmi_alpha", "sshd"]) {
    const t = tasks.find((x) => x.comm === name)!;
    const g = gt.processes.find((x) => x.pid === t.pid)!;
    assert.deepEqual(
      r.vmas(t.mm).map((v) => ({ start: `0x${v.start.toString(16)}`, end: `0x${v.end.toString(16)}`, flags: `0x${v.flags.toString(16)}` })),
      g.vmas.map((v) => ({ start: v.start, end: v.end, flags: v.flags })),
    );
    const f = r.files(t.va);
    assert.deepEqual(f.map((x) => x.fd), g.files.map((x) => x.fd));
    assert.deepEqual(f.map((x) => x.name), g.files.map((x) => x.path.slice(x.path.lastIndexOf("/") + 1)));
    for (const x of f) assert.ok(x.fop >= r.sym("_sdata") - 0x1000000n && x.fop < r.sym("_end"), "f_op points at a kernel table");
  }
  // Page tables: kernel half shared by every process PGD; user pages private (C-bit).
  const alpha = tasks.find((x) => x.comm === "vmi_alpha")!;
  const kernelPgd = b.machine.cpus[0]!.getReg("cr3");
  for (let i = 256; i < 512; i++) {
    assert.equal(r.u64p(alpha.dtb! + BigInt(i * 8)), r.u64p((kernelPgd & ((1n << 51n) - 1n)) + BigInt(i * 8)), `PGD[${i}]`);
  }
  const vmas = r.vmas(alpha.mm);
  assert.notEqual(r.leaf(vmas[0]!.start, alpha.dtb! | (1n << 51n)) & (1n << 51n), 0n);
}

test("boot without KASLR: the nokaslr addresses and everything reads back", () => {
  const b = bootGuest({ kaslr: false, seed: "a" });
  const gt = b.guest.groundTruth();
  assert.equal(gt.kernel.virtualSlide, "0x0");
  assert.equal(gt.kernel.physicalSlide, "0x0");
  assert.equal(gt.kernel.textVa, "0xffffffff81000000");
  assert.equal(gt.kernel.textPa, "0x1000000");
  assert.equal(gt.kernel.physBase, "0x0");
  assert.equal(gt.kernel.pageOffsetBase, "0xffff888000000000");
  const r = b.reader();
  assert.equal(r.sym("init_task"), 0xffffffff82a1aa40n);
  checkAll(b);
});

for (const seed of ["s1", "s2", "s3"]) {
  test(`boot with KASLR (seed ${seed}): slides and everything read back`, () => {
    const b = bootGuest({ kaslr: true, seed, vcpus: seed === "s2" ? 3 : 2 });
    const gt = b.guest.groundTruth();
    assert.equal(BigInt(gt.kernel.virtualSlide) % (2n << 20n), 0n);
    assert.equal(BigInt(gt.kernel.physicalSlide) % (2n << 20n), 0n);
    assert.equal(BigInt(gt.kernel.pageOffsetBase) % (1n << 30n), 0n);
    assert.ok(BigInt(gt.kernel.pageOffsetBase) >= 0xffff888000000000n);
    assert.ok(BigInt(gt.kernel.textPa) + 0x3600000n <= b.layout.guestRamEnd);
    checkAll(b);
  });
}

test("different seeds give different KASLR placements; the same seed the same", () => {
  const slides = ["k1", "k2", "k3", "k4"].map((seed) => bootGuest({ kaslr: true, seed }).guest.groundTruth().kernel);
  assert.ok(new Set(slides.map((s) => s.virtualSlide)).size > 1);
  assert.ok(new Set(slides.map((s) => s.pageOffsetBase)).size > 1);
  assert.deepEqual(bootGuest({ kaslr: true, seed: "k1" }).guest.groundTruth().kernel, slides[0]);
});

test("the direct map covers guest RAM with the C-bit set, except the guest GHCB pages", () => {
  const b = bootGuest({ kaslr: true, seed: "cbit" });
  const r = b.reader();
  const pob = BigInt(b.guest.groundTruth().kernel.pageOffsetBase);
  const C = 1n << 51n;
  for (const g of b.layout.guestGhcb) assert.equal(r.leaf(pob + g) & C, 0n, "GHCB shared");
  assert.notEqual(r.leaf(pob + 0x200000n) & C, 0n);
  assert.notEqual(r.leaf(pob + b.layout.guestRamEnd - 0x1000n) & C, 0n);
  assert.equal(r.translate(pob + b.layout.guestRamEnd - 0x1000n), b.layout.guestRamEnd - 0x1000n);
  assert.throws(() => r.translate(pob + b.layout.guestRamEnd), /not present/);
  // Kernel text is executable and read-only, data is NX.
  assert.equal(r.leaf(r.sym("_stext")) & (PTE.RW | PTE.NX), 0n);
  assert.equal(r.leaf(r.sym("init_task")) & PTE.NX, PTE.NX);
});

test("too little guest RAM for the kernel image is a clear error", () => {
  const layout = computeLayout({ memoryBytes: 64n << 20n, vcpus: 1 });
  assert.throws(() => createGuest({ seed: 1, layout, profile: fixtureProfile() }), (e: unknown) => e instanceof GuestError && e.code === "GUEST_RAM_TOO_SMALL");
  const l2 = computeLayout({ memoryBytes: 256n << 20n, vcpus: 1 });
  assert.throws(() => createGuest({ seed: 1, layout: l2, profile: fixtureProfile(), processes: 10 }), (e: unknown) => e instanceof GuestError && e.code === "BAD_OPTION");
});

/**
 * The workload: deterministic by seed; every system call fetches the handler that
 * sys_call_table holds; user code runs on each process's own page tables; instructions
 * are restartable after a #NPF and skipped when RIP is moved; process churn keeps the
 * structures consistent and the memory bounded.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { bootGuest, settle, type Booted } from "./testing/harness.js";
import { diffMemory } from "./testing/fake-cpu.js";
import type { Insn } from "./workload/insn.js";
import { NR } from "./arch.js";
import { VMSA } from "../shared/spec/index.js";

const RIP_OFF = VMSA.offsetOf("rip");

function run(b: Booted, rounds: number, slice = 200): void {
  b.machine.roundRobin(b.guest, rounds, slice);
}

test("same seed, same instruction stream; another seed, another one", () => {
  const trace = (seed: string): string[] => {
    const b = bootGuest({ seed, workload: true, trace: true, kaslr: true });
    run(b, 15);
    return b.guest.trace.map((r) => `${r.cpu} ${r.rip.toString(16)} ${r.kind} ${r.what} ${r.va?.toString(16) ?? ""}`);
  };
  const a = trace("det-1");
  assert.ok(a.length >= 15 * 2 * 150);
  assert.deepEqual(trace("det-1"), a);
  assert.notDeepEqual(trace("det-2"), a);
});

test("each system call fetches, at CPL 0, the handler its sys_call_table entry holds", () => {
  const b = bootGuest({ seed: "fetch", workload: true });
  run(b, 40);
  const r = b.reader();
  const sct = r.sym("sys_call_table");
  const log = b.machine.log;
  const seen = new Set<number>();
  let checked = 0;
  for (let i = 0; i < log.length; i++) {
    const a = log[i]!;
    if (a.kind !== "read" || a.va < sct || a.va >= sct + 451n * 8n) continue;
    const nr = Number((a.va - sct) / 8n);
    const handler = r.u64(a.va);
    const next = log.slice(i + 1).find((x) => x.cpu === a.cpu)!;
    assert.equal(next.kind, "fetch", `syscall ${nr}`);
    assert.equal(next.va, handler, `syscall ${nr} fetched its handler`);
    assert.equal(next.cpl, 0);
    seen.add(nr);
    checked++;
  }
  assert.ok(checked > 50, `${checked} syscalls`);
  for (const nr of [NR.getpid, NR.write, NR.read, NR.getdents64]) assert.ok(seen.has(nr), `saw syscall ${nr}`);
  // The entry path fetched at LSTAR = entry_SYSCALL_64 before reading the table.
  assert.ok(log.some((x) => x.kind === "fetch" && x.va === r.sym("entry_SYSCALL_64") && x.cpl === 0));
});

test("user code runs at CPL 3 on the page tables of the process that is current", () => {
  const b = bootGuest({ seed: "cr3", workload: true, vcpus: 2 });
  run(b, 30);
  const gt = b.guest.groundTruth();
  const dtbs = new Set(gt.processes.filter((p) => p.dtb !== null).map((p) => BigInt(p.dtb!)));
  const userFetches = b.machine.log.filter((x) => x.kind === "fetch" && x.cpl === 3);
  assert.ok(userFetches.length > 20);
  const cr3s = new Set(userFetches.map((x) => x.cr3 & ~(1n << 51n)));
  assert.ok(cr3s.size >= 2, "switched between processes");
  // Every user fetch was on a live process's PGD or one that has since exited (churn).
  const known = [...cr3s].filter((c) => dtbs.has(c)).length;
  assert.ok(known >= 1);
  for (const f of userFetches) assert.ok(f.va < 0x800000000000n, "user fetch in the user half");
});

test("a #NPF does not change guest state: the same instruction runs again; moving RIP skips it", () => {
  const b = bootGuest({ seed: "npf", workload: true, vcpus: 1 });
  run(b, 3);
  const r = b.reader();
  // Trap reads of the sys_call_table page (as an agent's read trap would).
  const sctPa = r.translate(r.sym("sys_call_table"));
  b.machine.traps.set(Number(sctPa >> 12n), { kinds: new Set(["read"]), hits: 0 });
  const cpu = b.machine.cpus[0]!;
  let out = b.machine.run(b.guest, 0, 5000);
  assert.ok(out.npf >= 1, "the trap fired");
  const stuckRip = cpu.getReg("rip");
  const retired = b.guest.stats().retired;
  out = b.machine.run(b.guest, 0, 50);
  assert.equal(out.npf, 50, "every retry faults");
  assert.equal(b.guest.stats().retired, retired, "nothing retired");
  assert.equal(cpu.getReg("rip"), stuckRip, "RIP still at the faulting instruction");
  // Skip: the "agent" moves RIP past the instruction.
  cpu.setReg("rip", stuckRip + 4n);
  const skipped = b.guest.stats().skipped;
  b.machine.run(b.guest, 0, 1);
  assert.equal(b.guest.stats().skipped, skipped + 1);
  assert.notEqual(cpu.getReg("rip"), stuckRip);
  // Disarmed: the workload goes on and syscalls dispatch again.
  b.machine.traps.clear();
  const before = b.guest.stats().syscalls;
  run(b, 10);
  assert.ok(b.guest.stats().syscalls > before);
});

test("process churn keeps the task list, IDR, run queues and modules consistent with the ground truth", () => {
  const b = bootGuest({ seed: "churn", workload: true, processes: 80, vcpus: 2 });
  const bootPages = b.guest.stats().guestPagesInUse;
  const named = b.guest.groundTruth().processes.filter((p) => p.pinned).map((p) => `${p.pid}:${p.comm}`);
  run(b, 300, 300);
  settle(b);
  const s = b.guest.stats();
  assert.ok(s.forks > 0 && s.exits > 0, `forks ${s.forks} exits ${s.exits}`);
  assert.ok(Math.abs(s.liveProcesses - 80) <= 3, `live ${s.liveProcesses}`);
  const gt = b.guest.groundTruth();
  const r = b.reader();
  assert.deepEqual(r.tasks().slice(1).map((t) => t.pid), gt.processes.map((p) => p.pid));
  assert.deepEqual([...r.idrPids().keys()].sort((x, y) => x - y), gt.processes.map((p) => p.pid));
  for (let c = 0; c < 2; c++) {
    const rq = r.runqueue(c);
    assert.equal(rq.nrRunning, gt.vcpus[c]!.runnable.length);
    assert.equal(`0x${rq.curr.toString(16)}`, gt.vcpus[c]!.currentTask);
  }
  for (const p of gt.processes) {
    const t = r.task(BigInt(p.task));
    assert.equal(t.pid, p.pid);
    assert.equal(t.ppid, p.ppid);
    assert.equal(t.comm, p.comm);
    if (p.mm !== null) assert.equal(r.vmas(BigInt(p.mm)).length, p.vmas.length);
  }
  assert.deepEqual(gt.processes.filter((p) => p.pinned).map((p) => `${p.pid}:${p.comm}`), named, "the named processes are stable");
  assert.equal(r.modules().length, 11);
  // Bounded memory: freed objects and pages are reused.
  assert.ok(s.guestPagesInUse < bootPages + 200, `pages ${bootPages} → ${s.guestPagesInUse}`);
});

test("SYSCALL clears RFLAGS.TF through SFMASK and keeps the caller's RFLAGS in R11 (the single-step #DB is the platform's: it latches TF when the instruction starts)", () => {
  const b = bootGuest({ seed: "tf", workload: true, vcpus: 1, trace: true });
  run(b, 2);
  const cpu = b.machine.cpus[0]!;
  const TF = 1n << 8n;
  let syscalls = 0;
  for (let i = 0; i < 4000 && syscalls < 4; i++) {
    const user = cpu.cpl === 3;
    if (user) cpu.setReg("rflags", cpu.getReg("rflags") | TF);
    b.machine.run(b.guest, 0, 1);
    if (user && b.guest.trace.at(-1)?.what === "syscall") {
      syscalls++;
      assert.equal(cpu.getReg("rflags") & TF, 0n, "TF masked on kernel entry");
      assert.notEqual(cpu.getReg("r11") & TF, 0n, "the caller's TF saved in R11");
    }
    if (user) cpu.setReg("rflags", cpu.getReg("rflags") & ~TF);
  }
  assert.ok(syscalls >= 4, `stepped ${syscalls} SYSCALLs`);
});

/**
 * Each rootkit scenario changes exactly what it says: guest memory before and after are
 * compared byte by byte, and every changed byte must lie in the locations the scenario
 * names (plus the rootkit module's own load, when it brings one); a profile-driven walk
 * then sees the effect. With the workload on, the planted code actually runs.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { bootGuest, settle, type Booted } from "../testing/harness.js";
import { diffMemory } from "../testing/fake-cpu.js";
import type { LinuxReader } from "../testing/linux-reader.js";
import { fixtureProfile } from "../testing/btf-profile-view.js";
import { GuestError } from "../errors.js";
import { parseRootkitSpecs } from "./registry.js";

type Range = readonly [bigint, number];

interface Applied {
  readonly b: Booted;
  readonly r: LinuxReader;
  readonly before: Map<number, Uint8Array>;
  readonly diff: { pa: bigint; len: number }[];
}

function apply(spec: string, o: { seed?: string; kaslr?: boolean } = {}): Applied {
  const b = bootGuest({ seed: o.seed ?? "rk", kaslr: o.kaslr ?? true });
  const before = b.machine.mem.snapshot();
  b.guest.activate(spec);
  settle(b, 1000, 100);
  const sc = b.guest.scenarios.at(-1)!;
  assert.equal(sc.status, "active", `${spec}: ${sc.error ?? ""}`);
  return { b, r: b.reader(), before, diff: diffMemory(before, b.machine.mem.snapshot()) };
}

function pa(r: LinuxReader, va: bigint): bigint {
  return r.translate(va);
}

/** Everything a rootkit module's load may write. */
function moduleLoadRanges(a: Applied, name: string): Range[] {
  const { r } = a;
  const m = r.modules().find((x) => x.name === name) ?? hiddenModule(a, name);
  const out: Range[] = [];
  for (let va = m.base; va < m.base + BigInt(m.size); va += 0x1000n) {
    out.push([pa(r, va), 4096]);
    const leaf = r.leafEntryPa(va);
    out.push([leaf, 8]);
    // A page-table page that did not exist before belongs to the load as a whole, with its parent entry.
    const tablePfn = Number(leaf >> 12n);
    if (!a.before.has(tablePfn) || a.before.get(tablePfn)!.every((x) => x === 0)) out.push([BigInt(tablePfn) << 12n, 4096]);
    out.push(...entryChain(r, va));
  }
  const kobj = m.va + r.off("module", "mkobj") + r.off("module_kobject", "kobj");
  out.push([pa(r, r.u64(kobj + r.off("kobject", "name"))), 64]);
  // list_add(&mod->list, &modules) and kobject_add's list_add_tail(&kobj->entry, &kset->list).
  out.push([pa(r, r.sym("modules")), 16]);
  for (const n of r.list(r.sym("modules"))) out.push([pa(r, n), 16]);
  const kset = r.u64(r.sym("module_kset")) + r.off("kset", "list");
  out.push([pa(r, kset), 16]);
  for (const n of r.list(kset)) out.push([pa(r, n), 16]);
  // add_taint_module: an unsigned out-of-tree module taints the kernel too.
  out.push([pa(r, r.sym("tainted_mask")), 8]);
  return out;
}

/** PAs of the page-table entries on the walk to `va` (a new table's parent entry changes too). */
function entryChain(r: LinuxReader, va: bigint): Range[] {
  const out: Range[] = [];
  let table = r.cr3 & ((1n << 51n) - 1n) & ~0xfffn;
  for (let level = 4; level >= 1; level--) {
    const at = table + ((va >> BigInt(12 + 9 * (level - 1))) & 0x1ffn) * 8n;
    out.push([at, 8]);
    const e = r.u64p(at);
    if (level === 1 || (e & 0x80n) !== 0n) break;
    table = e & ((1n << 51n) - 1n) & ~0xfffn;
  }
  return out;
}

function hiddenModule(a: Applied, name: string): { name: string; va: bigint; base: bigint; size: number } {
  const m = a.b.guest.groundTruth().modules.find((x) => x.name === name)!;
  return { name, va: BigInt(m.struct), base: BigInt(m.base), size: m.size };
}

function assertOnlyIn(a: Applied, allowed: Range[], what: string): void {
  assert.ok(a.diff.length > 0, `${what}: something changed`);
  for (const d of a.diff) {
    for (let i = 0n; i < BigInt(d.len); i++) {
      const at = d.pa + i;
      const ok = allowed.some(([s, n]) => at >= s && at < s + BigInt(n));
      assert.ok(ok, `${what}: unexpected change at PA 0x${at.toString(16)} (in a ${d.len}-byte change at 0x${d.pa.toString(16)})`);
    }
  }
}

function touched(a: Applied, at: bigint, len: number): boolean {
  return a.diff.some((d) => d.pa < at + BigInt(len) && at < d.pa + BigInt(d.len));
}

const rkModuleOf = (a: Applied): string => a.b.guest.groundTruth().modules.find((m) => m.rootkit)!.name;

test("hide-process: only the neighbours' task-list links change; still in the IDR and on the run queue", () => {
  const probe = bootGuest({ seed: "rk" });
  const gt0 = probe.guest.groundTruth();
  const target = gt0.vcpus[0]!.runnable[0]!;
  const a = apply(`hide-process=${target}`);
  const { r } = a;
  const t = a.b.guest.groundTruth().processes.find((p) => p.pid === target)!;
  const node = BigInt(t.task) + r.off("task_struct", "tasks");
  const tasks = r.tasks();
  assert.ok(!tasks.some((x) => x.pid === target), "gone from the task list");
  assert.ok(r.idrPids().has(target), "still in the pid IDR");
  const rq = r.runqueue(t.cpu);
  assert.ok(rq.queued.includes(BigInt(t.task)) || rq.curr === BigInt(t.task), "still on its run queue");
  // The hidden task's own links still point at its old neighbours (unlinked by hand).
  const prev = r.u64(node + r.off("list_head", "prev"));
  const next = r.u64(node);
  assertOnlyIn(a, [[pa(r, prev), 8], [pa(r, next) + 8n, 8]], "hide-process");
  assert.equal(r.u64(prev), next);
  assert.equal(r.u64(next + 8n), prev);
  assert.ok(t.hidden && !t.inTaskList);
});

test("hook-syscall: sys_call_table[nr] points into the rootkit module; nothing else changes but its load", () => {
  const a = apply("hook-syscall=getdents64");
  const { r } = a;
  const slot = r.sym("sys_call_table") + 217n * 8n;
  const mod = rkModuleOf(a);
  assertOnlyIn(a, [[pa(r, slot), 8], ...moduleLoadRanges(a, mod)], "hook-syscall");
  assert.ok(touched(a, pa(r, slot), 8));
  const m = r.modules().find((x) => x.name === mod)!;
  const h = r.syscallTable()[217]!;
  assert.ok(h >= m.base && h < m.base + BigInt(m.size));
  const gt = a.b.guest.groundTruth();
  assert.equal(gt.syscallTable.entries[217], `0x${h.toString(16)}`);
  assert.equal(gt.hooks[0]!.target, "sys_call_table[217]");
  assert.equal(BigInt(gt.hooks[0]!.original), fixtureProfile().requireSymbol("__x64_sys_getdents64") + r.slide);
});

test("hook-syscall with a hidden module: the hook's module is off the list but in the kset", () => {
  const a = apply("hook-syscall=62:hidden");
  const { r } = a;
  const gt = a.b.guest.groundTruth();
  const mod = gt.modules.find((m) => m.rootkit)!;
  assert.ok(mod.hiddenFromList && !mod.hiddenFromKset);
  assert.ok(!r.modules().some((m) => m.name === mod.name));
  assert.ok(r.ksetEntries().some((e) => e.name === mod.name && e.mod === BigInt(mod.struct)));
  const h = r.syscallTable()[62]!;
  assert.ok(h >= BigInt(mod.base) && h < BigInt(mod.base) + BigInt(mod.size));
});

test("patch-idt: one 16-byte gate changes", () => {
  const a = apply("patch-idt=14");
  const { r } = a;
  const gate = r.sym("idt_table") + 14n * 16n;
  assertOnlyIn(a, [[pa(r, gate), 16], ...moduleLoadRanges(a, rkModuleOf(a))], "patch-idt");
  const g = r.gate(14);
  const m = hiddenModule(a, rkModuleOf(a));
  assert.ok(g.handler >= m.base && g.handler < m.base + BigInt(m.size));
  assert.equal(g.ist, 0);
  assert.equal(g.present, true);
  assert.notEqual(r.gate(13).handler, g.handler);
});

test("lstar: every vCPU's MSR_LSTAR points into the rootkit module; memory changes only by its load", () => {
  const a = apply("lstar");
  const m = hiddenModule(a, rkModuleOf(a));
  assertOnlyIn(a, moduleLoadRanges(a, m.name), "lstar");
  for (const cpu of a.b.machine.cpus) {
    const l = cpu.getReg("lstar");
    assert.ok(l >= m.base && l < m.base + BigInt(m.size));
  }
  assert.ok(a.b.guest.groundTruth().lstar.every((x) => BigInt(x) === a.b.machine.cpus[0]!.getReg("lstar")));
});

test("hide-module: list_del of the module's list node only; its kobject stays in the kset", () => {
  const a = apply("hide-module=crc7");
  const { r } = a;
  const gt = a.b.guest.groundTruth();
  const m = gt.modules.find((x) => x.name === "crc7")!;
  const node = BigInt(m.struct) + r.off("module", "list");
  const allowed: Range[] = [[pa(r, node), 16]];
  for (const n of [r.sym("modules"), ...r.list(r.sym("modules"))]) allowed.push([pa(r, n), 16]);
  assertOnlyIn(a, allowed, "hide-module");
  assert.equal(a.diff.reduce((s, d) => s + d.len, 0) <= 32, true);
  assert.ok(!r.modules().some((x) => x.name === "crc7"));
  assert.ok(r.ksetEntries().some((e) => e.name === "crc7"));
  assert.equal(r.u64(node), 0xdead000000000100n);
});

test("hide-module without an argument hides the rootkit's own module", () => {
  const a = apply("hide-module");
  const gt = a.b.guest.groundTruth();
  const m = gt.modules.find((x) => x.rootkit)!;
  assert.ok(m.hiddenFromList);
  assert.ok(!a.r.modules().some((x) => x.name === m.name));
  assert.ok(a.r.ksetEntries().some((e) => e.name === m.name));
});

test("escalate-cred (zero): only the uid/gid fields of that process's cred become 0", () => {
  const probe = bootGuest({ seed: "rk" }).guest.groundTruth();
  const victim = probe.processes.find((p) => p.uid !== 0 && p.kind === "user")!;
  const a = apply(`escalate-cred=${victim.pid}:zero`);
  const { r } = a;
  const cred = BigInt(victim.cred);
  assertOnlyIn(a, [[pa(r, cred + r.off("cred", "uid")), 32]], "escalate-cred");
  const t = r.tasks().find((x) => x.pid === victim.pid)!;
  assert.equal(t.uid, 0);
  assert.equal(t.euid, 0);
  assert.equal(a.b.guest.groundTruth().processes.find((p) => p.pid === victim.pid)!.uid, 0);
});

test("escalate-cred (share): the task's cred pointers now point at init's cred", () => {
  const probe = bootGuest({ seed: "rk" }).guest.groundTruth();
  const victim = probe.processes.find((p) => p.uid !== 0 && p.kind === "user")!;
  const init = probe.processes.find((p) => p.pid === 1)!;
  const a = apply(`escalate-cred=${victim.pid}:share`);
  const { r } = a;
  const task = BigInt(victim.task);
  assertOnlyIn(a, [[pa(r, task + r.off("task_struct", "real_cred")), 16]], "escalate-cred share");
  assert.equal(r.u64(task + r.off("task_struct", "cred")), BigInt(init.cred));
  assert.equal(r.tasks().find((x) => x.pid === victim.pid)!.uid, 0);
});

test("patch-text: 5 bytes at the function's entry become jmp rel32 into the rootkit module", () => {
  const a = apply("patch-text=__x64_sys_kill");
  const { r } = a;
  const fn = fixtureProfile().requireSymbol("__x64_sys_kill") + r.slide;
  assertOnlyIn(a, [[pa(r, fn), 5], ...moduleLoadRanges(a, rkModuleOf(a))], "patch-text");
  const b = r.read(fn, 5);
  assert.equal(b[0], 0xe9);
  const target = fn + 5n + BigInt(new DataView(b.buffer).getInt32(1, true));
  const m = hiddenModule(a, rkModuleOf(a));
  assert.ok(target >= m.base && target < m.base + BigInt(m.size));
});

for (const [spec, table, member] of [
  ["hook-proc-fops", "proc_root_operations", ["file_operations", "iterate_shared"]],
  ["hook-tty", "n_tty_ops", ["tty_ldisc_ops", "receive_buf"]],
  ["hook-afinfo=show:inplace", "tcp4_seq_ops", ["seq_operations", "show"]],
] as const) {
  test(`${spec}: ${table}.${member[1]} points into the rootkit module, nothing else changes`, () => {
    const a = apply(spec);
    const { r } = a;
    const slot = r.sym(table) + r.off(member[0], member[1]);
    assertOnlyIn(a, [[pa(r, slot), 8], ...moduleLoadRanges(a, rkModuleOf(a))], spec);
    assert.ok(touched(a, pa(r, slot), 8));
    const m = hiddenModule(a, rkModuleOf(a));
    const v = r.u64(slot);
    assert.ok(v >= m.base && v < m.base + BigInt(m.size));
  });
}

test("hook-afinfo: /proc/net/tcp's seq_ops → a copy of tcp4_seq_ops in the rootkit module, show → its code; nothing else changes", () => {
  const a = apply("hook-afinfo");
  const { r } = a;
  const tcp = r.procTree(r.u64(r.sym("init_net") + r.off("net", "proc_net"))).find((e) => e.path === "tcp")!;
  const slot = tcp.va + r.off("proc_dir_entry", "seq_ops");
  assertOnlyIn(a, [[pa(r, slot), 8], ...moduleLoadRanges(a, rkModuleOf(a))], "hook-afinfo");
  assert.ok(touched(a, pa(r, slot), 8));
  const m = hiddenModule(a, rkModuleOf(a));
  const inModule = (v: bigint): boolean => v >= m.base && v < m.base + BigInt(m.size);
  const copy = r.u64(slot);
  assert.ok(inModule(copy), "the entry's seq_ops is in the module");
  const tcp4 = r.sym("tcp4_seq_ops");
  for (const f of ["start", "next", "stop"]) assert.equal(r.u64(copy + r.off("seq_operations", f)), r.u64(tcp4 + r.off("seq_operations", f)), f);
  const show = r.u64(copy + r.off("seq_operations", "show"));
  assert.ok(inModule(show) && show < m.base + 0x1000n, "show is module text");
  // tcp4_seq_ops itself is untouched; the hook chains to its show (saved in the module's data).
  assert.equal(r.u64(tcp4 + r.off("seq_operations", "show")), fixtureProfile().requireSymbol("tcp4_seq_show") + r.slide);
  assert.deepEqual(a.b.guest.groundTruth().hooks.map((h) => [h.kind, h.target, BigInt(h.current)]), [["afinfo", "/proc/net/tcp seq_ops", copy]]);
});

test("hook-netfilter: hooks_ipv4[POST_ROUTING] → new nf_hook_entries with the rootkit hook first", () => {
  const a = apply("hook-netfilter");
  const { r } = a;
  const slot = r.sym("init_net") + r.off("net", "nf.hooks_ipv4") + 4n * 8n;
  const entries = r.u64(slot);
  const n = r.read(entries + r.off("nf_hook_entries", "num_hook_entries"), 2);
  assert.equal(n[0], 2);
  const hooks = entries + r.off("nf_hook_entries", "hooks");
  const first = r.u64(hooks + r.off("nf_hook_entry", "hook"));
  const second = r.u64(hooks + 16n + r.off("nf_hook_entry", "hook"));
  assert.equal(second, fixtureProfile().requireSymbol("apparmor_ip_postroute") + r.slide);
  const m = hiddenModule(a, rkModuleOf(a));
  assert.ok(first >= m.base && first < m.base + BigInt(m.size));
  assertOnlyIn(a, [[pa(r, slot), 8], [pa(r, entries), 64], ...moduleLoadRanges(a, m.name)], "hook-netfilter");
});

test("hook-keyboard: a rootkit notifier_block heads keyboard_notifier_list, chained to the old (empty) head", () => {
  const a = apply("hook-keyboard");
  const { r } = a;
  const head = r.sym("keyboard_notifier_list") + r.off("atomic_notifier_head", "head");
  const nb = r.u64(head);
  const m = hiddenModule(a, rkModuleOf(a));
  assert.ok(nb >= m.base && nb < m.base + BigInt(m.size));
  // The chain was empty (nothing on this kernel registers a keyboard notifier).
  assert.equal(r.u64(nb + r.off("notifier_block", "next")), 0n);
  const fn = r.u64(nb + r.off("notifier_block", "notifier_call"));
  assert.ok(fn >= m.base && fn < m.base + BigInt(m.size));
  assertOnlyIn(a, [[pa(r, head), 8], ...moduleLoadRanges(a, m.name)], "hook-keyboard");
});

test("with the workload running, the planted code is executed (fetched at CPL 0)", () => {
  for (const spec of ["hook-syscall=getdents64", "lstar", "patch-idt", "hook-proc-fops", "hook-netfilter", "hook-tty", "hook-keyboard", "hook-afinfo", "patch-text=__x64_sys_getpid"]) {
    const b = bootGuest({ seed: "exec", workload: true, rootkits: [spec] });
    let hits: unknown[] = [];
    for (let round = 0; round < 40 && hits.length === 0; round++) {
      b.machine.log.length = 0;
      b.machine.roundRobin(b.guest, 3, 300);
      const mods = b.guest.groundTruth().modules.filter((m) => m.rootkit);
      if (mods.length === 0) continue;
      assert.equal(mods.length, 1, spec);
      const base = BigInt(mods[0]!.base);
      const end = base + BigInt(mods[0]!.size);
      hits = b.machine.log.filter((x) => x.kind === "fetch" && x.cpl === 0 && x.va >= base && x.va < end);
    }
    assert.ok(hits.length > 0, `${spec}: rootkit code ran`);
  }
});

test("unknown scenario names and bad arguments are rejected up front", () => {
  assert.throws(() => parseRootkitSpecs(["nope"]), (e: unknown) => e instanceof GuestError && e.code === "UNKNOWN_ROOTKIT");
  assert.throws(() => parseRootkitSpecs(["patch-idt=300"]), (e: unknown) => e instanceof GuestError && e.code === "BAD_ROOTKIT_ARG");
  assert.throws(() => parseRootkitSpecs(["hook-syscall=not_a_syscall"]), (e: unknown) => e instanceof GuestError && e.code === "BAD_ROOTKIT_ARG");
  assert.deepEqual(parseRootkitSpecs(["hide-process=vmi_alpha", "lstar"]), [{ name: "hide-process", arg: "vmi_alpha" }, { name: "lstar" }]);
});

/**
 * Read-back of what the model now lays out for the forensic checks, walked from a vCPU's
 * CR3/IDTR with profile offsets only (testing/linux-reader.ts) and compared with the real
 * kernel's data read from the fixture image (REAL_*): net_namespace_list and init_net,
 * the procfs trees (proc_root's entries and init_net.proc_net with tcp/udp/… and their
 * seq_ops), the CPU masks, every netfilter family's hooks, the keyboard notifier chain,
 * and the modules' signature/taint state and the builtin kobjects of the module kset.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { bootGuest, settle } from "./testing/harness.js";
import type { LinuxReader, RProcEntry } from "./testing/linux-reader.js";
import { fixtureProfile } from "./testing/btf-profile-view.js";
import { REAL_BUILTIN_KOBJECTS, REAL_MODULES, REAL_NF_HOOKS, REAL_PROC_NET, REAL_PROC_ROOT } from "./data/real-kernel-data.generated.js";
import type { RealProcEntry, RealSymRef } from "./data/real-kernel-data-types.js";

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const TAINT_OOT_MODULE = 12n;
const TAINT_UNSIGNED_MODULE = 13n;

function sym(r: LinuxReader, ref: RealSymRef | undefined): bigint {
  return ref === undefined ? 0n : ref.addr + BigInt(ref.off ?? 0) + r.slide;
}

/** Flattens a real tree to path → entry (paths as the reader gives them). */
function flatten(entries: readonly RealProcEntry[], prefix = ""): Map<string, RealProcEntry> {
  const out = new Map<string, RealProcEntry>();
  for (const e of entries) {
    const path = prefix === "" ? e.name : `${prefix}/${e.name}`;
    out.set(path, e);
    for (const [p, c] of flatten(e.children ?? [], path)) out.set(p, c);
  }
  return out;
}

/** Every entry of a walked tree matches the real entry at its path, pointer by pointer. */
function assertTree(r: LinuxReader, walked: readonly RProcEntry[], real: Map<string, RealProcEntry>, what: string): void {
  const byPath = new Map(walked.slice(1).map((e) => [e.path, e]));
  assert.deepEqual([...byPath.keys()].sort(), [...real.keys()].sort(), `${what}: the same entries`);
  for (const [path, e] of byPath) {
    const x = real.get(path)!;
    const at = `${what}/${path}`;
    assert.equal(e.name, x.name, at);
    assert.equal(e.namelen, x.name.length, at);
    assert.equal(e.mode, x.mode, at);
    assert.equal(e.nlink, x.nlink, at);
    assert.equal(e.lowIno, x.lowIno, at);
    assert.equal(e.iops, sym(r, x.iops), `${at} proc_iops`);
    assert.equal(e.ops, sym(r, x.ops), `${at} proc_ops`);
    assert.equal(e.dops, sym(r, x.dops), `${at} proc_dops`);
    assert.equal(e.seqOps, sym(r, x.seq), `${at} seq_ops`);
    if (typeof x.data === "number") assert.equal(e.data, BigInt(x.data), `${at} data`);
    else if (x.data !== undefined) assert.equal(e.data, sym(r, x.data), `${at} data`);
    if ((x.mode & S_IFMT) === S_IFLNK) assert.equal(r.str(e.data, 64), x.link, `${at} link`);
    assert.ok(e.ordered, `${at}: subdir in proc_match order`);
    const parentPath = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
    const parent = parentPath === "" ? walked[0]! : byPath.get(parentPath)!;
    assert.equal(e.parent, parent.va, `${at} parent`);
  }
}

test("init_net is on net_namespace_list (net.list), with its ns_common, user_ns and /proc/net", () => {
  for (const kaslr of [false, true]) {
    const b = bootGuest({ kaslr });
    const r = b.reader();
    const net = r.sym("init_net");
    const nodes = r.list(r.sym("net_namespace_list"));
    assert.deepEqual(nodes, [net + r.off("net", "list")], "one namespace: init_net");
    assert.equal(r.u64(net + r.off("net", "list") + 8n), r.sym("net_namespace_list"), "list.prev");
    assert.equal(r.u64(net + r.off("net", "ns.ops")), r.sym("netns_operations"));
    assert.equal(r.u64(net + r.off("net", "user_ns")), r.sym("init_user_ns"));
    assert.ok(r.u32(net + r.off("net", "ns.count")) > 0 && r.u32(net + r.off("net", "passive")) > 0);
    // The namespace a process sees is the one on the list.
    const init = r.tasks().find((t) => t.pid === 1)!;
    const nsproxy = r.u64(init.va + r.off("task_struct", "nsproxy"));
    assert.equal(r.u64(nsproxy + r.off("nsproxy", "net_ns")), net);
  }
});

test("/proc/net: init_net.proc_net's tree is the real kernel's, tcp/udp on their seq_operations", () => {
  const b = bootGuest({ kaslr: true });
  const r = b.reader();
  const net = r.sym("init_net");
  const procNet = r.u64(net + r.off("net", "proc_net"));
  const walked = r.procTree(procNet);
  // proc_net_ns_init's anchor: "net", mode 0, parent proc_root (but not in its tree), data = the namespace.
  const root = walked[0]!;
  assert.deepEqual([root.name, root.mode, root.parent, root.data], ["net", 0, r.sym("proc_root"), net]);
  assert.equal(root.nlink, REAL_PROC_NET.nlink);
  assertTree(r, walked, flatten(REAL_PROC_NET.children ?? []), "/proc/net");
  assert.equal(r.u64(net + r.off("net", "proc_net_stat")), walked.find((e) => e.path === "stat")!.va);
  const want: Record<string, [string, string, string | null]> = {
    tcp: ["proc_net_seq_ops", "tcp4_seq_ops", "tcp4_seq_afinfo"],
    tcp6: ["proc_net_seq_ops", "tcp6_seq_ops", "tcp6_seq_afinfo"],
    udp: ["proc_net_seq_ops", "udp_seq_ops", "udp4_seq_afinfo"],
    udp6: ["proc_net_seq_ops", "udp6_seq_ops", "udp6_seq_afinfo"],
    snmp: ["proc_net_single_ops", "snmp_seq_show", null],
  };
  const p = fixtureProfile();
  for (const [name, [ops, seq, data]] of Object.entries(want)) {
    const e = walked.find((x) => x.path === name)!;
    assert.equal(e.ops, p.requireSymbol(ops) + r.slide, `${name} proc_ops`);
    assert.equal(e.seqOps, p.requireSymbol(seq) + r.slide, `${name} seq_ops`);
    assert.equal(e.data, data === null ? 0n : p.requireSymbol(data) + r.slide, `${name} data`);
  }
  // The tables themselves are the kernel's: tcp4_seq_ops.show is tcp4_seq_show, proc_net_seq_ops opens with seq_open_net.
  assert.equal(r.u64(p.requireSymbol("tcp4_seq_ops") + r.slide + r.off("seq_operations", "show")), p.requireSymbol("tcp4_seq_show") + r.slide);
  assert.equal(r.u64(p.requireSymbol("proc_net_seq_ops") + r.slide + r.off("proc_ops", "proc_open")), p.requireSymbol("seq_open_net") + r.slide);
  assert.equal(r.u64(p.requireSymbol("proc_net_seq_ops") + r.slide + r.off("proc_ops", "proc_read")), p.requireSymbol("seq_read") + r.slide);
  assert.equal(r.u32(p.requireSymbol("tcp6_seq_afinfo") + r.slide), 10, "tcp6_seq_afinfo.family = AF_INET6");
});

test("/proc: proc_root's tree is the real kernel's; /proc/net there is the self/net symlink", () => {
  const b = bootGuest({ kaslr: false });
  const r = b.reader();
  const walked = r.procTree(r.sym("proc_root"));
  assert.equal(walked[0]!.ops, r.sym("proc_root_operations"));
  assertTree(r, walked, flatten(REAL_PROC_ROOT), "/proc");
  const link = walked.find((e) => e.path === "net")!;
  assert.equal(link.mode & S_IFMT, S_IFLNK);
  assert.equal(r.str(link.data, 16), "self/net");
  assert.notEqual(link.va, r.u64(r.sym("init_net") + r.off("net", "proc_net")));
  // Names of 16+ characters are kmalloc'd, shorter ones sit in the object (inline_name).
  for (const e of walked.slice(1)) {
    const nameVa = r.u64(e.va + r.off("proc_dir_entry", "name"));
    assert.equal(nameVa === e.va + r.off("proc_dir_entry", "inline_name"), e.name.length < 16, e.path);
  }
});

test("CPU masks: possible, present, online and active hold every vCPU; __num_online_cpus counts them", () => {
  for (const vcpus of [1, 2, 4]) {
    const b = bootGuest({ vcpus });
    const r = b.reader();
    const want = (1n << BigInt(vcpus)) - 1n;
    for (const m of ["__cpu_possible_mask", "__cpu_present_mask", "__cpu_online_mask", "__cpu_active_mask"]) {
      assert.equal(r.u64(r.sym(m)), want, `${m} (${vcpus} vCPUs)`);
      assert.equal(r.u64(r.sym(m) + 8n), 0n, m);
    }
    assert.equal(r.u32(r.sym("__num_online_cpus")), vcpus);
    assert.equal(r.u32(r.sym("nr_cpu_ids")), vcpus);
  }
});

test("netfilter: every family's hooks as the fixture registered them (AppArmor POST_ROUTING for IPv4 and IPv6)", () => {
  const b = bootGuest({ kaslr: true });
  const r = b.reader();
  const got: string[] = [];
  for (const fam of ["hooks_ipv4", "hooks_ipv6", "hooks_arp", "hooks_bridge"]) {
    const m = fixtureProfile().findMember("net", `nf.${fam}`)!;
    for (let h = 0; h < m.size / 8; h++) {
      const e = r.u64(r.sym("init_net") + BigInt(m.offset + h * 8));
      if (e === 0n) continue;
      const n = r.read(e + r.off("nf_hook_entries", "num_hook_entries"), 2)[0]!;
      const fns = Array.from({ length: n }, (_, j) => r.u64(e + r.off("nf_hook_entries", "hooks") + BigInt(j) * 16n + r.off("nf_hook_entry", "hook")));
      got.push(`${fam}[${h}] ${fns.map((f) => f.toString(16)).join(",")}`);
    }
  }
  assert.deepEqual(got, REAL_NF_HOOKS.map((x) => `${x.family}[${x.hook}] ${x.fns.map((f) => sym(r, f).toString(16)).join(",")}`));
  assert.equal(got.length, 2);
});

test("keyboard_notifier_list is empty, as on the fixture kernel", () => {
  const r = bootGuest().reader();
  assert.equal(r.u64(r.sym("keyboard_notifier_list") + r.off("atomic_notifier_head", "head")), 0n);
});

test("modules: the stock ones signed and untainted as loaded; a rootkit's unsigned, out of tree, and the kernel tainted", () => {
  const b = bootGuest({ kaslr: true, rootkits: ["hook-netfilter"] });
  settle(b);
  const r = b.reader();
  const mods = r.modules().reverse();
  const rk = mods.pop()!;
  assert.deepEqual(
    mods.map((m) => ({ name: m.name, size: m.size, textSize: m.textSize, refcnt: m.refcnt, sigOk: m.sigOk, taints: Number(m.taints) })),
    REAL_MODULES.map((m) => ({ name: m.name, size: m.size, textSize: m.textSize, refcnt: m.refcnt, sigOk: m.sigOk, taints: m.taints })),
  );
  assert.equal(rk.name, "rk_net");
  assert.equal(rk.sigOk, false);
  assert.equal(rk.taints, (1n << TAINT_OOT_MODULE) | (1n << TAINT_UNSIGNED_MODULE));
  assert.equal(r.u64(r.sym("tainted_mask")), rk.taints);
  const gt = b.guest.groundTruth().modules;
  assert.deepEqual(gt.map((m) => [m.name, m.sigOk, m.taints]), [...mods, rk].map((m) => [m.name, m.sigOk, Number(m.taints)]));
  // Without a rootkit, nothing taints the kernel.
  const clean = bootGuest({ kaslr: true }).reader();
  assert.equal(clean.u64(clean.sym("tainted_mask")), 0n);
});

test("module kset: the fixture's builtin kobjects, then the modules, in kset order", () => {
  const r = bootGuest().reader();
  const kset = r.ksetEntries();
  assert.deepEqual(kset.map((e) => e.name), [...REAL_BUILTIN_KOBJECTS, ...REAL_MODULES.map((m) => m.name)]);
  assert.ok(kset.slice(0, REAL_BUILTIN_KOBJECTS.length).every((e) => e.mod === 0n));
});

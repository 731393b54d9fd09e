/**
 * The Profile on the real Debian 6.1.0-56-amd64 kernel, through both backends: BTF +
 * System.map read directly, and the committed ISF generated from them. Expected numbers
 * are copied by hand from ../shared/fixtures/linux/README.md ("Key offsets") and from
 * `pahole -F btf vmlinux.btf -C <struct>` (noted per line).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { isSevenError } from "../base/index.js";
import type { Profile } from "./profile.js";
import { BANNER, btfFixtureProfile, committedProfile } from "./testing/fixtures.js";

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(isSevenError(e), String(e));
    return e.code;
  }
  assert.fail("expected an error");
}

const backends: readonly (readonly [string, () => Profile])[] = [
  ["BTF + System.map", btfFixtureProfile],
  ["committed ISF", committedProfile],
];

for (const [label, load] of backends) {
  test(`${label}: key offsets and sizes from the fixtures README`, () => {
    const p = load();
    assert.equal(p.sizeOf("task_struct"), 9792);
    const ts = (m: string) => p.offsetOf("task_struct", m);
    assert.deepEqual(
      [ts("__state"), ts("tasks"), ts("mm"), ts("pid"), ts("tgid"), ts("real_parent"), ts("real_cred"), ts("cred"), ts("comm")],
      [24, 2192, 2272, 2416, 2420, 2432, 2952, 2960, 2976],
    );
    assert.deepEqual(p.member("task_struct", "comm").type, { kind: "array", count: 16, subtype: { kind: "base", name: "char" } });
    assert.equal(p.member("task_struct", "comm").size, 16);
    assert.equal(p.offsetOf("cred", "uid"), 8);
    assert.equal(p.offsetOf("mm_struct", "pgd"), 72); // inside mm_struct's anonymous struct
    assert.equal(p.offsetOf("module", "list"), 8);
    assert.equal(p.offsetOf("module", "name"), 24);
    assert.deepEqual(p.member("module", "name").type, { kind: "array", count: 56, subtype: { kind: "base", name: "char" } });
    assert.equal(p.sizeOf("module"), 896); // pahole: size: 896
    assert.equal(p.sizeOf("cred"), 176); // pahole: size: 176
    assert.equal(p.sizeOf("list_head"), 16);
    assert.equal(p.sizeOf("pointer"), 8);
    assert.equal(p.sizeOf("int"), 4);
  });

  test(`${label}: member types, nested paths, anonymous members`, () => {
    const p = load();
    assert.deepEqual(p.member("task_struct", "tasks").type, { kind: "struct", name: "list_head" });
    assert.deepEqual(p.member("task_struct", "mm").type, { kind: "pointer", subtype: { kind: "struct", name: "mm_struct" } });
    assert.deepEqual(p.member("task_struct", "real_cred").type, { kind: "pointer", subtype: { kind: "struct", name: "cred" } });
    assert.equal(p.member("task_struct", "mm").size, 8);
    // pahole: struct sched_entity se at 128; u64 vruntime at 80 inside it
    assert.equal(p.offsetOf("task_struct", "se.vruntime"), 208);
    assert.equal(p.offsetOf("task_struct", ["se", "vruntime"]), 208);
    // pahole: struct thread_struct thread at 5376; long unsigned int sp at 24 inside it
    assert.equal(p.offsetOf("task_struct", "thread.sp"), 5400);
    // pahole: union { refcount_t rcu_users; struct rcu_head rcu; } at 4968
    assert.equal(p.offsetOf("task_struct", "rcu_users"), 4968);
    assert.equal(p.offsetOf("task_struct", "rcu"), 4968);
    assert.equal(p.offsetOf("task_struct", "rcu_users.refs"), 4968);
    // vm_area_struct: union { struct { rb; rb_subtree_last } shared; anon_name } at 40
    assert.equal(p.offsetOf("vm_area_struct", "shared.rb_subtree_last"), 64);
    assert.equal(p.offsetOf("vm_area_struct", "anon_name"), 40);
    assert.equal(p.offsetOf("vm_area_struct", "vm_file"), 112);
    assert.equal(p.sizeOf("vm_area_struct"), 152);
    // pahole: struct hlist_head tasks[4] at 16 of struct pid
    assert.deepEqual(p.member("pid", "tasks").type, { kind: "array", count: 4, subtype: { kind: "struct", name: "hlist_head" } });
    // the anonymous struct of mm_struct is addressable by its dwarf2json-style name too
    const anon = p.userType("mm_struct").fields["unnamed_field_0"];
    assert.ok(anon !== undefined && anon.anonymous === true && anon.type.kind === "struct");
  });

  test(`${label}: bitfields agree with pahole`, () => {
    const p = load();
    // pahole: "unsigned int in_execve:1; /* 2344: 2 4 */"
    const ie = p.member("task_struct", "in_execve");
    assert.deepEqual(ie.type, { kind: "bitfield", bit_position: 2, bit_length: 1, type: { kind: "base", name: "unsigned int" } });
    assert.deepEqual([ie.offset, ie.bitOffset, ie.bitLength, ie.size], [2344, 2344 * 8 + 2, 1, 4]);
    // "unsigned int sched_reset_on_fork:1; /* 2340: 0 4 */"
    assert.equal(p.member("task_struct", "sched_reset_on_fork").bitOffset, 2340 * 8);
    // "__u64 __mce_reserved:62; /* 5272: 2 8 */"
    const mce = p.member("task_struct", "__mce_reserved");
    assert.deepEqual([mce.offset, mce.bitOffset, mce.bitLength, mce.size], [5272, 5272 * 8 + 2, 62, 8]);
    // struct idt_bits (in gate_struct.bits at 4): "u16 dpl:2; /* 0:13 2 */", "u16 p:1; /* 0:15 2 */"
    const dpl = p.member("gate_struct", "bits.dpl");
    assert.deepEqual([dpl.offset, dpl.bitOffset, dpl.bitLength, dpl.size], [4, 4 * 8 + 13, 2, 2]);
    assert.equal(p.member("gate_struct", "bits.p").bitOffset, 4 * 8 + 15);
  });

  test(`${label}: enums, symbols, reverse lookup, banner`, () => {
    const p = load();
    assert.deepEqual(
      new Map(p.enumConstants("maple_type")),
      new Map([
        ["maple_dense", 0n],
        ["maple_leaf_64", 1n],
        ["maple_range_64", 2n],
        ["maple_arange_64", 3n],
      ]),
    );
    assert.equal(p.enumValue("maple_type", "maple_range_64"), 2n);
    assert.equal(p.enumValue("pid_type", "PIDTYPE_PID"), 0n);
    assert.equal(p.requireSymbol("init_task"), 0xffffffff82a1aa40n);
    assert.equal(p.symbolAddress("_text"), 0xffffffff81000000n);
    assert.equal(p.bannerAddress, 0xffffffff82161900n);
    assert.equal(p.symbolAddress("current_task"), 0x1fb80n);
    assert.equal(p.symbolAddress("no_such_symbol"), undefined);
    assert.deepEqual(p.symbolAt(0xffffffff82a1aa48n), { name: "init_task", address: 0xffffffff82a1aa40n, offset: 8n });
    assert.equal(p.symbolCount, 88582);
    assert.deepEqual(p.symbolType("current_task"), { kind: "pointer", subtype: { kind: "struct", name: "task_struct" } });
    assert.deepEqual(p.symbolType("runqueues"), { kind: "struct", name: "rq" });
    assert.deepEqual(p.symbolType("init_task"), { kind: "struct", name: "task_struct" });
    assert.deepEqual(p.symbolType("schedule"), { kind: "function" });
    assert.deepEqual(p.symbolType("idt_table"), { kind: "array", count: 256, subtype: { kind: "struct", name: "gate_struct" } });
    assert.equal(p.banner, BANNER);
    assert.deepEqual(p.symbolType("linux_banner"), { kind: "array", count: BANNER.length + 1, subtype: { kind: "base", name: "char" } });
  });

  test(`${label}: errors name what is missing`, () => {
    const p = load();
    assert.equal(codeOf(() => p.sizeOf("no_such_type")), "UNKNOWN_TYPE");
    assert.equal(codeOf(() => p.offsetOf("no_such_type", "x")), "UNKNOWN_TYPE");
    assert.equal(codeOf(() => p.offsetOf("task_struct", "no_such_member")), "UNKNOWN_MEMBER");
    assert.equal(codeOf(() => p.offsetOf("task_struct", "comm.x")), "NOT_A_STRUCT");
    assert.equal(codeOf(() => p.offsetOf("task_struct", "")), "BAD_ARGUMENT");
    assert.equal(codeOf(() => p.requireSymbol("no_such_symbol")), "UNKNOWN_SYMBOL");
    assert.equal(codeOf(() => p.enumValue("maple_type", "maple_nope")), "UNKNOWN_ENUM_CONSTANT");
    assert.equal(p.findMember("task_struct", "no_such_member"), undefined);
    assert.equal(p.hasMember("task_struct", "tasks"), true);
    assert.equal(p.hasType("constructor"), false); // untrusted names are own-property lookups
    assert.equal(p.hasType("__proto__"), false);
  });
}

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { DecodeError } from "../base/index.js";
import { parseBtf, type Btf } from "./btf.js";
import { BTF_KIND_NAMES, type BtfComposite } from "./btf-format.js";
import { BtfBuilder, sampleBtf } from "./testing/btf-builder.js";

const FIXTURE = new URL("../../../../shared/fixtures/linux/debian-6.1.0-56-amd64/vmlinux.btf", import.meta.url);

let real: Btf | undefined;
function vmlinux(): Btf {
  real ??= parseBtf(new Uint8Array(readFileSync(FIXTURE)));
  return real;
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof DecodeError, `expected DecodeError, got ${String(e)}`);
    return e.code;
  }
  assert.fail("expected a DecodeError");
}

function struct(b: Btf, name: string): BtfComposite {
  const id = b.find(name, "struct");
  assert.ok(id !== undefined, name);
  return b.type(id) as BtfComposite;
}

test("real vmlinux BTF: header, type count and kind counts (as bpftool dump lists them)", () => {
  const b = vmlinux();
  assert.equal(b.endian, "little");
  assert.equal(b.header.hdrLen, 24);
  assert.equal(b.count, 100751); // 100,750 types + void
  assert.equal(b.pointerSize, 8);
  const counts: Record<string, number> = {};
  for (let id = 1; id < b.count; id++) counts[b.kindName(id)] = (counts[b.kindName(id)] ?? 0) + 1;
  // bpftool btf dump file vmlinux.btf format raw | awk '{print $2}' | sort | uniq -c
  assert.deepEqual(counts, {
    func: 44546,
    func_proto: 23684,
    ptr: 12403,
    struct: 8721,
    array: 2997,
    const: 2735,
    enum: 1849,
    typedef: 1840,
    union: 1434,
    var: 380,
    fwd: 114,
    volatile: 20,
    int: 15,
    enum64: 7,
    float: 2,
    restrict: 2,
    datasec: 1,
  });
});

test("real vmlinux BTF: individual types match bpftool's raw dump", () => {
  const b = vmlinux();
  // [193] STRUCT 'task_struct' size=9792 vlen=252
  const ts = b.type(193) as BtfComposite;
  assert.equal(ts.kind, "struct");
  assert.equal(ts.name, "task_struct");
  assert.equal(ts.size, 9792);
  assert.equal(ts.members.length, 252);
  assert.equal(ts.kflag, true);
  // 'tasks' bits_offset=17536; 'thread_info' type_id=288 bits_offset=0
  assert.deepEqual(
    ts.members.find((m) => m.name === "tasks"),
    { name: "tasks", type: 97, bitOffset: 17536, bitfieldSize: 0 },
  );
  assert.deepEqual(ts.members[0], { name: "thread_info", type: 288, bitOffset: 0, bitfieldSize: 0 });
  // [13] INT 'char' size=1 bits_offset=0 nr_bits=8 encoding=SIGNED
  assert.deepEqual(b.type(13), { kind: "int", id: 13, name: "char", size: 1, signed: true, char: false, bool: false, bitOffset: 0, bits: 8 });
  // [77] INT '_Bool' ... encoding=BOOL
  assert.equal((b.type(77) as { bool: boolean }).bool, true);
  // [10] ARRAY '(anon)' type_id=7 index_type_id=28 nr_elems=2
  assert.deepEqual(b.type(10), { kind: "array", id: 10, name: "", elemType: 7, indexType: 28, nelems: 2 });
  // [3762] ENUM64 '(anon)' encoding=UNSIGNED size=8 vlen=11, 'PERF_TXN_ELISION' val=1ULL
  const e64 = b.type(3762);
  assert.ok(e64.kind === "enum64");
  assert.deepEqual(e64.values[0], { name: "PERF_TXN_ELISION", value: 1n });
  // [1036] FWD 'assoc_array_ptr' fwd_kind=struct
  assert.deepEqual(b.type(1036), { kind: "fwd", id: 1036, name: "assoc_array_ptr", fwdKind: "struct" });
  // [2] FUNC 'verify_cpu' type_id=1 linkage=static; [1] FUNC_PROTO ret_type_id=0 vlen=0
  assert.deepEqual(b.type(2), { kind: "func", id: 2, name: "verify_cpu", type: 1, linkage: 0 });
  assert.deepEqual(b.type(1), { kind: "func_proto", id: 1, name: "", returnType: 0, params: [], variadic: false });
  // [5146] VAR 'current_task' type_id=192, linkage=global
  assert.deepEqual(b.type(5146), { kind: "var", id: 5146, name: "current_task", type: 192, linkage: 1 });
  // [100750] DATASEC '.data..percpu' size=213252 vlen=380; current_task at offset 129920
  const ds = b.type(100750);
  assert.ok(ds.kind === "datasec");
  assert.equal(ds.size, 213252);
  assert.deepEqual(
    ds.vars.find((v) => v.type === 5146),
    { type: 5146, offset: 129920, size: 8 },
  );
  // [40046] RESTRICT type_id=11; [9] VOLATILE type_id=8; [8] CONST type_id=7
  assert.deepEqual(b.type(40046), { kind: "restrict", id: 40046, name: "", type: 11 });
  assert.equal(b.resolve(9), 7);
  assert.equal(b.nameOf(7), "long unsigned int");
  assert.deepEqual([...b.idsByName("task_struct")], [193]);
});

test("real vmlinux BTF: sizes and bitfields agree with pahole", () => {
  const b = vmlinux();
  const ts = struct(b, "task_struct");
  const m = (n: string) => ts.members.find((x) => x.name === n)!;
  // pahole -C task_struct: "unsigned int sched_reset_on_fork:1; /* 2340: 0 4 */"
  assert.deepEqual([m("sched_reset_on_fork").bitOffset, m("sched_reset_on_fork").bitfieldSize], [2340 * 8 + 0, 1]);
  // "unsigned int in_execve:1; /* 2344: 2 4 */"
  assert.deepEqual([m("in_execve").bitOffset, m("in_execve").bitfieldSize], [2344 * 8 + 2, 1]);
  // "__u64 __mce_reserved:62; /* 5272: 2 8 */"
  assert.deepEqual([m("__mce_reserved").bitOffset, m("__mce_reserved").bitfieldSize], [5272 * 8 + 2, 62]);
  assert.equal(b.sizeOf(b.find("task_struct", "struct")!), 9792);
  assert.equal(b.sizeOf(m("comm").type), 16);
  assert.equal(b.sizeOf(b.find("cred", "struct")!), 176);
  assert.equal(b.sizeOf(b.find("list_head", "struct")!), 16);
});

for (const endian of ["little", "big"] as const) {
  test(`synthetic BTF (${endian}-endian): every kind decodes`, () => {
    const { bytes, ids } = sampleBtf(endian);
    const b = parseBtf(bytes);
    assert.equal(b.endian, endian);
    assert.equal(b.count, 34);
    const kinds = new Set<string>();
    for (let id = 1; id < b.count; id++) kinds.add(b.kindName(id));
    assert.deepEqual([...kinds].sort(), BTF_KIND_NAMES.slice(1).slice().sort());

    const ts = b.type(ids["task_struct"]!) as BtfComposite;
    assert.equal(ts.size, 96);
    assert.deepEqual(ts.members[1], { name: "flag_a", type: ids["uint"], bitOffset: 32, bitfieldSize: 1 });
    assert.deepEqual(ts.members[3], { name: "wide", type: ids["ulong"], bitOffset: 66, bitfieldSize: 62 });
    assert.equal(ts.members[8]!.name, "");
    // kind_flag 0: the bitfield width comes from the int's nr_bits
    const old = b.type(ids["old_bits"]!) as BtfComposite;
    assert.equal(old.kflag, false);
    assert.deepEqual(old.members[1], { name: "y", type: ids["u3"], bitOffset: 3, bitfieldSize: 3 });
    // enums: signed 32-bit, unsigned 64-bit
    assert.deepEqual((b.type(ids["anon_enum"]!) as { values: unknown }).values, [
      { name: "NEG", value: -1n },
      { name: "POS", value: 1n },
    ]);
    assert.deepEqual((b.type(ids["big_enum"]!) as { values: unknown }).values, [
      { name: "TOP", value: 0xffff000000000000n },
      { name: "ONE", value: 1n },
    ]);
    assert.equal((b.type(ids["proto"]!) as { variadic: boolean }).variadic, true);
    assert.deepEqual(b.type(ids["decl_tag"]!), { kind: "decl_tag", id: ids["decl_tag"], name: "user", type: ids["task_struct"], componentIdx: 1, attribute: false });
    assert.deepEqual(b.type(ids["type_tag"]!), { kind: "type_tag", id: ids["type_tag"], name: "rcu", type: ids["task_struct"] });
    assert.deepEqual(b.type(ids["fwd_mm"]!), { kind: "fwd", id: ids["fwd_mm"], name: "mm_struct", fwdKind: "struct" });
    assert.equal(b.type(ids["float"]!).kind, "float");
    // qualifier / typedef / tag chains
    assert.equal(b.resolve(ids["const_pid"]!), ids["int"]);
    assert.equal(b.skipQualifiers(ids["const_pid"]!), ids["pid_t"]);
    assert.equal(b.resolve(ids["type_tag"]!), ids["task_struct"]);
    assert.equal(b.sizeOf(ids["char16"]!), 16);
    assert.equal(b.sizeOf(ids["restrict_ptr"]!), 8);
    assert.equal(b.sizeOf(0), 0);
    assert.equal(code(() => b.sizeOf(ids["func"]!)), "BTF_NO_SIZE");
  });
}

test("both byte orders decode to the same types", () => {
  const le = parseBtf(sampleBtf("little").bytes);
  const be = parseBtf(sampleBtf("big").bytes);
  for (let id = 0; id < le.count; id++) assert.deepEqual(be.type(id), le.type(id));
});

test("header errors", () => {
  const good = sampleBtf().bytes;
  assert.equal(code(() => parseBtf(good.subarray(0, 10))), "BTF_TRUNCATED");
  const badMagic = good.slice();
  badMagic[0] = 0;
  assert.equal(code(() => parseBtf(badMagic)), "BTF_BAD_MAGIC");
  assert.equal(code(() => parseBtf(new BtfBuilder().build({ version: 2 }))), "BTF_BAD_VERSION");
  assert.equal(code(() => parseBtf(new BtfBuilder().build({ flags: 1 }))), "BTF_BAD_FLAGS");
  const short = good.subarray(0, good.length - 1); // string section runs past the blob
  assert.equal(code(() => parseBtf(short)), "BTF_BAD_HEADER");
  const noNul = good.slice();
  noNul[noNul.length - 1] = 0x41;
  assert.equal(code(() => parseBtf(noNul)), "BTF_BAD_STRINGS");
  const hugeHdr = good.slice();
  new DataView(hugeHdr.buffer).setUint32(4, 0x7fffffff, true);
  assert.equal(code(() => parseBtf(hugeHdr)), "BTF_BAD_HEADER");
});

test("type errors: ids out of range, unknown kind, truncated records, bad names, bad ints", () => {
  const dangling = new BtfBuilder();
  dangling.ptr(5);
  assert.equal(code(() => parseBtf(dangling.build())), "BTF_BAD_TYPE_ID");

  const unknown = new BtfBuilder();
  unknown.raw(0, 20 << 24, 0);
  assert.equal(code(() => parseBtf(unknown.build())), "BTF_BAD_KIND");

  const truncated = new BtfBuilder();
  truncated.raw(0, (4 << 24) | 3, 8, [0, 0, 0]); // struct claiming 3 members, carrying 1
  assert.equal(code(() => parseBtf(truncated.build())), "BTF_TRUNCATED_TYPE");

  const badName = new BtfBuilder();
  badName.raw(9999, 2 << 24, 0);
  assert.equal(code(() => parseBtf(badName.build())), "BTF_BAD_NAME_OFFSET");

  const badInt = new BtfBuilder();
  badInt.int("x", 4, { bits: 40 });
  assert.equal(code(() => parseBtf(badInt.build())), "BTF_BAD_INT");

  const vlenOnPtr = new BtfBuilder();
  vlenOnPtr.raw(0, (2 << 24) | 1, 0);
  assert.equal(code(() => parseBtf(vlenOnPtr.build())), "BTF_BAD_INFO");

  const b = parseBtf(sampleBtf().bytes);
  assert.equal(code(() => b.type(b.count)), "BTF_BAD_TYPE_ID");
  assert.equal(code(() => b.type(-1)), "BTF_BAD_TYPE_ID");
  assert.equal(code(() => b.string(1 << 30)), "BTF_BAD_NAME_OFFSET");
});

test("cyclic typedef/qualifier and array chains end in a DecodeError", () => {
  const b = new BtfBuilder();
  b.typedef("a", 2); // 1 → 2
  b.const(1); // 2 → 1
  b.array(3, 0, 2); // 3: array of itself
  b.ptr(4); // 4: pointer to itself (fine: pointers have a size)
  const btf = parseBtf(b.build());
  assert.equal(code(() => btf.resolve(1)), "BTF_TYPE_CYCLE");
  assert.equal(code(() => btf.sizeOf(3)), "BTF_TYPE_CYCLE");
  assert.equal(btf.sizeOf(4), 8);
});

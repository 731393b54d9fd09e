import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { isSevenError } from "../base/index.js";
import { parseBtf } from "./btf.js";
import { generateIsf } from "./isf-generate.js";
import { encodeIsf } from "./isf-files.js";
import { decodeIsf, isfProfile } from "./isf-load.js";
import { parseSystemMap } from "./system-map.js";
import { BtfBuilder, sampleBtf } from "./testing/btf-builder.js";

const MAP = ["0000000000000010 A current_task", "ffffffff81000000 T do_thing", "ffffffff82000000 D linux_banner", "ffffffff82000100 D init_task", "ffffffff82000200 d init_task"].join("\n");

/** A deep copy with ordinary prototypes (generated dictionaries are null-prototype). */
function plain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

function sample(types?: readonly string[], banner?: string) {
  const { bytes } = sampleBtf();
  return generateIsf(parseBtf(bytes), parseSystemMap(MAP), {
    ...(types !== undefined ? { types } : {}),
    ...(banner !== undefined ? { banner } : {}),
    btfFile: { name: "vmlinux.btf", bytes },
    systemMapFile: { name: "System.map", bytes: new TextEncoder().encode(MAP) },
  });
}

test("all types: base types, user types, enums, names of anonymous things", () => {
  const g = sample();
  const d = g.document;
  assert.deepEqual(Object.keys(d.base_types).sort(), ["_Bool", "char", "float", "int", "long unsigned int", "pointer", "unsigned int", "void"]);
  assert.deepEqual(d.base_types["char"], { size: 1, signed: true, kind: "char", endian: "little" });
  assert.deepEqual(d.base_types["_Bool"], { size: 1, signed: false, kind: "bool", endian: "little" });
  assert.deepEqual(d.base_types["pointer"], { size: 8, signed: false, kind: "int", endian: "little" });
  assert.deepEqual(d.base_types["float"], { size: 4, signed: true, kind: "float", endian: "little" });

  const ts = d.user_types["task_struct"]!;
  assert.equal(ts.kind, "struct");
  assert.equal(ts.size, 96);
  assert.deepEqual(ts.fields["flag_b"], { offset: 4, type: { kind: "bitfield", bit_position: 1, bit_length: 3, type: { kind: "base", name: "unsigned int" } } });
  assert.deepEqual(ts.fields["wide"], { offset: 8, type: { kind: "bitfield", bit_position: 2, bit_length: 62, type: { kind: "base", name: "long unsigned int" } } });
  assert.deepEqual(ts.fields["mm"], { offset: 32, type: { kind: "pointer", subtype: { kind: "struct", name: "mm_struct" } } }); // via the FWD
  assert.deepEqual(ts.fields["pid"], { offset: 40, type: { kind: "base", name: "int" } }); // const pid_t → int
  assert.deepEqual(ts.fields["kind"], { offset: 44, type: { kind: "enum", name: "task_state" } });
  assert.deepEqual(ts.fields["fn"], { offset: 80, type: { kind: "pointer", subtype: { kind: "function" } } });
  // anonymous members: unnamed_field_<hex offset>, anonymous: true, types named unnamed_<sha1 prefix>
  const u = ts.fields["unnamed_field_30"]!;
  const s = ts.fields["unnamed_field_38"]!;
  assert.equal(u.anonymous, true);
  assert.equal(s.anonymous, true);
  assert.match((u.type as { name: string }).name, /^unnamed_[0-9a-f]{16}$/);
  assert.equal(u.type.kind, "union");
  assert.deepEqual(d.user_types[(u.type as { name: string }).name]!.fields["rcu"], { offset: 0, type: { kind: "base", name: "long unsigned int" } });
  const anonEnum = (ts.fields["sign"]!.type as { name: string }).name;
  assert.match(anonEnum, /^unnamed_[0-9a-f]{16}$/);
  assert.deepEqual(plain(d.enums[anonEnum]), { size: 4, base: "int", constants: { NEG: -1, POS: 1 } });
  assert.deepEqual(plain(d.enums["big"]), { size: 8, base: "long unsigned int", constants: { TOP: 0xffff000000000000n, ONE: 1 } });
  // kind_flag 0 bitfields through the int's nr_bits; that 3-bit int is stored as an unsigned int
  assert.deepEqual(d.user_types["old_bits"]!.fields["y"], { offset: 0, type: { kind: "bitfield", bit_position: 3, bit_length: 3, type: { kind: "base", name: "unsigned int" } } });
  assert.equal(g.userTypes, Object.keys(d.user_types).length);
  assert.equal(g.userTypes, 6); // list_head, task_struct, old_bits, mm_struct, the anonymous union and struct
});

test("symbols: addresses, types where known, banner constant data; metadata", () => {
  const banner = "Linux version 6.1.0-test\n";
  const d = sample(undefined, banner).document;
  assert.deepEqual(d.symbols["current_task"], { address: 0x10n, type: { kind: "pointer", subtype: { kind: "struct", name: "task_struct" } } });
  assert.deepEqual(d.symbols["do_thing"], { address: 0xffffffff81000000n, type: { kind: "function" } });
  assert.deepEqual(d.symbols["init_task"], { address: 0xffffffff82000100n, type: { kind: "struct", name: "task_struct" } }); // the global wins
  const lb = d.symbols["linux_banner"]!;
  assert.equal(Buffer.from(lb.constant_data!, "base64").toString("latin1"), banner + "\0");
  assert.deepEqual(lb.type, { kind: "array", count: banner.length + 1, subtype: { kind: "base", name: "char" } });
  assert.equal(d.metadata.format, "6.2.0");
  assert.deepEqual(d.metadata.producer, { name: "00seven-btf2isf", version: "1.0.0" });
  assert.deepEqual(d.metadata.linux!.symbols, [
    { kind: "system-map", name: "System.map", hash_type: "sha256", hash_value: createHash("sha256").update(MAP).digest("hex") },
  ]);
  assert.equal(d.metadata.linux!.types![0]!.name, "vmlinux.btf");
});

test("--types keeps the listed types and what they embed by value; other pointers become void pointers", () => {
  const d = sample(["task_struct"]).document;
  const names = Object.keys(d.user_types);
  assert.ok(names.includes("task_struct") && names.includes("list_head")); // list_head embedded by value
  assert.ok(!names.includes("mm_struct") && !names.includes("old_bits"));
  assert.equal(names.length, 4); // + the anonymous union and struct
  assert.deepEqual(d.user_types["task_struct"]!.fields["mm"]!.type, { kind: "pointer", subtype: { kind: "base", name: "void" } });
  assert.deepEqual(d.user_types["list_head"]!.fields["next"]!.type, { kind: "pointer", subtype: { kind: "struct", name: "list_head" } });
  assert.ok(d.enums["task_state"] !== undefined && d.enums["big"] !== undefined); // enums: always all
  // every name the document mentions is defined: it validates after a JSON round trip
  decodeIsf(encodeIsf(d, { gzip: false }));
  assert.throws(
    () => sample(["task_struct", "nope", "nada"]),
    (e: unknown) => isSevenError(e) && e.code === "UNKNOWN_TYPE" && /"nope", "nada"/.test(e.message),
  );
});

test("output is deterministic and round-trips through the ISF backend", () => {
  const a = encodeIsf(sample().document, { gzip: true });
  const b = encodeIsf(sample().document, { gzip: true });
  assert.deepEqual(a, b);
  const p = isfProfile(decodeIsf(a));
  assert.equal(p.offsetOf("task_struct", "rcu"), 48);
  assert.equal(p.offsetOf("task_struct", "b"), 60);
  assert.equal(p.member("task_struct", "wide").bitOffset, 66);
  assert.equal(p.symbolAddress("init_task"), 0xffffffff82000100n);
});

test("duplicate struct names get NAME__ID; identical anonymous types share one name", () => {
  const b = new BtfBuilder();
  const int = b.int("int", 4, { signed: true });
  b.struct("slot", 4, [["a", int, 0]]); // 2
  b.struct("slot", 8, [["b", int, 32]]); // 3
  const anon1 = b.struct("", 4, [["x", int, 0]]); // 4
  const anon2 = b.struct("", 4, [["x", int, 0]]); // 5
  b.struct("holder", 8, [
    ["", anon1, 0],
    ["", anon2, 32],
  ]);
  const d = generateIsf(parseBtf(b.build()), parseSystemMap("0 A x")).document;
  assert.deepEqual(Object.keys(d.user_types).sort().slice(0, 3), ["holder", "slot", "slot__3"]);
  const h = d.user_types["holder"]!.fields;
  assert.deepEqual(h["unnamed_field_0"]!.type, h["unnamed_field_4"]!.type);
  assert.equal(Object.keys(d.user_types).length, 4);
});

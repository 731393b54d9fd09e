import { test } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { DecodeError, isSevenError } from "../base/index.js";
import { decodeIsf, loadIsfProfile } from "./isf-load.js";
import { DELETE, overrideIsf, sampleIsfText } from "./testing/isf-sample.js";

/** The decode error's path (asserting it is an ISF_INVALID DecodeError). */
function badPath(text: string): string {
  try {
    decodeIsf(text);
  } catch (e) {
    assert.ok(e instanceof DecodeError, String(e));
    assert.equal(e.code, "ISF_INVALID", e.message);
    return e.details["path"] as string;
  }
  assert.fail("the document was accepted");
}

const TS = ["user_types", "task_struct"];

test("the sample document loads from text, plain bytes and gzip", () => {
  const text = sampleIsfText();
  const bytes = new TextEncoder().encode(text);
  for (const input of [text, bytes, new Uint8Array(gzipSync(bytes))]) {
    const p = loadIsfProfile(input);
    assert.equal(p.source, "isf");
    assert.equal(p.offsetOf("task_struct", "tasks"), 16);
    assert.equal(p.banner, "Linux version test\n");
    assert.equal(p.symbolAddress("init_task"), 0xffffffff82000100n);
  }
});

test("schema violations name the path of the bad element", () => {
  assert.equal(badPath(overrideIsf(["symbols"], DELETE)), "symbols");
  assert.equal(badPath(overrideIsf(["extra"], 1)), "extra");
  assert.equal(badPath(overrideIsf(["metadata", "format"], "5.0.0")), "metadata.format");
  assert.equal(badPath(overrideIsf(["metadata", "producer", "version"], "one")), "metadata.producer.version");
  assert.equal(badPath(overrideIsf(["base_types", "int", "size"], -1)), 'base_types["int"].size');
  assert.equal(badPath(overrideIsf(["base_types", "int", "kind"], "integer")), 'base_types["int"].kind');
  assert.equal(badPath(overrideIsf(["base_types", "int", "endian"], DELETE)), 'base_types["int"].endian');
  assert.equal(badPath(overrideIsf([...TS, "kind"], "record")), 'user_types["task_struct"].kind');
  assert.equal(badPath(overrideIsf([...TS, "size"], 1.5)), 'user_types["task_struct"].size');
  assert.equal(badPath(overrideIsf([...TS, "fields", "tasks", "offset"], "16")), 'user_types["task_struct"].fields["tasks"].offset');
  assert.equal(badPath(overrideIsf([...TS, "fields", "tasks", "extra"], true)), 'user_types["task_struct"].fields["tasks"].extra');
  assert.equal(badPath(overrideIsf([...TS, "fields", "tasks", "type", "kind"], "structure")), 'user_types["task_struct"].fields["tasks"].type.kind');
  assert.equal(badPath(overrideIsf([...TS, "fields", "comm", "type", "count"], -2)), 'user_types["task_struct"].fields["comm"].type.count');
  assert.equal(badPath(overrideIsf([...TS, "fields", "comm", "type", "subtype"], null)), 'user_types["task_struct"].fields["comm"].type.subtype');
  assert.equal(badPath(overrideIsf(["enums", "task_state", "constants", "RUNNING"], 0.5)), 'enums["task_state"].constants["RUNNING"]');
  assert.equal(badPath(overrideIsf(["enums", "task_state", "base"], "no_such_base")), 'enums["task_state"].base');
  assert.equal(badPath(overrideIsf(["symbols", "init_task", "address"], -1)), 'symbols["init_task"].address');
  assert.equal(badPath(overrideIsf(["symbols", "init_task", "address"], 1n << 64n)), 'symbols["init_task"].address');
  assert.equal(badPath(overrideIsf(["symbols", "linux_banner", "constant_data"], "not base64!")), 'symbols["linux_banner"].constant_data');
  assert.equal(badPath(overrideIsf(["symbols", "init_task", "type"], { kind: "struct", name: "nope" })), 'symbols["init_task"].type.name');
});

test("references and layout are checked: by-value names resolve, fields fit their struct", () => {
  // by value, a struct must be defined (and be of the kind the descriptor says)
  assert.equal(badPath(overrideIsf([...TS, "fields", "tasks", "type", "name"], "nope")), 'user_types["task_struct"].fields["tasks"].type.name');
  assert.equal(badPath(overrideIsf([...TS, "fields", "tasks", "type", "kind"], "union")), 'user_types["task_struct"].fields["tasks"].type.kind');
  assert.equal(badPath(overrideIsf([...TS, "fields", "kind", "type", "name"], "nope")), 'user_types["task_struct"].fields["kind"].type.name');
  assert.equal(badPath(overrideIsf([...TS, "fields", "pid", "type", "name"], "nope")), 'user_types["task_struct"].fields["pid"].type.name');
  // fields inside the struct; bitfields inside their storage type
  assert.equal(badPath(overrideIsf([...TS, "fields", "comm", "offset"], 90)), 'user_types["task_struct"].fields["comm"]');
  assert.equal(badPath(overrideIsf([...TS, "fields", "tasks", "offset"], 97)), 'user_types["task_struct"].fields["tasks"].offset');
  assert.equal(badPath(overrideIsf([...TS, "fields", "flag_b", "type", "bit_length"], 40)), 'user_types["task_struct"].fields["flag_b"].type');
  assert.equal(badPath(overrideIsf([...TS, "fields", "flag_b", "type", "type"], { kind: "pointer", subtype: { kind: "base", name: "int" } })), 'user_types["task_struct"].fields["flag_b"].type.type');
  assert.equal(badPath(overrideIsf([...TS, "fields", "comm", "type", "count"], 4294967295)), 'user_types["task_struct"].fields["comm"]');
  const huge = { kind: "array", count: 4294967295, subtype: { kind: "struct", name: "list_head" } };
  assert.equal(badPath(overrideIsf([...TS, "fields", "tasks", "type"], huge)), 'user_types["task_struct"].fields["tasks"].type');
  // under a pointer, an undefined struct is an opaque pointer: accepted, and asking its size says so
  const p = loadIsfProfile(overrideIsf([...TS, "fields", "mm", "type", "subtype", "name"], "opaque_thing"));
  const mm = p.member("task_struct", "mm").type;
  assert.ok(mm.kind === "pointer");
  assert.throws(() => p.sizeOfDesc(mm.subtype), (e: unknown) => isSevenError(e) && e.code === "UNKNOWN_TYPE");
});

test("hostile self-embedding anonymous members do not make member lookup loop", () => {
  const self = { type: { kind: "struct", name: "loop" }, offset: 0, anonymous: true };
  const loop = { kind: "struct", size: 8, fields: { unnamed_field_0: self, unnamed_field_0_1: self, unnamed_field_0_2: self, x: { type: { kind: "base", name: "int" }, offset: 4 } } };
  const p = loadIsfProfile(overrideIsf(["user_types", "loop"], loop));
  assert.equal(p.findMember("loop", "nothing"), undefined);
  assert.equal(p.offsetOf("loop", "x"), 4);
});

test("container errors: gzip, UTF-8, size cap, JSON syntax", () => {
  const code = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      assert.ok(e instanceof DecodeError, String(e));
      return e.code;
    }
    return "accepted";
  };
  const gz = new Uint8Array(gzipSync(new TextEncoder().encode(sampleIsfText())));
  assert.equal(code(() => decodeIsf(gz.subarray(0, gz.length - 20))), "ISF_GZIP");
  assert.equal(code(() => decodeIsf(gz, { maxBytes: 1000 })), "ISF_TOO_LARGE");
  assert.equal(code(() => decodeIsf(new Uint8Array([0x7b, 0xff, 0x7d]))), "ISF_UTF8");
  assert.equal(code(() => decodeIsf("{")), "JSON_SYNTAX");
  assert.equal(code(() => decodeIsf("[]")), "ISF_INVALID");
});

/**
 * Round trips on the real kernel: BTF → ISF → load gives the same answers as BTF read
 * directly, for the committed (restricted) profile and for a full in-memory generation.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseBtf } from "./btf.js";
import { BtfIsfView } from "./btf-isf-view.js";
import { generateIsf } from "./isf-generate.js";
import { encodeIsf } from "./isf-files.js";
import { decodeIsf, isfProfile } from "./isf-load.js";
import type { IsfTypeDesc } from "./isf-types.js";
import { parseSystemMap } from "./system-map.js";
import { btfFixtureProfile, committedProfile, fixtureBytes } from "./testing/fixtures.js";

function plain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

/** The documented --types rule: a pointer to a struct/union/enum outside the output points to void. */
function degrade(d: IsfTypeDesc, kept: ReadonlySet<string>, enums: ReadonlySet<string>): IsfTypeDesc {
  const mentionsMissing = (x: IsfTypeDesc): boolean => {
    switch (x.kind) {
      case "struct":
      case "union":
      case "class":
        return !kept.has(x.name);
      case "enum":
        return !enums.has(x.name);
      case "pointer":
        return false;
      case "array":
        return mentionsMissing(x.subtype);
      case "bitfield":
        return mentionsMissing(x.type);
      default:
        return false;
    }
  };
  switch (d.kind) {
    case "pointer":
      return mentionsMissing(d.subtype) ? { kind: "pointer", subtype: { kind: "base", name: "void" } } : { kind: "pointer", subtype: degrade(d.subtype, kept, enums) };
    case "array":
      return { kind: "array", count: d.count, subtype: degrade(d.subtype, kept, enums) };
    default:
      return d;
  }
}

test("committed profile = BTF read directly, for every kept type and every symbol", () => {
  const isf = committedProfile();
  const btf = btfFixtureProfile();
  const kept = new Set(isf.userTypeNames());
  const enums = new Set(isf.enumNames());
  assert.equal(kept.size, 355);
  for (const name of FORENSICS_TYPES_SAMPLE) assert.ok(kept.has(name), name);
  for (const name of kept) {
    const a = isf.userType(name);
    const b = btf.userType(name);
    assert.equal(a.kind, b.kind, name);
    assert.equal(a.size, b.size, name);
    assert.deepEqual(Object.keys(a.fields).sort(), Object.keys(b.fields).sort(), name);
    for (const [f, fa] of Object.entries(a.fields)) {
      const fb = b.fields[f]!;
      assert.equal(fa.offset, fb.offset, `${name}.${f}`);
      assert.equal(fa.anonymous, fb.anonymous, `${name}.${f}`);
      assert.deepEqual(plain(fa.type), plain(degrade(fb.type, kept, enums)), `${name}.${f}`);
    }
  }
  assert.deepEqual(new Set(isf.enumNames()), new Set(btf.enumNames()));
  for (const e of ["maple_type", "pid_type", "module_state"]) assert.deepEqual(isf.enumConstants(e), btf.enumConstants(e));
  assert.equal(isf.symbolCount, btf.symbolCount);
  for (const s of isf.symbolNames()) {
    assert.equal(isf.symbolAddress(s), btf.symbolAddress(s), s);
    const t = isf.symbolType(s);
    if (t !== undefined) assert.deepEqual(plain(t), plain(degrade(btf.symbolType(s)!, kept, enums)), s);
  }
  for (const a of [0xffffffff81000000n, 0xffffffff81234567n, 0xffffffff82a1aa48n, 0x1fb81n]) assert.deepEqual(isf.symbolAt(a), btf.symbolAt(a));
});

const FORENSICS_TYPES_SAMPLE = [
  "task_struct", "mm_struct", "vm_area_struct", "cred", "files_struct", "fdtable", "file", "path", "dentry", "qstr", "inode",
  "module", "module_kobject", "kobject", "kset", "list_head", "hlist_node", "pid", "upid", "pid_namespace", "idr", "xarray",
  "xa_node", "rq", "cfs_rq", "rb_root", "rb_node", "sched_entity", "file_operations", "proc_ops", "seq_operations",
  "tcp_seq_afinfo", "seq_file", "nf_hook_entries", "nf_hook_entry", "net", "netns_nf", "tty_ldisc_ops", "tty_struct",
  "notifier_block", "atomic_notifier_head", "maple_tree", "maple_node", "gate_struct", "desc_ptr", "kernel_symbol", "kernel_param",
];

test("full generation (every type) → JSON → load gives exactly the BTF view's types and enums", () => {
  const { btf: btfBytes, systemMap } = fixtureBytes();
  const btf = parseBtf(btfBytes);
  const view = new BtfIsfView(btf);
  const gen = generateIsf(btf, parseSystemMap(systemMap));
  assert.equal(gen.userTypes, view.userTypeIds().size);
  const loaded = decodeIsf(encodeIsf(gen.document, { gzip: false }));
  const p = isfProfile(loaded);
  for (const [name, id] of view.userTypeIds()) assert.deepEqual(plain(p.userType(name)), plain(view.userType(id)), name);
  for (const [name, id] of view.enumIds()) assert.deepEqual(plain(loaded.enums[name]), plain(view.enumType(id)), name);
  assert.deepEqual(plain(loaded.base_types), plain(view.baseTypes()));
  assert.equal(gen.userTypes, 9491);
  assert.equal(gen.enums, 1856);
});

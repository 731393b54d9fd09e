/**
 * The real kernel's tables the guest copies: regenerated from the fixture memory image
 * they were read from, they match the committed file byte for byte; every pointer names a
 * System.map symbol at its address.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parseSystemMap } from "../../shared/kernel/index.js";
import { generateRealKernelData } from "./extract-real-kernel-data.js";
import { REAL_IDT, REAL_NF_HOOKS, REAL_PROC_NET, REAL_PROC_ROOT, REAL_SYSCALL_TABLE, REAL_TABLES, REAL_TTY_LDISCS } from "./real-kernel-data.generated.js";
import type { RealProcEntry, RealSymRef } from "./real-kernel-data-types.js";
import { FIXTURE_DIR } from "../testing/btf-profile-view.js";

test("real-kernel-data.generated.ts is what the generator reads from the fixture image", () => {
  const committed = readFileSync(new URL("./real-kernel-data.generated.ts", import.meta.url), "utf8");
  assert.equal(generateRealKernelData(), committed);
});

test("every pointer names a System.map symbol at its address", () => {
  const map = parseSystemMap(readFileSync(new URL("debian-6.1.0-56-amd64/System.map", FIXTURE_DIR), "utf8"));
  const at = new Map<string, Set<bigint>>();
  for (const e of map.entries) {
    let s = at.get(e.name);
    if (s === undefined) at.set(e.name, (s = new Set()));
    s.add(e.address);
  }
  const check = (r: RealSymRef): void => assert.ok(at.get(r.sym)?.has(r.addr), `${r.sym} at 0x${r.addr.toString(16)}`);
  assert.equal(REAL_SYSCALL_TABLE.length, 451);
  REAL_SYSCALL_TABLE.forEach(check);
  assert.equal(REAL_IDT.length, 256);
  for (const g of REAL_IDT) check(g.handler);
  for (const t of REAL_TABLES) {
    assert.ok(at.get(t.symbol)?.has(t.addr), t.symbol);
    for (const v of Object.values(t.fields)) if (typeof v === "object" && "sym" in v) check(v);
  }
  for (const [, r] of REAL_TTY_LDISCS) check(r);
  for (const h of REAL_NF_HOOKS) h.fns.forEach(check);
  const procRefs = (e: RealProcEntry): void => {
    for (const r of [e.iops, e.ops, e.dops, e.seq, e.data]) if (typeof r === "object") check(r);
    e.children?.forEach(procRefs);
  };
  REAL_PROC_ROOT.forEach(procRefs);
  procRefs(REAL_PROC_NET);
  // Every table a /proc entry points at (other than a single_show function) is copied.
  const tables = new Set(REAL_TABLES.map((t) => t.addr));
  const tablesOf = (e: RealProcEntry): void => {
    for (const r of [e.iops, e.ops]) if (r !== undefined) assert.ok(tables.has(r.addr), `${e.name}: ${r.sym}`);
    e.children?.forEach(tablesOf);
  };
  REAL_PROC_ROOT.forEach(tablesOf);
  tablesOf(REAL_PROC_NET);
  assert.equal(REAL_SYSCALL_TABLE[0]!.sym, "__x64_sys_read");
  assert.equal(REAL_SYSCALL_TABLE[39]!.sym, "__x64_sys_getpid");
  assert.equal(REAL_IDT[14]!.handler.sym, "asm_exc_page_fault");
  // /proc/net/tcp as tcp4_proc_init_net registers it.
  const tcp = REAL_PROC_NET.children!.find((e) => e.name === "tcp")!;
  assert.deepEqual([tcp.ops?.sym, tcp.seq?.sym, (tcp.data as RealSymRef).sym], ["proc_net_seq_ops", "tcp4_seq_ops", "tcp4_seq_afinfo"]);
});

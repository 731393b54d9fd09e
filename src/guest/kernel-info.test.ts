/**
 * The committed ISF profile and the fixture's BTF + System.map give the guest model the
 * same numbers; a profile lacking names is rejected with every missing name listed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { loadIsfProfileFile, parseSystemMap } from "../shared/kernel/index.js";
import { KernelTypes, kernelInfoFromProfile, NEEDED_MEMBERS, NEEDED_SIZES, NEEDED_SYMBOLS, type KernelProfileView } from "./kernel-info.js";
import { FIXTURE_DIR, fixtureProfile, fixtureProfileView } from "./testing/btf-profile-view.js";
import { REAL_TABLES } from "./data/real-kernel-data.generated.js";
import { GuestError } from "./errors.js";

const ISF = new URL("../../profiles/debian-6.1.0-56-amd64.isf.json.gz", import.meta.url);

test("ISF profile and BTF agree on every member, size and symbol the model uses", async () => {
  const isf = kernelInfoFromProfile(await loadIsfProfileFile(ISF.pathname));
  const btf = fixtureProfileView();
  for (const [s, members] of Object.entries(NEEDED_MEMBERS)) {
    for (const m of members as readonly string[]) assert.equal(isf.offsetOf(s, m), btf.offsetOf(s, m), `${s}.${m}`);
  }
  for (const t of NEEDED_SIZES) assert.equal(isf.sizeOf(t), btf.sizeOf(t), t);
  for (const n of NEEDED_SYMBOLS) assert.equal(isf.symbol(n), btf.symbol(n), n);
  // A static symbol may have namesakes (ip6mr.c's ipmr_mfc_seq_ops): the map must list this one.
  const map = parseSystemMap(readFileSync(new URL("debian-6.1.0-56-amd64/System.map", FIXTURE_DIR), "utf8"));
  for (const tab of REAL_TABLES) {
    for (const path of Object.keys(tab.fields)) assert.equal(isf.offsetOf(tab.type, path), btf.offsetOf(tab.type, path), `${tab.type}.${path}`);
    const named = map.entries.filter((e) => e.name === tab.symbol).map((e) => e.address);
    if (named.length === 1) assert.equal(isf.symbol(tab.symbol), tab.addr, tab.symbol);
    else assert.ok(named.includes(tab.addr), tab.symbol);
  }
  const k = new KernelTypes(isf);
  // The offsets ../shared/fixtures/linux/README.md lists.
  assert.equal(k.size("task_struct"), 9792);
  assert.equal(k.o("task_struct", "tasks"), 2192);
  assert.equal(k.o("task_struct", "comm"), 2976);
  assert.equal(k.o("cred", "uid"), 8);
  assert.equal(k.o("mm_struct", "pgd"), 72);
  assert.equal(k.o("module", "list"), 8);
  assert.equal(k.o("module", "name"), 24);
});

test("a profile missing names fails with all of them listed", () => {
  const base = fixtureProfileView();
  const holes = new Set(["task_struct.comm", "module.name"]);
  const view: KernelProfileView = {
    sizeOf: (t) => (t === "cred" ? undefined : base.sizeOf(t)),
    offsetOf: (t, p) => (holes.has(`${t}.${p}`) ? undefined : base.offsetOf(t, p)),
    memberSize: (t, p) => base.memberSize(t, p),
    symbol: (n) => (n === "init_task" ? undefined : base.symbol(n)),
  };
  assert.throws(
    () => new KernelTypes(view),
    (e: unknown) => {
      assert.ok(e instanceof GuestError);
      assert.equal(e.code, "PROFILE_INCOMPLETE");
      assert.deepEqual([...(e.details["missing"] as string[])].sort(), ["module.name", "sizeof(cred)", "symbol init_task", "task_struct.comm"]);
      return true;
    },
  );
  void fixtureProfile;
});

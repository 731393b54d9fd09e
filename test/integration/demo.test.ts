/**
 * `seven demo` (the README's main job) runs end to end: boots a CVM with a rootkit,
 * attests it, lists processes and modules, finds the rootkit, traps a syscall handler,
 * dumps memory and reads it back — and says so in its machine summary.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runCli } from "./cli-harness.js";

describe("seven demo", () => {
  it("finds the rootkit, shows trap events on the syscall handler and round-trips a dump (--json)", async () => {
    const r = await runCli(["demo", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as {
      ok: boolean;
      rootkit: string;
      attest: { ok: boolean };
      ps: { processes: number };
      lsmod: { modules: string[] };
      check: { byCheck: Record<string, number> };
      trap: { symbol: string; va: string; events: { rip: string; cr3: string }[] };
      dump: { identical: boolean; imageProcesses: number };
    };
    assert.equal(s.ok, true);
    assert.equal(s.rootkit, "hook-syscall");
    assert.equal(s.attest.ok, true);
    assert.ok(s.lsmod.modules.includes("rk_syscall"));
    assert.equal(s.check.byCheck["syscall-table"], 1, "the hooked sys_call_table entry is found");
    assert.equal(s.trap.symbol, "__x64_sys_getpid");
    assert.equal(s.trap.events.length, 3);
    for (const e of s.trap.events) assert.equal(e.rip, s.trap.va);
    assert.equal(s.dump.identical, true);
    assert.ok(s.dump.imageProcesses > 50, "the image holds the processes (the guest ran since the first ps, so the count may differ)");
  });

  it("refuses an unknown rootkit with one line (exit 2)", async () => {
    const r = await runCli(["demo", "--rootkit", "no-such-rootkit"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^seven: demo: unknown rootkit "no-such-rootkit" \(known: .*\)\n$/);
  });
});

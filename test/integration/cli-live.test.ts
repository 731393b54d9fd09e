/**
 * The `seven` commands against a live simulated CVM (a target.json as `seven host` writes
 * it): attest, lsmod, check (exit 3 on findings), regs, read, pause/resume, watch function
 * and page (events with the right RIP), an unknown symbol, and a dump interrupted by
 * Ctrl-C that `--resume` finishes.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { AgentV1Driver, openImage } from "../../src/client/index.js";
import { runCli, spawnCli, type CliRun } from "./cli-harness.js";
import { startWorld, type LiveWorld } from "./live-world.js";

let w: LiveWorld;
let T: string[];

before(async () => {
  w = await startWorld({ rootkits: ["hook-syscall"], seed: "cli-live" });
  T = ["--target", w.targetFile];
});
after(async () => {
  await w?.world.stop();
});

function ok(r: CliRun): string {
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

function oneLine(r: CliRun, code: number, re: RegExp): void {
  assert.equal(r.code, code, r.stderr);
  const lines = r.stderr.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, re);
}

describe("seven CLI on a live CVM", () => {
  it("attest", async () => {
    assert.match(ok(await runCli(["attest", ...T])), /attested in \d+ ms: VMPL0 report bound to this TLS 1\.3 session/);
  });

  it("lsmod shows the rootkit's module; check finds the hooked syscall (exit 3) and a clean check exits 0", async () => {
    const mods = JSON.parse(ok(await runCli(["lsmod", "--json", ...T]))) as { rows: { name: string; base: string }[] };
    assert.ok(mods.rows.some((m) => m.name === "rk_syscall" && /^0x/.test(m.base)));
    const found = await runCli(["check", "syscall-table", ...T]);
    oneLine(found, 3, /^seven: check found 1 problem \(syscall-table: 1\)$/);
    assert.match(found.stdout, /sys_call_table\[\d+\].*points to module rk_syscall/);
    const clean = await runCli(["check", "idt", "--json", ...T]);
    assert.equal(clean.code, 0, clean.stderr);
    assert.equal((JSON.parse(clean.stdout) as { clean: boolean }).clean, true);
  });

  it("regs for one vCPU, and a vCPU that does not exist", async () => {
    const r = JSON.parse(ok(await runCli(["regs", "--vcpu", "1", "--json", ...T]))) as { rows: { vcpu: number; lstar: string }[] };
    assert.deepEqual(
      r.rows.map((x) => x.vcpu),
      [1],
    );
    oneLine(await runCli(["regs", "--vcpu", "7", ...T]), 2, /no vCPU 7 \(the guest has 2\)/);
  });

  it("read a kernel symbol", async () => {
    assert.match(ok(await runCli(["read", "linux_banner", "16", ...T])), /\|Linux version 6\.\|/);
  });

  it("pause returns at once and the guest stays paused (tools leave it so) until a separate resume", async () => {
    const d = await AgentV1Driver.connectAgent({ endpoint: w.endpoint, owner: w.owner, measurement: w.world.measurement!, trustRoots: [w.world.arkPem()!] });
    const stopped = async (): Promise<number[]> => [...(await d.heartbeat()).stoppedVcpus].sort();
    try {
      assert.match(ok(await runCli(["pause", ...T])), /^paused agent .*: stopped vCPUs 0, 1; already stopped: none\n$/);
      assert.deepEqual(await stopped(), [0, 1], "paused after the pause command's session ended");
      assert.ok((await d.getRegisterSets()).every((s) => s.stopped));
      // A tool pauses for itself while it reads, and leaves the owner's pause in force.
      assert.match(ok(await runCli(["lsmod", ...T])), /rk_syscall/);
      assert.deepEqual(await stopped(), [0, 1], "still paused after lsmod");
      assert.match(ok(await runCli(["resume", ...T])), /^resumed agent .*: vCPUs 0, 1; still stopped: none\n$/);
      assert.deepEqual(await stopped(), [], "running again");
      assert.ok((await d.getRegisterSets()).every((s) => !s.stopped));
      // --for: paused for that long, then resumed by the same command.
      const held = runCli(["pause", "--for", "2", ...T]);
      let seen = false;
      for (let i = 0; i < 200 && !seen; i++) {
        seen = (await stopped()).length === 2;
        if (!seen) await new Promise((r) => setTimeout(r, 10));
      }
      assert.ok(seen, "another session saw every vCPU stopped");
      assert.match(ok(await held), /^paused agent .*: stopped vCPUs 0, 1; already stopped: none\nresumed agent .*: vCPUs 0, 1; still stopped: none\n$/);
      assert.deepEqual(await stopped(), []);
    } finally {
      await d.close();
    }
  });

  it("watch on a paused guest arms while paused, holds no pause of its own, and sees events once resumed", async () => {
    const d = await AgentV1Driver.connectAgent({ endpoint: w.endpoint, owner: w.owner, measurement: w.world.measurement!, trustRoots: [w.world.arkPem()!] });
    try {
      ok(await runCli(["pause", ...T]));
      const watch = spawnCli(["watch", "function", "__x64_sys_getpid", "--count", "1", "--json", ...T]);
      let armed = false;
      for (let i = 0; i < 3000 && !armed; i++) {
        armed = (await d.heartbeat()).trapsArmed > 0;
        if (!armed) await new Promise((r) => setTimeout(r, 10));
      }
      assert.ok(armed, "the trap was armed");
      assert.deepEqual([...(await d.heartbeat()).stoppedVcpus].sort(), [0, 1], "armed while paused");
      assert.match(ok(await runCli(["resume", ...T])), /still stopped: none/);
      const events = ok(await watch).trim().split("\n");
      assert.equal(events.length, 1);
      assert.match(events[0]!, /"kind":"execute".*"symbol":"[a-z_]*getpid"/);
    } finally {
      await d.close();
    }
  });

  it("watch function prints events with the handler's RIP until --count", async () => {
    const r = await runCli(["watch", "function", "__x64_sys_getpid", "--count", "2", "--json", ...T]);
    const events = ok(r)
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { rip: string; cr3: string; access: string; symbol: string });
    assert.equal(events.length, 2);
    const sym = (JSON.parse(ok(await runCli(["read", "__x64_sys_getpid", "1", "--json", ...T]))) as { address: string }).address;
    for (const e of events) {
      assert.equal(e.rip, sym);
      assert.equal(e.access, "x");
      assert.match(e.symbol, /getpid/);
    }
  });

  it("watch page on sys_call_table sees reads", async () => {
    const out = ok(await runCli(["watch", "page", "sys_call_table", "--access", "r", "--count", "1", ...T]));
    assert.match(out, /^#1 {2}vcpu \d {2}r {2}rip 0x[0-9a-f]+/);
  });

  it("watch function with an unknown symbol fails with one line", async () => {
    oneLine(await runCli(["watch", "function", "no_such_function_xyz", ...T]), 1, /no symbol "no_such_function_xyz" in the profile \[UNKNOWN_SYMBOL\]/);
  });

  it("a dump interrupted by Ctrl-C leaves FILE.partial and a journal; --resume finishes it", async () => {
    const out = join(w.dir, "interrupted.lime");
    const root = fileURLToPath(new URL("../../", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", "src/app/cli/seven.ts", "dump", "--out", out, "--chunk", "1", "--no-progress", ...T], { cwd: root });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number>((r) => child.on("close", (c) => r(c ?? -1)));
    // Interrupt once some of the guest's memory is in the file.
    for (;;) {
      const j = await readFile(`${out}.journal`, "utf8").catch(() => undefined);
      if (j !== undefined && BigInt((JSON.parse(j) as { dataBytes: string }).dataBytes) > 0n) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    child.kill("SIGINT");
    const code = await exited;
    assert.equal(code, 1, stderr);
    assert.match(stderr.trim(), /^seven: dump stopped at [\d.]+ of 240\.0 MiB \(interrupted\); .*interrupted\.lime\.partial and .*interrupted\.lime\.journal are kept: run the same command with --resume to continue \[DUMP_INTERRUPTED\]$/);
    assert.ok(await stat(`${out}.partial`));
    const done = ok(await runCli(["dump", "--out", out, "--chunk", "1", "--resume", "--no-progress", ...T]));
    assert.match(done, /wrote .*interrupted\.lime: lime, 240\.0 MiB .*\(resumed at [\d.]+ MiB\)/);
    assert.equal(await stat(`${out}.journal`).catch(() => undefined), undefined);
    const img = await openImage(out);
    try {
      const info = await img.info();
      assert.equal(info.memorySize, 240n << 20n);
    } finally {
      await img.close();
    }
  });
});

/**
 * The owner's toolkit against a live simulated CVM over real TCP: attested session, ps,
 * lsmod, regs, read, pause/resume, a function trap on a syscall handler that fires when
 * the workload calls it (right RIP, and the CR3 of a process), a page trap, and dumps that
 * load back in the image driver with the same processes and bytes.
 */
import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadIsfProfileFile, type Profile } from "../../src/shared/kernel/index.js";
import {
  AgentV1Driver,
  SessionError,
  Vmi,
  dumpMemory,
  kva,
  lsmod,
  openImage,
  openLinux,
  ps,
  regs,
  runPlugin,
  type LinuxKernel,
  type TrapEvent,
} from "../../src/client/index.js";
import { PROFILE } from "./cli-harness.js";
import { startWorld, type LiveWorld } from "./live-world.js";

const C_BIT = 1n << 51n;
const PFN_MASK = 0x000ffffffffff000n & ~C_BIT;
const json = (rows: unknown): string => JSON.stringify(rows, (_k, v: unknown) => (typeof v === "bigint" ? "0x" + v.toString(16) : v));

let w: LiveWorld;
let agent: AgentV1Driver;
let profile: Profile;

before(async () => {
  profile = await loadIsfProfileFile(PROFILE);
  w = await startWorld({ rootkits: ["hook-syscall"] });
  agent = await AgentV1Driver.connectAgent({ endpoint: w.endpoint, owner: w.owner, measurement: w.world.measurement!, trustRoots: [w.world.arkPem()!] });
});
after(async () => {
  await agent?.close();
  await w?.world.stop();
});

async function linux(d = agent): Promise<{ vmi: Vmi; k: LinuxKernel }> {
  const vmi = await Vmi.open(d);
  const k = await openLinux(vmi, profile, { requirements: [...ps.requirements, ...lsmod.requirements] });
  return { vmi, k };
}

describe("live CVM through the attested agent", () => {
  it("attests: VMPL0, the launch measurement, this session's REPORT_DATA, the simulated ARK only because we passed it", async () => {
    const a = agent.attestation!;
    assert.equal(a.report.vmpl, 0);
    assert.deepEqual(a.report.measurement, w.world.measurement);
    assert.deepEqual(a.report.reportData, a.reportData);
    assert.equal(a.arkSource, "explicit");
    assert.equal(agent.machine.vcpus, 2);
    await assert.rejects(
      AgentV1Driver.connectAgent({ endpoint: w.endpoint, owner: w.owner, measurement: w.world.measurement! }),
      (e: unknown) => e instanceof SessionError && e.code === "ATTESTATION_REJECTED" && (e.details["codes"] as string[]).includes("ARK_NOT_TRUSTED"),
    );
    const other = new Uint8Array(w.world.measurement!);
    other[0]! ^= 1;
    await assert.rejects(
      AgentV1Driver.connectAgent({ endpoint: w.endpoint, owner: w.owner, measurement: other, trustRoots: [w.world.arkPem()!] }),
      (e: unknown) => e instanceof SessionError && e.code === "ATTESTATION_REJECTED" && (e.details["codes"] as string[]).join() === "MEASUREMENT_MISMATCH",
    );
  });

  it("pauses securely, lists processes and modules (the rootkit's module included), reads memory and registers, resumes", async () => {
    const p = await agent.pauseVcpus();
    assert.deepEqual([...p.stopped, ...p.alreadyStopped].sort(), [0, 1]);
    try {
      const { vmi, k } = await linux();
      const procs = await runPlugin(ps, k, {});
      assert.ok(procs.rows.length > 50);
      assert.deepEqual(procs.rows[0]!["comm"], "swapper/0");
      assert.ok(procs.rows.some((r) => r["comm"] === "init" && r["pid"] === 1));
      const mods = await runPlugin(lsmod, k, {});
      assert.ok(mods.rows.some((r) => r["name"] === "rk_syscall"));
      const banner = await vmi.readCString(kva(k.symbol("linux_banner")));
      assert.match(banner, /^Linux version 6\.1\.0-56-amd64/);
      const sets = await agent.getRegisterSets();
      assert.deepEqual(
        sets.map((s) => [s.vcpu, s.stopped]),
        [
          [0, true],
          [1, true],
        ],
      );
      const rr = await runPlugin(regs, k, {});
      assert.equal(rr.rows.length, 2);
      for (const s of sets) assert.equal(k.symbolName(s.regs.lstar), "entry_SYSCALL_64", "LSTAR points at the syscall entry");
    } finally {
      const r = await agent.resumeVcpus();
      assert.deepEqual(r.resumed.sort(), [0, 1]);
    }
    const after = await agent.getRegisterSets();
    assert.ok(after.every((s) => !s.stopped));
  });

  it("a function trap on a syscall handler fires when the workload calls it, with its RIP and a process's CR3", async () => {
    const { vmi, k } = await linux();
    const va = k.symbol("__x64_sys_getpid");
    const gpa = await vmi.translate(kva(va));
    const events: TrapEvent[] = [];
    let done: () => void = () => undefined;
    const three = new Promise<void>((r) => (done = r));
    const trap = await agent.armTrap({ gpa, access: "x", rips: [va], va, dtb: k.location.dtb }, (e) => {
      events.push(e);
      if (events.length === 3) done();
      return "continue";
    });
    await three;
    await trap.dispose();
    // Which processes exist (paused, for a consistent list).
    await agent.pauseVcpus();
    let dtbs: Set<bigint>;
    try {
      const procs = await runPlugin(ps, (await linux()).k, {});
      dtbs = new Set(procs.rows.map((r) => r["dtb"]).filter((d): d is bigint => typeof d === "bigint"));
    } finally {
      await agent.resumeVcpus();
    }
    for (const e of events.slice(0, 3)) {
      assert.equal(e.kind, "execute");
      assert.equal(e.access, "x");
      assert.equal(e.regs.rip, va, "RIP is the handler's first instruction");
      assert.equal(e.gpa, gpa);
      const root = e.regs.cr3 & PFN_MASK;
      assert.ok(dtbs.has(root) || dtbs.has(root - 0x1000n), `CR3 0x${e.regs.cr3.toString(16)} is the page-table root of a listed process`);
      assert.equal(e.regs.cs.selector & 3n, 0n, "in kernel mode");
    }
  });

  it("a page trap on sys_call_table sees the syscall path read it", async () => {
    const { vmi, k } = await linux();
    const va = k.symbol("sys_call_table");
    const gpa = await vmi.translate(kva(va));
    let got: TrapEvent | undefined;
    let done: () => void = () => undefined;
    const one = new Promise<void>((r) => (done = r));
    const trap = await agent.armTrap({ gpa, access: "r" }, (e) => {
      got ??= e;
      done();
    });
    await one;
    await trap.dispose();
    assert.equal(got!.kind, "memory-access");
    assert.equal(got!.access, "r");
    assert.equal(got!.gpa & ~0xfffn, gpa & ~0xfffn);
  });

  for (const format of ["lime", "elf"] as const) {
    it(`dumps a paused guest to ${format} and the image driver gives the same processes and bytes`, async () => {
      const out = join(await mkdtemp(join(tmpdir(), "seven-dump-")), `mem.${format}`);
      await agent.pauseVcpus();
      try {
        const live = await linux();
        const liveRows = (await runPlugin(ps, live.k, {})).rows;
        const r = await dumpMemory(agent, { out, format, source: "test", exclude: [agent.agentRegion] });
        assert.equal(r.dataBytes, agent.machine.guestRamEnd);
        const img = await openImage(out);
        try {
          const ik = await openLinux(await Vmi.open(img), profile, { requirements: ps.requirements });
          assert.equal(json((await runPlugin(ps, ik, {})).rows), json(liveRows));
          const probe = [0n, 0x100000n, live.k.location.dtb, agent.machine.guestRamEnd - 0x1000n].map((gpa) => ({ gpa, len: 4096 }));
          assert.deepEqual(await img.readPhys(probe), await agent.readPhys(probe));
          if (format === "elf") assert.equal((await img.getRegisters()).length, 2, "the ELF notes carry both vCPUs' registers");
        } finally {
          await img.close();
        }
      } finally {
        await agent.resumeVcpus();
      }
    });
  }
});

/**
 * The client's Linux forensics against the simulated guest kernel (src/guest), read
 * straight from its memory as an image driver would: discovery from memory alone, `ps`
 * and `lsmod` equal to the guest's ground truth, and every rootkit scenario reported by
 * its matching check — and only by it.
 */
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { bootGuest, settle, type Booted } from "../../src/guest/testing/harness.js";
import { SCENARIOS } from "../../src/guest/index.js";
import {
  NO_CAPABILITIES, REGISTER_NAMES, Vmi, lsmod, machineInfo, memoryBaselineStore, openLinux, ps, registerSet, runChecks, runPlugin,
  type BaselineStore, type Driver, type Finding, type RegisterName, type VcpuRegisters,
} from "../../src/client/index.js";
import { loadIsfProfileFile, type Profile } from "../../src/shared/kernel/index.js";

const ISF = new URL("../../profiles/debian-6.1.0-56-amd64.isf.json.gz", import.meta.url).pathname;

/** Which check must report each rootkit scenario. */
const MATCHING: Readonly<Record<string, string>> = {
  "hide-process": "hidden-processes",
  "hook-syscall": "syscall-table",
  "patch-idt": "idt",
  lstar: "syscall-msrs",
  "hide-module": "hidden-modules",
  "escalate-cred": "credentials",
  "patch-text": "kernel-text",
  "hook-proc-fops": "proc-fops",
  "hook-netfilter": "netfilter-hooks",
  "hook-tty": "tty-ldisc",
  "hook-keyboard": "keyboard-notifiers",
  "hook-afinfo": "tcp-seq-ops",
};

/** A read-only driver over the booted guest's memory and vCPU state (what a dump would hold, plus MSRs). */
function guestDriver(b: Booted): Driver {
  const known = new Set<RegisterName>(["rip", "rsp", "cr0", "cr3", "cr4", "efer", "lstar", "idtr", "gs"]);
  return {
    name: "guest-memory",
    capabilities: { ...NO_CAPABILITIES, registers: true },
    info: () => Promise.resolve(machineInfo(b.layout.vcpus, [{ gpa: 0n, len: b.layout.memoryBytes }], 51)),
    readPhys: (ranges) => Promise.resolve(ranges.map((r) => b.machine.mem.read(r.gpa, r.len))),
    getRegisters: () =>
      Promise.resolve(
        b.machine.cpus.map((c, vcpu): VcpuRegisters => {
          const idtr = c.getSegment("idtr");
          const gs = c.getSegment("gs");
          return {
            vcpu,
            known,
            regs: registerSet({
              rip: c.getReg("rip"), rsp: c.getReg("rsp"), cr0: c.getReg("cr0"), cr3: c.getReg("cr3"), cr4: c.getReg("cr4"), efer: c.getReg("efer"), lstar: c.getReg("lstar"),
              idtr: { base: idtr.base, limit: BigInt(idtr.limit) },
              gs: { selector: BigInt(gs.selector), base: gs.base, limit: BigInt(gs.limit), attrib: BigInt(gs.attrib) },
            }),
          };
        }),
      ),
    close: () => Promise.resolve(),
  };
}

const key = (f: Finding): string => `${f.check}|${f.object}|${f.detail}`;

describe("Linux forensics on the simulated guest", () => {
  let profile: Profile;
  before(async () => {
    profile = await loadIsfProfileFile(ISF);
    assert.deepEqual(Object.keys(MATCHING).sort(), [...SCENARIOS.values()].filter((s) => s.kind === "rootkit").map((s) => s.name).sort());
  });

  for (const kaslr of [false, true]) {
    it(`finds the kernel and lists what the guest says it runs (kaslr ${kaslr})`, async () => {
      const b = bootGuest({ kaslr });
      settle(b);
      const gt = b.guest.groundTruth();
      const k = await openLinux(await Vmi.open(guestDriver(b)), profile, { discover: { useRegisters: false } });
      assert.equal(k.location.virtSlide, BigInt(gt.kernel.virtualSlide));
      assert.equal(k.location.physText, BigInt(gt.kernel.textPa));
      assert.equal(k.location.physBase, BigInt(gt.kernel.physBase));
      assert.equal(k.location.pageOffsetBase, BigInt(gt.kernel.pageOffsetBase));
      assert.equal(k.location.dtb, BigInt(gt.kernel.initTopPgt));
      const rows = (await runPlugin(ps, k, {})).rows;
      const want = gt.processes.filter((p) => p.inTaskList && p.pid === p.tgid);
      assert.deepEqual(
        rows.slice(1).map((r) => [r["pid"], r["ppid"], r["comm"], r["uid"], r["task"], r["dtb"]]),
        want.map((p) => [p.pid, p.ppid, p.comm, p.uid, BigInt(p.task), p.dtb === null ? null : BigInt(p.dtb)]),
      );
      assert.deepEqual(rows[0]!["comm"], "swapper/0");
      const mods = (await runPlugin(lsmod, k, {})).rows;
      // The list is newest first (as /proc/modules); the ground truth is in load order.
      assert.deepEqual(
        mods.map((r) => [r["name"], r["base"], r["size"]]),
        gt.modules.filter((m) => !m.hiddenFromList).map((m) => [m.name, BigInt(m.base), m.size]).reverse(),
      );
    });
  }

  describe("rootkit scenarios", () => {
    let clean: Set<string>;
    let baseline: BaselineStore;
    before(async () => {
      const b = bootGuest({ kaslr: true });
      settle(b);
      baseline = memoryBaselineStore();
      const r = await runChecks(await openLinux(await Vmi.open(guestDriver(b)), profile), undefined, { baseline });
      clean = new Set(r.findings.map(key));
      assert.ok(r.checks.every((c) => c.status !== "error"), JSON.stringify(r.checks.filter((c) => c.status === "error")));
    });

    it("a clean guest shows no finding", () => {
      assert.deepEqual([...clean], []);
    });

    for (const [scenario, check] of Object.entries(MATCHING)) {
      it(`${scenario} is reported by ${check}, and only by it`, async () => {
        const b = bootGuest({ kaslr: true, rootkits: [scenario] });
        settle(b);
        const r = await runChecks(await openLinux(await Vmi.open(guestDriver(b)), profile), undefined, { baseline });
        const fresh = r.findings.filter((f) => !clean.has(key(f)));
        assert.ok(fresh.some((f) => f.check === check), `${check} reports ${scenario}: ${JSON.stringify(r.findings.filter((f) => f.check === check).map(key))}`);
        assert.deepEqual([...new Set(fresh.map((f) => f.check))], [check], fresh.map(key).join("\n"));
      });
    }
  });
});

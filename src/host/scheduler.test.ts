import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock, gpa } from "../shared/base/index.js";
import { AGENT_YIELD, MSR_GHCB, SEVEN_RUN_REASON, encodePscReq, encodeSevInfoResp, encodeTerminateReq, GHCB_PSC_OP } from "../shared/spec/index.js";
import { CpuFault } from "../platform/index.js";
import { testWorld } from "./testing/test-world.js";

const T0 = Date.parse("2026-01-15T12:00:00Z");
const retired1 = (w: ReturnType<typeof testWorld>, v: number): number => w.machine.stats().retired[v]![1]!;
const reasonsOf = (w: ReturnType<typeof testWorld>) => w.agent.runs.map((r) => r.reasons);

test("boot: VMPL0 runs first on every vCPU with BOOT, then VMPL1 gets time slices", () => {
  const w = testWorld({ vcpus: 2 });
  assert.equal(retired1(w, 0), 0);
  w.host.round();
  assert.deepEqual(
    w.agent.runs.map((r) => [r.vcpu, r.reasons & SEVEN_RUN_REASON.BOOT]),
    [
      [0, SEVEN_RUN_REASON.BOOT],
      [1, SEVEN_RUN_REASON.BOOT],
    ],
  );
  assert.ok(w.host.agentBooted(0) && w.host.agentBooted(1));
  for (let i = 0; i < 5; i++) w.host.round();
  assert.ok(retired1(w, 0) > 0 && retired1(w, 1) > 0);
  assert.equal(w.agent.runs.length, 2, "no agent work after boot: VMPL0 is not run again");
});

test("a VMPL-permission #NPF is forwarded: VMPL0 runs with NPF_FORWARD on that vCPU", () => {
  const w = testWorld({ vcpus: 2 });
  w.host.round();
  let touched = false;
  w.guest.script = (cpu) => {
    if (cpu.vcpu === 1 && !touched) {
      touched = true;
      cpu.readPhys(w.layout.config, 8); // the agent's page: VMPL1 has no rights
    }
    return undefined;
  };
  w.host.round(); // guest faults
  assert.equal(w.host.counters()["npf.forwarded"], 1);
  w.host.round(); // agent runs with the forward
  const last = w.agent.runs.at(-1)!;
  assert.equal(last.vcpu, 1);
  assert.equal(last.reasons & SEVEN_RUN_REASON.NPF_FORWARD, SEVEN_RUN_REASON.NPF_FORWARD);
  assert.equal(w.agent.forgedForwards, 0, "the VMPL1 VMSA's hardware exit code confirms the fault");
});

test("the agent pauses on a forwarded #NPF: VMRUN refuses the paused VMSA, all-paused fires once", () => {
  let allPaused = 0;
  const w = testWorld({ vcpus: 2, onAllPaused: () => allPaused++ });
  w.agent.pauseOnNpf = true;
  w.host.round();
  w.guest.script = (cpu) => {
    cpu.readPhys(w.layout.config, 8);
    return undefined;
  };
  for (let i = 0; i < 4; i++) w.host.round();
  assert.deepEqual(w.host.guestStates(), ["paused", "paused"]);
  assert.equal(allPaused, 1);
  const before = [retired1(w, 0), retired1(w, 1)];
  for (let i = 0; i < 10; i++) w.host.round();
  assert.deepEqual([retired1(w, 0), retired1(w, 1)], before);
  assert.ok((w.host.counters()["exit.vmpl1.invalid"] ?? 0) >= 2);
  assert.equal(allPaused, 1, "the callback fires on the transition only");
});

test("VMRUN of a paused VMSA is refused and retires no VMPL1 instruction, even when the host keeps trying", () => {
  const clock = new ManualClock(T0);
  const w = testWorld({ vcpus: 2, clock, adversary: { vmrunPaused: { every: 1 } } });
  w.agent.timerNs = 1_000_000n; // the agent asks to be woken every millisecond
  w.host.round();
  w.agent.pauseRequest = "pause";
  clock.advance(1);
  w.host.round();
  w.host.round();
  assert.deepEqual(w.host.guestStates(), ["paused", "paused"]);
  const before = [retired1(w, 0), retired1(w, 1)];
  for (let i = 0; i < 20; i++) {
    clock.advance(1);
    w.host.round();
  }
  const c = w.host.counters();
  assert.ok((c["adversary.vmrun-paused.refused"] ?? 0) >= 20, "the adversary tried every round");
  assert.equal(c["adversary.vmrun-paused.entered"], undefined);
  assert.deepEqual([retired1(w, 0), retired1(w, 1)], before);
  // Resume: the agent sets the VMSA bits again and the contexts run.
  w.agent.pauseRequest = "resume";
  clock.advance(1);
  w.host.round();
  w.host.round();
  assert.ok(retired1(w, 0) > before[0]! && retired1(w, 1) > before[1]!);
  assert.deepEqual(w.host.guestStates(), ["runnable", "runnable"]);
});

test("a context held by the agent's HOLDING hint is not run (but only the VMSA bit stops a hostile host)", () => {
  const w = testWorld({ vcpus: 1 });
  w.agent.flags = AGENT_YIELD.HOLDING;
  w.host.round();
  const before = retired1(w, 0);
  for (let i = 0; i < 5; i++) w.host.round();
  assert.deepEqual(w.host.guestStates(), ["held"]);
  assert.equal(retired1(w, 0), before);
  const hostile = testWorld({ vcpus: 1, adversary: { vmrunPaused: { every: 1 } } });
  hostile.agent.flags = AGENT_YIELD.HOLDING;
  for (let i = 0; i < 3; i++) hostile.host.round();
  assert.ok((hostile.host.counters()["adversary.vmrun-paused.entered"] ?? 0) > 0);
});

test("the agent's timer: VMPL0 runs with TIMER once the delay has passed on the injected clock", () => {
  const clock = new ManualClock(T0);
  const w = testWorld({ vcpus: 1, clock });
  w.agent.timerNs = 5_000_000n; // 5 ms
  w.host.round();
  const n = w.agent.runs.length;
  for (let i = 0; i < 5; i++) w.host.round();
  assert.equal(w.agent.runs.length, n, "not before the delay");
  clock.advance(5);
  w.host.round();
  assert.equal(w.agent.runs.length, n + 1);
  assert.equal(w.agent.runs.at(-1)!.reasons & SEVEN_RUN_REASON.TIMER, SEVEN_RUN_REASON.TIMER);
});

test("MORE_WORK makes VMPL0 run again the next round", () => {
  const clock = new ManualClock(T0);
  const w = testWorld({ vcpus: 1, clock });
  w.agent.timerNs = 1n;
  w.host.round();
  w.agent.flags = AGENT_YIELD.MORE_WORK;
  clock.advance(1);
  w.host.round(); // the timer: the agent now asks for more work
  w.agent.timerNs = 0n;
  for (let i = 0; i < 3; i++) w.host.round();
  assert.equal(w.agent.runs.length, 5);
  assert.equal(w.host.counters()["agent.runs.more-work"], 3);
  w.agent.flags = 0n;
  for (let i = 0; i < 3; i++) w.host.round();
  assert.equal(w.agent.runs.length, 6, "one more run to hear that the work is done");
});

test("HLT idles the context until the next tick; a triple fault kills only that vCPU's guest", () => {
  const clock = new ManualClock(T0);
  const w = testWorld({ vcpus: 2, clock, scheduler: { haltMs: 10 } });
  w.host.round();
  w.guest.script = (cpu) => {
    if (cpu.vcpu === 0) return { kind: "hlt" };
    throw new CpuFault("gp", { vector: 13, errorCode: 0n, access: "read", vmpl: 1, reason: "test" });
  };
  w.host.round();
  assert.deepEqual(w.host.guestStates(), ["halted", "dead"]);
  const hlt = w.host.counters()["exit.vmpl1.hlt"];
  w.host.round();
  assert.equal(w.host.counters()["exit.vmpl1.hlt"], hlt, "not retried before the tick");
  clock.advance(10);
  w.host.round();
  assert.equal(w.host.counters()["exit.vmpl1.hlt"], hlt! + 1);
  assert.equal(w.host.counters()["exit.vmpl1.shutdown"], 1);
});

test("starve-vmpl0: after boot, forwarded faults never reach the agent", () => {
  const w = testWorld({ vcpus: 1, adversary: { starveVmpl0: { afterMs: 0 } } });
  w.host.round();
  assert.ok(w.host.agentBooted(0), "boot is not starved");
  w.guest.script = (cpu) => {
    cpu.readPhys(w.layout.config, 8);
    return undefined;
  };
  for (let i = 0; i < 10; i++) w.host.round();
  assert.equal(w.agent.runs.length, 1);
  const c = w.host.counters();
  assert.ok((c["npf.forwarded"] ?? 0) >= 9);
  assert.ok((c["adversary.starve-vmpl0"] ?? 0) >= 9);
});

test("delay-vmpl0: the agent's work waits the given time on the injected clock", () => {
  const clock = new ManualClock(T0);
  const w = testWorld({ vcpus: 1, clock, adversary: { delayVmpl0: { ms: 30 } } });
  w.agent.timerNs = 1_000_000n;
  w.host.round(); // boot is not delayed
  const n = w.agent.runs.length;
  clock.advance(1); // the timer is due: work for the agent, which the host holds back
  for (let i = 0; i < 5; i++) w.host.round();
  assert.equal(w.agent.runs.length, n);
  clock.advance(29);
  w.host.round();
  assert.equal(w.agent.runs.length, n);
  clock.advance(1);
  w.host.round();
  assert.equal(w.agent.runs.length, n + 1);
  assert.ok(w.host.counters()["adversary.delay-vmpl0"]! >= 6);
});

test("an agent that yields MORE_WORK is still booting: its vCPU's VMPL1 waits", () => {
  const w = testWorld({ vcpus: 1 });
  w.agent.flags = AGENT_YIELD.MORE_WORK;
  for (let i = 0; i < 3; i++) w.host.round();
  assert.equal(retired1(w, 0), 0);
  assert.equal(w.host.agentBooted(0), false);
  w.agent.flags = 0n;
  w.host.round();
  w.host.round();
  assert.ok(w.host.agentBooted(0) && retired1(w, 0) > 0);
});

test("forge-npf: VMPL0 runs with NPF_FORWARD although nothing faulted; the agent sees no #NPF exit", () => {
  const w = testWorld({ vcpus: 1, adversary: { forgeNpf: { every: 2 } } });
  for (let i = 0; i < 6; i++) w.host.round();
  const forged = reasonsOf(w).filter((r) => (r & SEVEN_RUN_REASON.NPF_FORWARD) !== 0n).length;
  assert.equal(forged, 3);
  assert.equal(w.agent.forgedForwards, 3);
  assert.equal(w.host.counters()["npf.forwarded"], undefined);
});

test("inject-interrupt: spurious VMPL0 wake-ups with NIC|TIMER and RX_PENDING, or VMPL1 preemption storms", () => {
  const w = testWorld({ vcpus: 1, adversary: { injectInterrupt: { every: 2, vmpl: 0 } } });
  for (let i = 0; i < 4; i++) w.host.round();
  const spurious = w.agent.runs.filter((r) => (r.reasons & (SEVEN_RUN_REASON.NIC | SEVEN_RUN_REASON.TIMER)) === (SEVEN_RUN_REASON.NIC | SEVEN_RUN_REASON.TIMER));
  assert.equal(spurious.length, 2);
  assert.ok(spurious.every((r) => (r.hostFlags & 1) === 1), "RX_PENDING set with an empty ring");
  const s = testWorld({ vcpus: 1, adversary: { injectInterrupt: { every: 1, vmpl: 1 } } });
  s.host.round();
  s.host.round();
  assert.equal(retired1(s, 0), 2, "one instruction per slice");
});

test("read-private sees ciphertext, not the agent image the host loaded; write-private faults", () => {
  const w = testWorld({ vcpus: 1, adversary: { readPrivate: { every: 1 }, writePrivate: { every: 1 } } });
  w.host.round();
  const r = w.host.lastPrivateRead!;
  assert.equal(r.matchesPlaintext, false);
  assert.equal(r.rmp?.assigned, true);
  assert.equal(w.host.counters()["adversary.write-private.faults"], 1);
  assert.equal(w.host.counters()["adversary.write-private.succeeded"], undefined);
  assert.ok(w.host.events("adversary.read-private")[0]!.message.includes("ciphertext"));
});

test("VMGEXIT, MSR protocol: SEV info is answered; PSC makes a page shared; terminate ends the world", () => {
  const w = testWorld({ vcpus: 1 });
  w.host.round();
  let step = 0;
  let sevInfo = 0n;
  w.guest.script = (cpu) => {
    step++;
    if (step === 1) {
      cpu.wrmsr(MSR_GHCB, 0x002n);
      return { kind: "vmgexit" };
    }
    if (step === 2) {
      sevInfo = cpu.rdmsr(MSR_GHCB);
      cpu.wrmsr(MSR_GHCB, encodePscReq({ gfn: 0x300n, op: GHCB_PSC_OP.SHARED }));
      return { kind: "vmgexit" };
    }
    if (step === 3) {
      cpu.wrmsr(MSR_GHCB, encodeTerminateReq({ reasonSet: 0, reason: 3 }));
      return { kind: "vmgexit" };
    }
    return undefined;
  };
  assert.equal(w.host.hypervisor.rmpRead(gpa(0x300000)).assigned, true);
  for (let i = 0; i < 4; i++) w.host.round();
  const c = w.host.counters();
  assert.equal(c["vmgexit.msr.sev-info"], 1);
  const delivered = sevInfo === encodeSevInfoResp({ maxProtocol: 2, minProtocol: 2, cBit: 51 });
  assert.ok(delivered || c["vmgexit.msr.undeliverable"]! >= 1, "answered in the GHCB MSR, or counted as undeliverable without a writer");
  assert.equal(w.host.hypervisor.rmpRead(gpa(0x300000)).assigned, false);
  assert.equal(c["rmpupdate.shared"], 1);
  assert.equal(w.host.stopReason?.kind, "terminate");
  assert.equal(w.host.events("vm.terminate").length, 1);
});

test("a GHCB outside shared memory is refused; an unknown NAE code is answered with sw_exit_info_1 = 2", () => {
  const w = testWorld({ vcpus: 1 });
  w.host.round();
  let step = 0;
  w.guest.script = (cpu) => {
    step++;
    if (step === 1) {
      cpu.wrmsr(MSR_GHCB, 0x300000n); // a private page
      return { kind: "vmgexit" };
    }
    if (step === 2) {
      const g = new Uint8Array(4096);
      new DataView(g.buffer).setBigUint64(0x390, 0x1234n, true);
      g[0x3f0 + 14] = 0x04; // sw_exit_code valid (bit 114)
      cpu.writePhys(w.layout.guestGhcb[0]!, g, { shared: true });
      cpu.wrmsr(MSR_GHCB, w.layout.guestGhcb[0]!);
      return { kind: "vmgexit" };
    }
    return undefined;
  };
  for (let i = 0; i < 3; i++) w.host.round();
  assert.equal(w.host.counters()["vmgexit.unsupported"], 2);
  const page = w.host.hypervisor.read(w.layout.guestGhcb[0]!, 4096);
  assert.equal(new DataView(page.buffer).getBigUint64(0x398, true), 2n);
});

test("no SEV: no agent, VMPL1 runs from the first round; the host's own pause stops it and counts as all-paused", () => {
  let allPaused = 0;
  const w = testWorld({ vcpus: 2, sev: false, onAllPaused: () => allPaused++ });
  w.host.round();
  assert.equal(w.agent.runs.length, 0);
  assert.ok(retired1(w, 0) > 0 && retired1(w, 1) > 0);
  w.host.setGuestRunnable(0, false);
  w.host.setGuestRunnable(1, false);
  assert.equal(allPaused, 1);
  const before = [retired1(w, 0), retired1(w, 1)];
  w.host.round();
  assert.deepEqual([retired1(w, 0), retired1(w, 1)], before);
  assert.deepEqual(w.host.guestStates(), ["held", "held"]);
  w.host.setGuestRunnable(0, true);
  w.host.round();
  assert.ok(retired1(w, 0) > before[0]!);
});

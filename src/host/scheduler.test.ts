import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock, gpa } from "../shared/base/index.js";
import { AGENT_YIELD, MSR_GHCB, SEVEN_RUN_REASON, encodePscReq, encodeSevInfoResp, encodeTerminateReq, GHCB_PSC_OP } from "../shared/spec/index.js";
import { CpuFault } from "../platform/index.js";
import { HostError } from "./errors.js";
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

test("a VMPL-permission #NPF is forwarded: VMPL0 runs with NPF_FORWARD on that vCPU, right after the exit", () => {
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
  const runs = w.agent.runs.length;
  w.host.round(); // the guest faults, and VMPL0 runs in the same round
  assert.equal(w.host.counters()["npf.forwarded"], 1);
  assert.equal(w.agent.runs.length, runs + 1);
  const last = w.agent.runs.at(-1)!;
  assert.equal(last.vcpu, 1);
  assert.equal(last.reasons & SEVEN_RUN_REASON.NPF_FORWARD, SEVEN_RUN_REASON.NPF_FORWARD);
  assert.equal(w.agent.forgedForwards, 0, "the VMPL1 VMSA's hardware exit code confirms the fault");
  w.host.round();
  assert.equal(w.agent.runs.length, runs + 1, "delivered once");
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

/** Makes the guest on `vcpu` touch the agent's page once (a forwarded #NPF: VMPL0 runs on that vCPU). */
function faultOnce(w: ReturnType<typeof testWorld>, vcpu: number): void {
  let done = false;
  w.guest.script = (cpu) => {
    if (cpu.vcpu === vcpu && !done) {
      done = true;
      cpu.readPhys(w.layout.config, 8);
    }
    return undefined;
  };
}

test("slices are short while a context is held at an event, and long again once it is released", () => {
  const clock = new ManualClock(T0);
  const w = testWorld({ vcpus: 2, clock, scheduler: { guestBudget: 4000, latencyBudget: 32 } });
  w.host.round();
  let r = retired1(w, 1);
  w.host.round();
  assert.equal(retired1(w, 1) - r, 4000, "nothing waits: a full slice");
  w.agent.holdVcpus.add(0);
  w.agent.timerNs = 1_000_000n; // the held vCPU's agent asks to be woken in 1 ms
  faultOnce(w, 0);
  w.host.round(); // vCPU 0 faults; its agent holds it
  w.agent.timerNs = 0n;
  assert.deepEqual(w.host.guestStates(), ["held", "runnable"]);
  for (let i = 0; i < 3; i++) {
    r = retired1(w, 1);
    w.host.round();
    assert.equal(retired1(w, 1) - r, 32, "an event is open: short slices on the other vCPU");
  }
  assert.ok((w.host.counters()["scheduler.short-slices"] ?? 0) >= 3);
  w.agent.holdVcpus.delete(0);
  clock.advance(1); // the agent's timer: it runs on vCPU 0 and no longer holds
  w.host.round();
  assert.deepEqual(w.host.guestStates(), ["runnable", "runnable"]);
  r = retired1(w, 1);
  w.host.round();
  assert.equal(retired1(w, 1) - r, 4000, "back to full slices");
});

test("NIC traffic keeps slices short for lingerMs", () => {
  const clock = new ManualClock(T0);
  const w = testWorld({ vcpus: 1, clock, scheduler: { guestBudget: 4000, latencyBudget: 16, lingerMs: 5 } });
  w.host.round();
  w.agent.nicMode = "sink";
  w.host.nic!.injectSession([new Uint8Array(10)]); // relayed bytes (no socket needed)
  let r = retired1(w, 0);
  w.host.round();
  assert.equal(retired1(w, 0) - r, 16);
  clock.advance(4);
  r = retired1(w, 0);
  w.host.round();
  assert.equal(retired1(w, 0) - r, 16, "within lingerMs of the traffic");
  clock.advance(2);
  r = retired1(w, 0);
  w.host.round();
  assert.equal(retired1(w, 0) - r, 4000, "quiet again");
});

test("a held context whose VMSA bit the agent sets again from another vCPU runs at once, without its own VMPL0", () => {
  const w = testWorld({ vcpus: 2 });
  w.host.round();
  // vCPU 1 faults; its agent clears its VMSA bit and holds it (as at an event).
  w.agent.holdVcpus.add(1);
  w.agent.vmsaBitRequests.push([1, false]);
  faultOnce(w, 1);
  w.host.round();
  assert.deepEqual(w.host.guestStates(), ["runnable", "held"]);
  const held = retired1(w, 1);
  w.host.round();
  assert.equal(retired1(w, 1), held);
  // The answer arrives through vCPU 0's agent (here: its own forwarded fault), which sets the bit.
  const runsOn1 = w.agent.runs.filter((x) => x.vcpu === 1).length;
  w.agent.vmsaBitRequests.push([1, true]);
  faultOnce(w, 0);
  w.host.round();
  assert.equal(w.host.counters()["scheduler.released"], 1);
  assert.ok(retired1(w, 1) > held, "vCPU 1 ran in the same round (kicked)");
  assert.equal(w.host.counters()["scheduler.kicks"], 1);
  assert.equal(w.agent.runs.filter((x) => x.vcpu === 1).length, runsOn1, "without VMPL0 running on vCPU 1");
  assert.deepEqual(w.host.guestStates(), ["runnable", "runnable"]);
});

test("paused contexts are not VMRUN again while their VMSA bit stays clear, only once it is set (or on the retry timer)", () => {
  const clock = new ManualClock(T0);
  const w = testWorld({ vcpus: 2, clock, scheduler: { pausedRetryMs: 1000 } });
  w.host.round();
  w.agent.pauseRequest = "pause";
  w.agent.flags = AGENT_YIELD.MORE_WORK;
  faultOnce(w, 0);
  for (let i = 0; i < 3; i++) w.host.round();
  assert.deepEqual(w.host.guestStates(), ["paused", "paused"]);
  const refused = w.host.counters()["exit.vmpl1.invalid"] ?? 0;
  const runs = w.agent.runs.length;
  for (let i = 0; i < 10; i++) w.host.round();
  assert.ok(w.agent.runs.length >= runs + 10, "the agent keeps running (MORE_WORK)");
  assert.equal(w.host.counters()["exit.vmpl1.invalid"] ?? 0, refused, "no VMRUN the hardware would refuse");
  clock.advance(1000);
  w.host.round();
  assert.equal(w.host.counters()["exit.vmpl1.invalid"], refused + 2, "the retry timer still tries");
  w.agent.flags = 0n;
  w.agent.pauseRequest = "resume";
  const before = [retired1(w, 0), retired1(w, 1)];
  w.host.round();
  w.host.round();
  assert.deepEqual(w.host.guestStates(), ["runnable", "runnable"]);
  assert.ok(retired1(w, 0) > before[0]! && retired1(w, 1) > before[1]!);
});

test("latencyBudget and lingerMs are checked", () => {
  assert.throws(() => testWorld({ scheduler: { latencyBudget: 0 } }), (e: unknown) => e instanceof HostError && e.code === "BAD_OPTION");
  assert.throws(() => testWorld({ scheduler: { lingerMs: -1 } }), (e: unknown) => e instanceof HostError && e.code === "BAD_OPTION");
});

test("the loop's event-loop turn comes after what the round queued: a nextTick → setImmediate completion runs before the next round", async () => {
  const w = testWorld({ vcpus: 1 });
  w.host.round(); // boot
  let completed = false;
  let queuedAt = -1;
  const seen: boolean[] = [];
  w.guest.script = () => {
    const round = w.host.rounds;
    if (queuedAt < 0) {
      // As node completes a TLS write over a JS stream: nextTick, then setImmediate.
      queuedAt = round;
      process.nextTick(() => setImmediate(() => (completed = true)));
    } else if (round > queuedAt && seen.length === 0) seen.push(completed);
    return undefined;
  };
  w.host.start();
  for (let i = 0; i < 2000 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 1));
  await w.host.stop();
  assert.deepEqual(seen, [true], "the completion ran before the next round");
});

test("by default a slice is 4 instructions while a context is held at an event", () => {
  const w = testWorld({ vcpus: 2, scheduler: { guestBudget: 4000 } });
  w.host.round();
  w.agent.holdVcpus.add(0);
  faultOnce(w, 0);
  w.host.round(); // vCPU 0 faults; its agent holds it
  assert.deepEqual(w.host.guestStates(), ["held", "runnable"]);
  const r = retired1(w, 1);
  w.host.round();
  assert.equal(retired1(w, 1) - r, 4);
});

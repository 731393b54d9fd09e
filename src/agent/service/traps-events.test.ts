import { test } from "node:test";
import assert from "node:assert/strict";
import { v1 } from "../../shared/protocol/index.js";
import { RFLAGS, RMP_PERM, RMP_PERM_RWX } from "../../shared/spec/index.js";
import { serviceRig, V1Client } from "../testing/harness.js";
import { TestPageTables } from "../testing/page-tables.js";

const S = v1.Status;
const A = v1.Access;

function rig(p: Parameters<typeof serviceRig>[0] = {}) {
  const r = serviceRig(p);
  return { ...r, c: new V1Client(r.core) };
}

function events(c: V1Client): v1.Event[] {
  c.drain();
  return c.pushed.splice(0).filter((p) => p.body.case === "event").map((p) => p.body.value as v1.Event);
}

test("write trap: rights removed, fault → event with registers, vCPU held; continue single-steps and re-arms", () => {
  const { m, core, c } = rig();
  const arm = c.call({ case: "armTrap", value: { gpa: 0x50123n, access: A.WRITE } });
  assert.equal(arm.status, S.OK);
  const trapId = (arm.body.value as v1.ArmTrapResponse).trapId;
  assert.equal(m.perms1(0x50000n), RMP_PERM_RWX & ~RMP_PERM.WRITE);
  assert.equal(m.guestAccess(0, 0x50010n, "read"), "ok");
  m.setVmsa1Field(0, "rip", 0xffffffff81001000n);
  assert.equal(m.guestAccess(0, 0x50010n, "write"), "npf");
  core.checkFaults({ vcpu: 0, npf: true, db: false });
  const [ev] = events(c);
  assert.ok(ev);
  assert.equal(ev.trapId, trapId);
  assert.equal(ev.vcpu, 0);
  assert.equal(ev.access, A.WRITE);
  assert.equal(ev.gpa, 0x50010n);
  assert.equal(ev.registers?.rip, 0xffffffff81001000n);
  assert.equal(ev.gvaKnown, false);
  assert.ok(!m.runnable(0), "the faulting vCPU is held");
  assert.ok(m.runnable(1));
  assert.equal(m.vmsa1Field(0, "guest_exit_code"), 0n, "the exit code is consumed");
  // Continue: rights back, the other vCPU held, TF on the faulting one.
  assert.equal(c.call({ case: "eventResponse", value: { eventId: ev.eventId, action: v1.EventAction.CONTINUE } }).status, S.OK);
  assert.equal(m.perms1(0x50000n), RMP_PERM_RWX);
  assert.ok(m.runnable(0) && !m.runnable(1));
  assert.ok((m.vmsa1Field(0, "rflags") & RFLAGS.TF) !== 0n);
  assert.equal(m.guestAccess(0, 0x50010n, "write"), "ok");
  assert.equal(m.guestStep(0), "db");
  core.checkFaults({ vcpu: 0, npf: false, db: true });
  assert.equal(m.vmsa1Field(0, "rflags") & RFLAGS.TF, 0n);
  assert.equal(m.perms1(0x50000n), RMP_PERM_RWX & ~RMP_PERM.WRITE, "re-armed");
  assert.ok(m.runnable(0) && m.runnable(1), "released");
  assert.equal(core.counters.unmatchedFaults, 0n);
  assert.equal(core.counters.events, 1n);
});

test("read and execute traps remove exactly those rights; disarm restores RWX", () => {
  const { m, c } = rig();
  const r = c.call({ case: "armTrap", value: { gpa: 0x60000n, access: A.READ } });
  const x = c.call({ case: "armTrap", value: { gpa: 0x61000n, access: A.EXECUTE } });
  assert.equal(m.perms1(0x60000n), RMP_PERM_RWX & ~RMP_PERM.READ);
  assert.equal(m.perms1(0x61000n), RMP_PERM.READ | RMP_PERM.WRITE);
  c.call({ case: "disarmTrap", value: { trapId: (r.body.value as v1.ArmTrapResponse).trapId } });
  c.call({ case: "disarmTrap", value: { trapId: (x.body.value as v1.ArmTrapResponse).trapId } });
  assert.equal(m.perms1(0x60000n), RMP_PERM_RWX);
  assert.equal(m.perms1(0x61000n), RMP_PERM_RWX);
  assert.equal(c.call({ case: "disarmTrap", value: { trapId: 999n } }).status, S.NOT_FOUND);
});

test("function trap: executions at other RIPs continue silently; the filtered RIP raises an event with gva = RIP", () => {
  const { m, core, c } = rig();
  c.call({ case: "armTrap", value: { gpa: 0x70000n, access: A.EXECUTE, ripFilter: [0xffffffff81070040n] } });
  m.setVmsa1Field(1, "rip", 0xffffffff81070000n);
  assert.equal(m.guestAccess(1, 0x70000n, "exec"), "npf");
  core.checkFaults({ vcpu: 1, npf: true, db: false });
  assert.equal(events(c).length, 0);
  assert.ok(m.runnable(1) && !m.runnable(0), "stepping through silently");
  assert.equal(m.guestStep(1, 0x40n), "db");
  core.checkFaults({ vcpu: 1, npf: false, db: true });
  assert.ok(m.runnable(0) && m.runnable(1));
  assert.equal(m.guestAccess(1, 0x70040n, "exec"), "npf");
  core.checkFaults({ vcpu: 1, npf: true, db: false });
  const [ev] = events(c);
  assert.equal(ev?.access, A.EXECUTE);
  assert.equal(ev?.gva, 0xffffffff81070040n);
  assert.equal(ev?.gvaKnown, true);
  assert.equal(core.counters.silentSteps, 1n);
});

test("skip: RIP := guest_nrip when the hardware gave one; otherwise a write is denied by undoing it; a read cannot be skipped", () => {
  const { m, core, c } = rig();
  c.call({ case: "armTrap", value: { gpa: 0x80000n, access: A.READ | A.WRITE } });
  m.poke(0x80000n, Uint8Array.of(0x11));
  // nRIP reported: plain skip.
  m.setVmsa1Field(0, "rip", 0x1000n);
  m.guestAccess(0, 0x80000n, "read");
  m.setVmsa1Field(0, "guest_nrip", 0x1005n);
  core.checkFaults();
  let [ev] = events(c);
  assert.equal(c.call({ case: "eventResponse", value: { eventId: ev!.eventId, action: v1.EventAction.SKIP } }).status, S.OK);
  assert.equal(m.vmsa1Field(0, "rip"), 0x1005n);
  assert.ok(m.runnable(0));
  // nRIP = RIP (what the platform reports for #NPF): a read cannot be skipped...
  m.guestAccess(0, 0x80000n, "read");
  core.checkFaults();
  [ev] = events(c);
  assert.equal(c.call({ case: "eventResponse", value: { eventId: ev!.eventId, action: v1.EventAction.SKIP } }).status, S.FAILED_PRECONDITION);
  assert.equal(c.call({ case: "eventResponse", value: { eventId: ev!.eventId, action: v1.EventAction.HOLD } }).status, S.OK);
  assert.ok(!m.runnable(0), "still held");
  c.call({ case: "eventResponse", value: { eventId: ev!.eventId, action: v1.EventAction.CONTINUE } });
  m.guestStep(0);
  core.checkFaults();
  // ...but a write is stepped and undone.
  m.guestAccess(0, 0x80000n, "write");
  core.checkFaults();
  [ev] = events(c);
  c.call({ case: "eventResponse", value: { eventId: ev!.eventId, action: v1.EventAction.SKIP } });
  m.poke(0x80000n, Uint8Array.of(0x99)); // the instruction's write
  m.guestStep(0);
  core.checkFaults();
  assert.equal(m.peek(0x80000n, 1)[0], 0x11, "the write was undone");
  assert.ok(m.runnable(0) && m.runnable(1));
  assert.equal(c.call({ case: "eventResponse", value: { eventId: 12345n, action: v1.EventAction.CONTINUE } }).status, S.NOT_FOUND);
  assert.equal(c.call({ case: "eventResponse", value: { eventId: ev!.eventId, action: 7 as v1.EventAction } }).status, S.INVALID_ARGUMENT);
});

test("arm bounds: agent region and beyond → OUT_OF_RANGE, shared page, bad access, filter rules, trap limit", () => {
  const { m, c } = rig({ limits: { maxTraps: 2 } });
  assert.equal(c.call({ case: "armTrap", value: { gpa: m.layout.agentBase, access: A.READ } }).status, S.OUT_OF_RANGE);
  assert.equal(c.call({ case: "armTrap", value: { gpa: 1n << 40n, access: A.READ } }).status, S.OUT_OF_RANGE);
  assert.equal(c.call({ case: "armTrap", value: { gpa: m.layout.guestGhcb[0]!, access: A.READ } }).status, S.OUT_OF_RANGE);
  assert.equal(c.call({ case: "armTrap", value: { gpa: 0x50000n, access: 0 } }).status, S.INVALID_ARGUMENT);
  assert.equal(c.call({ case: "armTrap", value: { gpa: 0x50000n, access: 8 } }).status, S.INVALID_ARGUMENT);
  assert.equal(c.call({ case: "armTrap", value: { gpa: 0x50000n, access: A.READ, ripFilter: [1n] } }).status, S.INVALID_ARGUMENT);
  assert.equal(c.call({ case: "armTrap", value: { gpa: 0x50000n, access: A.EXECUTE, ripFilter: Array.from({ length: 65 }, (_, i) => BigInt(i)) } }).status, S.TOO_LARGE);
  assert.equal(c.call({ case: "armTrap", value: { gpa: 0x50000n, access: A.READ } }).status, S.OK);
  assert.equal(c.call({ case: "armTrap", value: { gpa: 0x51000n, access: A.READ } }).status, S.OK);
  assert.equal(c.call({ case: "armTrap", value: { gpa: 0x52000n, access: A.READ } }).status, S.RESOURCE_EXHAUSTED);
  assert.equal(m.perms1(m.layout.agentBase), 0, "agent pages untouched");
});

test("forged or stale forwarded faults are counted and ignored", () => {
  const { m, core, c } = rig();
  c.call({ case: "armTrap", value: { gpa: 0x50000n, access: A.WRITE } });
  // The host claims an #NPF that hardware never recorded.
  core.checkFaults({ vcpu: 0, npf: true, db: false });
  assert.equal(core.counters.unmatchedFaults, 1n);
  // A VMPL #NPF on a page without a trap (the guest touched the agent's memory).
  m.setVmsa1Field(1, "guest_exit_code", 0x400n);
  m.setVmsa1Field(1, "guest_exit_info_1", 1n << 36n);
  m.setVmsa1Field(1, "guest_exit_info_2", m.layout.agentBase);
  core.checkFaults({ vcpu: 1, npf: true, db: false });
  assert.equal(core.counters.unmatchedFaults, 2n);
  // An #NPF without the VMPL bit is not ours: left alone, not counted.
  m.setVmsa1Field(1, "guest_exit_code", 0x400n);
  m.setVmsa1Field(1, "guest_exit_info_1", 1n);
  m.setVmsa1Field(1, "guest_exit_info_2", 0x50000n);
  core.checkFaults();
  assert.equal(core.counters.unmatchedFaults, 2n);
  assert.equal(m.vmsa1Field(1, "guest_exit_code"), 0x400n);
  // A #DB while nobody steps.
  m.setVmsa1Field(0, "guest_exit_code", 0x41n);
  core.checkFaults({ vcpu: 0, npf: false, db: true });
  assert.equal(core.counters.unmatchedFaults, 3n);
  // A real fault is consumed once: a replayed forward finds nothing.
  m.guestAccess(0, 0x50000n, "write");
  core.checkFaults({ vcpu: 0, npf: true, db: false });
  core.checkFaults({ vcpu: 0, npf: true, db: false });
  assert.equal(core.counters.events, 1n);
  assert.equal(core.counters.unmatchedFaults, 4n);
  assert.equal(events(c).length, 1);
});

test("one vCPU steps at a time: a second continue waits for the first step", () => {
  const { m, core, c } = rig({ vcpus: 3 });
  c.call({ case: "armTrap", value: { gpa: 0x50000n, access: A.WRITE } });
  m.guestAccess(0, 0x50000n, "write");
  m.guestAccess(2, 0x50008n, "write");
  core.checkFaults();
  const evs = events(c);
  assert.equal(evs.length, 2);
  for (const e of evs) c.call({ case: "eventResponse", value: { eventId: e.eventId, action: v1.EventAction.CONTINUE } });
  assert.ok(m.runnable(0) && !m.runnable(1) && !m.runnable(2));
  m.guestStep(0);
  core.checkFaults();
  assert.ok(!m.runnable(0) && !m.runnable(1) && m.runnable(2));
  assert.equal(m.guestStep(2), "db");
  core.checkFaults();
  assert.ok(m.runnable(0) && m.runnable(1) && m.runnable(2));
  assert.equal(m.perms1(0x50000n), RMP_PERM_RWX & ~RMP_PERM.WRITE);
});

test("the stepped instruction may touch a second armed page; it is let through without an event", () => {
  const { m, core, c } = rig();
  c.call({ case: "armTrap", value: { gpa: 0x50000n, access: A.READ } });
  c.call({ case: "armTrap", value: { gpa: 0x51000n, access: A.WRITE } });
  m.guestAccess(0, 0x50000n, "read");
  core.checkFaults();
  const [ev] = events(c);
  c.call({ case: "eventResponse", value: { eventId: ev!.eventId, action: v1.EventAction.CONTINUE } });
  assert.equal(m.guestAccess(0, 0x51000n, "write"), "npf");
  core.checkFaults();
  assert.equal(events(c).length, 0);
  assert.equal(m.guestAccess(0, 0x51000n, "write"), "ok");
  m.guestStep(0);
  core.checkFaults();
  assert.equal(m.perms1(0x51000n), RMP_PERM_RWX & ~RMP_PERM.WRITE);
  assert.equal(m.perms1(0x50000n), RMP_PERM_RWX & ~RMP_PERM.READ);
});

test("MappingChanged: the PTE page of a (dtb, va) trap is watched; a remap by the guest is pushed", () => {
  const { m, core, c } = rig();
  const pt = new TestPageTables(m, 0x100000n);
  const va = 0xffff_8880_0001_0000n;
  const pte = pt.map4k(va, 0x90000n);
  const arm = c.call({ case: "armTrap", value: { gpa: 0x90000n, access: A.WRITE, va, dtb: pt.root } });
  assert.equal(arm.status, S.OK);
  const trapId = (arm.body.value as v1.ArmTrapResponse).trapId;
  const ptePage = pte & ~0xfffn;
  assert.equal(m.perms1(ptePage) & RMP_PERM.WRITE, 0, "the PTE page is write-protected");
  // The guest rewrites the PTE: a silent step, then the agent re-walks.
  assert.equal(m.guestAccess(1, pte, "write"), "npf");
  core.checkFaults();
  m.poke64(pte, 0x91000n | 0x3n | pt.c);
  m.guestStep(1);
  core.checkFaults();
  c.drain();
  const mc = c.pushed.splice(0).find((p) => p.body.case === "mappingChanged")?.body.value as v1.MappingChanged | undefined;
  assert.ok(mc);
  assert.equal(mc.trapId, trapId);
  assert.equal(mc.oldGpa, 0x90000n);
  assert.equal(mc.newGpa, 0x91000n);
  assert.equal(mc.present, true);
  assert.equal(mc.vcpu, 1);
  // The event of a data fault through a watched trap does not claim the watched VA: the
  // hardware reports only the GPA, and the access may have used another mapping.
  m.poke64(pte, 0x90000n | 0x3n | pt.c);
  core.afterWrites([pte]);
  m.guestAccess(0, 0x90010n, "write");
  core.checkFaults();
  const [ev] = events(c);
  assert.equal(ev?.gpa, 0x90010n);
  assert.equal(ev?.gvaKnown, false);
  assert.equal(ev?.gva, 0n);
  // Arm through an unmapped va / a va mapping elsewhere.
  assert.equal(c.call({ case: "armTrap", value: { gpa: 0x90000n, access: A.WRITE, va: 0x7000n, dtb: pt.root } }).status, S.PAGE_FAULT);
  assert.equal(c.call({ case: "armTrap", value: { gpa: 0x92000n, access: A.WRITE, va, dtb: pt.root } }).status, S.FAILED_PRECONDITION);
});

test("ending a session releases its held vCPUs, disarms its traps and lifts its pause", () => {
  const { m, core, c } = rig();
  c.call({ case: "armTrap", value: { gpa: 0x50000n, access: A.WRITE } });
  m.guestAccess(0, 0x50000n, "write");
  core.checkFaults();
  assert.ok(!m.runnable(0));
  c.call({ case: "pause", value: {} });
  c.session.end();
  assert.equal(m.perms1(0x50000n), RMP_PERM_RWX);
  // The held vCPU steps over its access once, then everything runs.
  assert.ok(m.runnable(0) && !m.runnable(1));
  m.guestStep(0);
  core.checkFaults();
  assert.ok(m.runnable(0) && m.runnable(1));
  assert.equal(core.traps.size, 0);
  assert.equal(core.paused, false);
});

test("the heartbeat reports traps, stopped vCPUs and counters", () => {
  const { m, core, c } = rig();
  c.call({ case: "armTrap", value: { gpa: 0x50000n, access: A.WRITE } });
  m.guestAccess(1, 0x50000n, "write");
  core.checkFaults();
  core.counters.vmpl0StarvedNs = 5n;
  const h = c.call({ case: "heartbeat", value: {} }).body.value as v1.Heartbeat;
  assert.equal(h.trapsArmed, 1);
  assert.deepEqual(h.stoppedVcpus, [1]);
  assert.equal(h.events, 1n);
  assert.equal(h.vmpl0StarvedNs, 5n);
  assert.equal(h.agentTimeNs, m.nowNs);
});

test("pause scope: a session's pause ends with the session; until_resumed outlives it and any owner session resumes it", () => {
  const { m, core, c } = rig();
  c.call({ case: "pause", value: {} });
  c.session.end();
  assert.ok(m.runnable(0) && m.runnable(1), "session-scoped pause lifted at session end");
  const a = new V1Client(core);
  a.call({ case: "pause", value: { untilResumed: true } });
  a.session.end();
  assert.ok(!m.runnable(0) && !m.runnable(1), "persistent pause survives its session");
  const b = new V1Client(core);
  const held = new V1Client(core);
  held.call({ case: "pause", value: {} });
  const r = b.call({ case: "resume", value: {} }).body.value as v1.ResumeResponse;
  assert.deepEqual(r.resumed, [], "another session's own pause still holds");
  held.call({ case: "resume", value: {} });
  assert.ok(m.runnable(0) && m.runnable(1));
});

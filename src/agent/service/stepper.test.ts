import { test } from "node:test";
import assert from "node:assert/strict";
import { v1 } from "../../shared/protocol/index.js";
import { NPF_EXITINFO1, RFLAGS, RMP_PERM, RMP_PERM_RWX, SVM_EXIT } from "../../shared/spec/index.js";
import { serviceRig, V1Client } from "../testing/harness.js";
import { STEP_TIMEOUT_NS } from "./stepper.js";

const S = v1.Status;
const A = v1.Access;
const HLT = 0x78n;
const INTR = 0x60n;
const SHUTDOWN = 0x7fn;
const NO_TRAP = RMP_PERM_RWX & ~RMP_PERM.READ;

/** A read trap on 0x50000 whose event on vCPU 0 was answered "continue": vCPU 0 is stepping, vCPU 1 held. */
function stepping() {
  const r = serviceRig();
  const c = new V1Client(r.core);
  assert.equal(c.call({ case: "armTrap", value: { gpa: 0x50000n, access: A.READ } }).status, S.OK);
  assert.equal(r.m.guestAccess(0, 0x50008n, "read"), "npf");
  r.core.checkFaults({ vcpu: 0, npf: true, db: false });
  c.drain();
  const ev = c.pushed.splice(0).find((p) => p.body.case === "event")!.body.value as v1.Event;
  assert.equal(c.call({ case: "eventResponse", value: { eventId: ev.eventId, action: v1.EventAction.CONTINUE } }).status, S.OK);
  assert.equal(r.core.stepping, 0);
  assert.ok(r.m.runnable(0) && !r.m.runnable(1));
  assert.equal(r.m.perms1(0x50000n), RMP_PERM_RWX, "the page is open for the step");
  return { ...r, c };
}

function assertEnded(r: ReturnType<typeof stepping>, aborted: bigint): void {
  assert.equal(r.core.stepping, undefined, "the step is over");
  assert.equal(r.m.vmsa1Field(0, "rflags") & RFLAGS.TF, 0n, "TF cleared");
  assert.equal(r.m.perms1(0x50000n), NO_TRAP, "re-armed");
  assert.ok(r.m.runnable(0) && r.m.runnable(1), "both vCPUs released");
  assert.equal(r.m.vmsa1Field(0, "guest_exit_code"), 0n, "the exit was consumed");
  assert.equal(r.core.counters.stepsAborted, aborted);
}

test("a step ends on the stepped context's VMGEXIT or HLT (they retire without a #DB)", () => {
  for (const code of [BigInt(SVM_EXIT.VMGEXIT), HLT]) {
    const r = stepping();
    r.m.guestExit(0, code);
    r.core.checkFaults();
    assertEnded(r, 0n);
    assert.equal(r.core.counters.unmatchedFaults, 0n);
  }
});

test("exits that end nothing keep the step open: the host's budget (INTR), a #NPF without the VMPL bit; then the #DB ends it", () => {
  const r = stepping();
  r.m.guestExit(0, INTR);
  r.core.checkFaults();
  assert.equal(r.core.stepping, 0);
  r.m.guestExit(0, BigInt(SVM_EXIT.NPF), NPF_EXITINFO1.P | NPF_EXITINFO1.RMP, 0x70000n);
  r.core.checkFaults();
  assert.equal(r.core.stepping, 0);
  assert.equal(r.m.guestStep(0), "db");
  r.core.checkFaults({ vcpu: 0, npf: false, db: true });
  assertEnded(r, 0n);
});

test("a step that cannot complete is ended, not wedged: a VMPL fault it cannot open, a shutdown", () => {
  const r = stepping();
  // The stepped instruction hits a VMPL fault on a page no trap owns (the agent's own, say).
  r.m.guestExit(0, BigInt(SVM_EXIT.NPF), NPF_EXITINFO1.P | NPF_EXITINFO1.VMPL, r.m.layout.secrets);
  r.core.checkFaults({ vcpu: 0, npf: true, db: false });
  assertEnded(r, 1n);
  assert.equal(r.core.counters.unmatchedFaults, 1n);
  const r2 = stepping();
  r2.m.guestExit(0, SHUTDOWN);
  r2.core.checkFaults();
  assertEnded(r2, 1n);
});

test("an exit code left from before the step is not taken for the step's end", () => {
  const r = serviceRig();
  const c = new V1Client(r.core);
  c.call({ case: "armTrap", value: { gpa: 0x50000n, access: A.READ, ripFilter: [] } });
  assert.equal(r.m.guestAccess(0, 0x50008n, "read"), "npf");
  r.core.checkFaults({ vcpu: 0, npf: true, db: false });
  c.drain();
  const ev = c.pushed.splice(0).find((p) => p.body.case === "event")!.body.value as v1.Event;
  // While held, something writes a stale HLT into the exit fields; the step's start clears them.
  r.m.guestExit(0, HLT);
  c.call({ case: "eventResponse", value: { eventId: ev.eventId, action: v1.EventAction.CONTINUE } });
  assert.equal(r.m.vmsa1Field(0, "guest_exit_code"), 0n);
  r.core.checkFaults();
  assert.equal(r.core.stepping, 0, "still stepping");
});

test("a step whose context never exits times out in agent time; the other vCPU's traps deliver events again", () => {
  const r = stepping();
  r.m.nowNs += STEP_TIMEOUT_NS / 2n;
  r.core.checkFaults();
  assert.equal(r.core.stepping, 0, "not yet");
  r.m.nowNs += STEP_TIMEOUT_NS;
  r.core.checkFaults();
  assertEnded(r, 1n);
  // vCPU 0 never ran: its access faults again on the re-armed page (a new event); vCPU 1's too.
  assert.equal(r.m.guestAccess(1, 0x50010n, "read"), "npf");
  r.core.checkFaults({ vcpu: 1, npf: true, db: false });
  r.c.drain();
  const evs = r.c.pushed.splice(0).filter((p) => p.body.case === "event").map((p) => p.body.value as v1.Event);
  assert.deepEqual(evs.map((e) => e.vcpu), [1]);
  assert.ok(!r.m.runnable(1), "held at its event");
});

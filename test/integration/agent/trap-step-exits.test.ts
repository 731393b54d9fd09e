/**
 * The single step behind "continue" on the Linux kernel model (BENCHMARKS.md, "found
 * while benchmarking"): an execute trap on the page of entry_SYSCALL_64 steps SYSCALL's
 * target and its neighbours — instructions that rewrite RFLAGS, system calls that end in
 * HLT or VMGEXIT — event after event. After it is disarmed, a read trap on the page of
 * sys_call_table (read on every system call) must still deliver events: no step may be
 * left open, holding vCPUs and the page. And on the real platform with a scripted guest: a
 * stepped HLT (which exits by itself, without #DB, on an idle vCPU that only halts
 * afterwards) ends its step at once.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createWorld } from "../../../src/app/index.js";
import { createTlsIdentity } from "../../../src/agent/runtime/tls-identity.js";
import { startWorld, V1TestClient, v1, waitFor } from "./world.js";

/** Answers every event of `trapId` with CONTINUE until `count` were seen; returns how many. */
async function continueEvents(c: V1TestClient, trapId: bigint, count: number, timeoutMs: number): Promise<number> {
  let seen = 0;
  const end = Date.now() + timeoutMs;
  while (seen < count && Date.now() < end) {
    const i = c.events.findIndex((r) => r.body.case === "event" && (r.body.value as v1.Event).trapId === trapId);
    if (i < 0) {
      await new Promise((r) => setTimeout(r, 2));
      continue;
    }
    const ev = c.events.splice(i, 1)[0]!.body.value as v1.Event;
    seen++;
    const r = await c.call({ case: "eventResponse", value: { eventId: ev.eventId, action: v1.EventAction.CONTINUE } });
    assert.equal(r.status, v1.Status.OK);
  }
  return seen;
}

test("execute trap on entry_SYSCALL_64's page with continue, disarmed; then a read trap on sys_call_table's page still delivers events", async () => {
  const owner = createTlsIdentity(new Uint8Array(randomBytes(48)), new Uint8Array(16).fill(5));
  const w = await createWorld({ memoryBytes: 256n << 20n, vcpus: 2, seed: "agent-step-exits", ownerKey: owner.spki, listen: { host: "127.0.0.1", port: 0 } });
  w.start();
  try {
    await waitFor(() => w.guest.booted, 30_000, "the guest kernel to boot");
    const c = await V1TestClient.connect(w.endpoint.port, owner);
    const gt = w.guest.groundTruth();
    const dtb = BigInt(gt.kernel.initTopPgt);
    const entry = BigInt(gt.lstar[0]!);
    const table = BigInt(gt.syscallTable.va);
    const tr = (await c.call({ case: "translate", value: { dtb, vas: [entry, table] } })).body.value as v1.TranslateResponse;
    assert.ok(tr.translations.every((t) => t.status === v1.Status.OK));
    const [entryGpa, tableGpa] = tr.translations.map((t) => t.gpa);

    const x = await c.call({ case: "armTrap", value: { gpa: entryGpa!, access: v1.Access.EXECUTE } });
    assert.equal(x.status, v1.Status.OK);
    const xId = (x.body.value as v1.ArmTrapResponse).trapId;
    const stepped = await continueEvents(c, xId, 40, 30_000);
    assert.ok(stepped >= 10, `execute events on entry_SYSCALL_64's page: ${stepped}`);
    assert.equal((await c.call({ case: "disarmTrap", value: { trapId: xId } })).status, v1.Status.OK);

    const r = await c.call({ case: "armTrap", value: { gpa: tableGpa!, access: v1.Access.READ } });
    assert.equal(r.status, v1.Status.OK);
    const rId = (r.body.value as v1.ArmTrapResponse).trapId;
    const reads = await continueEvents(c, rId, 10, 30_000);
    assert.equal(reads, 10, "the read trap delivers events after the execute trap was disposed");
    assert.equal((await c.call({ case: "disarmTrap", value: { trapId: rId } })).status, v1.Status.OK);

    const core = w.agent!.introspect.core!;
    await waitFor(() => core.stepping === undefined && core.heldVcpus().length === 0, 10_000, "the last step to end");
    const hb = (await c.call({ case: "heartbeat", value: {} })).body.value as v1.Heartbeat;
    assert.deepEqual(hb.stoppedVcpus, [], "no vCPU left stopped");
    assert.equal(hb.trapsArmed, 0);
    c.end();
  } finally {
    await w.stop();
  }
});

test("a stepped HLT on an idle vCPU ends its step (no #DB ever comes): the other vCPU runs and its trap delivers", async () => {
  const w = await startWorld();
  try {
    const c = await V1TestClient.connect(w.port, w.owner);
    const P = 0x30_0000n;
    const Q = 0x30_1000n;
    const x = await c.call({ case: "armTrap", value: { gpa: P, access: v1.Access.EXECUTE } });
    assert.equal(x.status, v1.Status.OK);
    w.guest.push(1, { kind: "exec-hlt", gpa: P + 0x40n });
    const ev = (await c.waitEvent((r) => r.body.case === "event")).body.value as v1.Event;
    assert.equal(ev.vcpu, 1);
    assert.equal(ev.access, v1.Access.EXECUTE);
    assert.equal((await c.call({ case: "eventResponse", value: { eventId: ev.eventId, action: v1.EventAction.CONTINUE } })).status, v1.Status.OK);
    // vCPU 1 halts and, idle, halts again every time it runs: its step must end on the HLT exit.
    await waitFor(() => w.guest.done.some((d) => d.vcpu === 1 && d.action.kind === "exec-hlt"), 10_000, "the stepped HLT");
    const r = await c.call({ case: "armTrap", value: { gpa: Q, access: v1.Access.READ } });
    assert.equal(r.status, v1.Status.OK);
    w.guest.push(0, { kind: "read", gpa: Q + 8n });
    const ev2 = (await c.waitEvent((e) => e.body.case === "event", 10_000)).body.value as v1.Event;
    assert.equal(ev2.vcpu, 0);
    assert.equal(ev2.trapId, (r.body.value as v1.ArmTrapResponse).trapId);
    assert.equal((await c.call({ case: "eventResponse", value: { eventId: ev2.eventId, action: v1.EventAction.CONTINUE } })).status, v1.Status.OK);
    await waitFor(() => w.guest.done.some((d) => d.vcpu === 0 && d.action.kind === "read"), 10_000, "vCPU 0's read");
    const core = w.agent.introspect.core!;
    await waitFor(() => core.stepping === undefined, 10_000, "the last step to end");
    assert.equal(core.counters.stepsAborted, 0n, "both steps ended on their own exits");
    assert.equal(core.counters.unmatchedFaults, 0n);
    c.end();
  } finally {
    await w.close();
  }
});

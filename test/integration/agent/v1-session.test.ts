/**
 * The agent end to end through the real host (TCP → NIC relay → rings → agent at VMPL0 on
 * the real platform): attestation bound to the session, owner-only sessions, memory,
 * registers, secure pause and traps against a scripted guest at VMPL1.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { attestationReportData } from "../../../src/shared/protocol/index.js";
import { checkAttestation, failedCodes } from "../../../src/client/index.js";
import { RMP_PERM, RMP_PERM_RWX } from "../../../src/shared/spec/index.js";
import type { Gpa } from "../../../src/shared/base/index.js";
import { createTlsIdentity } from "../../../src/agent/runtime/tls-identity.js";
import { startWorld, V1TestClient, v1, waitFor } from "./world.js";

const S = v1.Status;

test("attestation: the VMPL0 report verifies with the simulated ARK, carries the launch measurement and binds this session", async () => {
  const w = await startWorld();
  try {
    const c = await V1TestClient.connect(w.port, w.owner);
    const nonce = new Uint8Array(randomBytes(48));
    const r = await c.call({ case: "attest", value: { nonce } });
    assert.equal(r.status, S.OK, r.detail);
    const a = r.body.value as v1.AttestResponse;
    assert.equal(a.report.length, 1184);
    assert.ok(a.vcek.length > 0, "the VCEK came through the extended guest request");
    assert.equal(a.chain.length, 2);
    const certs = w.machine.hypervisor.asp.certificates();
    const input = { report: a.report, keyKind: "vcek" as const, certificate: a.vcek, chain: [...a.chain], trustRoots: [certs.ark] };
    const policy = { measurement: w.measurement, reportData: attestationReportData(nonce, c.exporter()) };
    const ok = checkAttestation(input, policy);
    assert.deepEqual(failedCodes(ok.checks), []);
    assert.equal(ok.report?.vmpl, 0);
    // Without the simulated root the chain is not trusted.
    assert.ok(failedCodes(checkAttestation({ ...input, trustRoots: [] }, policy).checks).includes("ARK_NOT_TRUSTED"));
    // The same report checked against another session's exporter or another nonce fails.
    const other = await V1TestClient.connect(w.port, w.owner);
    assert.ok(failedCodes(checkAttestation(input, { ...policy, reportData: attestationReportData(nonce, other.exporter()) }).checks).length > 0);
    assert.ok(failedCodes(checkAttestation(input, { ...policy, reportData: attestationReportData(new Uint8Array(48), c.exporter()) }).checks).length > 0);
    // Two attestations in a row (sequence numbers advance).
    const r2 = await other.call({ case: "attest", value: { nonce } });
    assert.equal(r2.status, S.OK);
    assert.equal(w.agent.introspect.attestation.completed, 2);
    c.end();
    other.end();
  } finally {
    await w.close();
  }
});

test("only the owner opens a v1 session: another key, or no certificate, is closed without an answer", async () => {
  const w = await startWorld();
  try {
    const stranger = createTlsIdentity(new Uint8Array(randomBytes(48)), new Uint8Array(16).fill(1));
    for (const id of [stranger, undefined]) {
      const c = await V1TestClient.connect(w.port, id);
      await assert.rejects(c.call({ case: "machineInfo", value: {} }, 5000));
      await c.closed;
    }
    await waitFor(() => (w.agent.introspect.notes["refused-not-owner"] ?? 0) === 2, 5000, "refusals");
    // v0 is off in this configuration: no ALPN is refused too.
    const v0 = await V1TestClient.connect(w.port, undefined, null);
    await v0.closed;
    assert.equal(w.agent.introspect.notes["refused-v0-disabled"], 1);
    // The owner still gets in.
    const owner = await V1TestClient.connect(w.port, w.owner);
    assert.equal((await owner.call({ case: "machineInfo", value: {} })).status, S.OK);
    owner.end();
  } finally {
    await w.close();
  }
});

test("memory and registers against the running guest; secure pause holds even when the host VMRUNs paused contexts", async () => {
  const w = await startWorld({ adversary: { vmrunPaused: { every: 1 } } });
  try {
    const c = await V1TestClient.connect(w.port, w.owner);
    const pattern = Uint8Array.from({ length: 64 }, (_, i) => i ^ 0x5a);
    w.guest.push(1, { kind: "write", gpa: 0x200040n, data: pattern });
    await waitFor(() => w.guest.done.length === 1, 10_000, "the guest's write");
    const rd = await c.call({ case: "readPhys", value: { ranges: [{ addr: 0x200040n, len: 64 }, { addr: w.layout.agentBase, len: 8 }] } });
    const chunks = (rd.body.value as v1.ReadResponse).chunks;
    assert.deepEqual(chunks[0]!.data, pattern);
    assert.equal(chunks[1]!.status, S.OUT_OF_RANGE);
    const wr = await c.call({ case: "writePhys", value: { writes: [{ addr: 0x300000n, data: Uint8Array.of(1, 2, 3) }] } });
    assert.deepEqual((wr.body.value as v1.WriteResponse).statuses, [S.OK]);
    const back = await c.call({ case: "readPhys", value: { ranges: [{ addr: 0x300000n, len: 3 }] } });
    assert.deepEqual([...(back.body.value as v1.ReadResponse).chunks[0]!.data], [1, 2, 3]);
    // Registers: the scripted guest advances RIP by 4 per instruction from the reset vector.
    const regs = (await c.call({ case: "getRegisters", value: { vcpus: [] } })).body.value as v1.RegistersResponse;
    assert.equal(regs.sets.length, 2);
    assert.equal(regs.sets[0]!.cs?.selector, 0xf000);
    assert.equal((regs.sets[1]!.rip - 0xfff0n) % 4n, 0n);
    assert.ok(regs.sets[1]!.rip > 0xfff0n);
    // Pause: no VMPL1 instruction retires while paused, although the adversary VMRUNs them.
    const p = (await c.call({ case: "pause", value: {} })).body.value as v1.PauseResponse;
    assert.deepEqual(p.stopped, [0, 1]);
    const before = w.host.counters()["guest.retired"] ?? 0;
    w.guest.push(0, { kind: "write", gpa: 0x200000n });
    await waitFor(() => (w.host.counters()["adversary.vmrun-paused.refused"] ?? 0) > 20, 10_000, "refused VMRUNs");
    assert.equal(w.host.counters()["guest.retired"] ?? 0, before);
    assert.equal(w.host.counters()["adversary.vmrun-paused.entered"] ?? 0, 0);
    const set = await c.call({ case: "setRegisters", value: { vcpu: 0, writes: [{ reg: v1.Register.RAX, value: 0x1234n }] } });
    assert.equal(set.status, S.OK);
    const rs = (await c.call({ case: "resume", value: {} })).body.value as v1.ResumeResponse;
    assert.deepEqual(rs.resumed, [0, 1]);
    await waitFor(() => w.guest.done.length === 2, 10_000, "the guest running again");
    const r0 = (await c.call({ case: "getRegisters", value: { vcpus: [0] } })).body.value as v1.RegistersResponse;
    assert.equal(r0.sets[0]!.rax, 0x1234n);
    c.end();
  } finally {
    await w.close();
  }
});

test("a write trap fires on the guest's write, holds the vCPU, and continue lets exactly that write through, re-armed", async () => {
  const w = await startWorld();
  try {
    const c = await V1TestClient.connect(w.port, w.owner);
    const arm = await c.call({ case: "armTrap", value: { gpa: 0x400000n, access: v1.Access.WRITE } });
    assert.equal(arm.status, S.OK);
    assert.equal(w.machine.hypervisor.rmpRead(0x400000n as Gpa).perms[1], RMP_PERM_RWX & ~RMP_PERM.WRITE);
    w.guest.push(1, { kind: "read", gpa: 0x400010n }, { kind: "write", gpa: 0x400010n, data: Uint8Array.of(0xaa) }, { kind: "write", gpa: 0x400020n, data: Uint8Array.of(0xbb) });
    const ev1 = (await c.waitEvent((r) => r.body.case === "event")).body.value as v1.Event;
    assert.equal(ev1.vcpu, 1);
    assert.equal(ev1.access, v1.Access.WRITE);
    assert.equal(ev1.gpa, 0x400010n);
    assert.equal(ev1.registers?.vcpu, 1);
    assert.equal(w.guest.done.length, 1, "the read went through, the write is held");
    assert.equal((await c.call({ case: "eventResponse", value: { eventId: ev1.eventId, action: v1.EventAction.CONTINUE } })).status, S.OK);
    const ev2 = (await c.waitEvent((r) => r.body.case === "event")).body.value as v1.Event;
    assert.equal(ev2.gpa, 0x400020n, "re-armed: the next write faults again");
    assert.equal(w.guest.done.length, 2);
    const mem = await c.call({ case: "readPhys", value: { ranges: [{ addr: 0x400010n, len: 1 }] } });
    assert.equal((mem.body.value as v1.ReadResponse).chunks[0]!.data[0], 0xaa);
    // Disarm releases the held vCPU.
    await c.call({ case: "disarmTrap", value: { trapId: (arm.body.value as v1.ArmTrapResponse).trapId } });
    await waitFor(() => w.guest.done.length === 3, 10_000, "the last write");
    const hb = (await c.call({ case: "heartbeat", value: {} })).body.value as v1.Heartbeat;
    assert.equal(hb.events, 2n);
    assert.equal(hb.unmatchedFaults, 0n);
    c.end();
  } finally {
    await w.close();
  }
});

test("malformed frames end the session; the agent keeps serving new ones", async () => {
  const w = await startWorld();
  try {
    const c = await V1TestClient.connect(w.port, w.owner);
    c.socket.write(Uint8Array.of(0x05, 0xff, 0xff, 0xff, 0xff, 0xff));
    await c.closed;
    const c2 = await V1TestClient.connect(w.port, w.owner);
    c2.socket.write(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x7f));
    await c2.closed;
    const c3 = await V1TestClient.connect(w.port, w.owner);
    assert.equal((await c3.call({ case: "machineInfo", value: {} })).status, S.OK);
    c3.end();
  } finally {
    await w.close();
  }
});

test("skip: the faulting write is not performed, RIP moves past it (nRIP from decode assists), the guest goes on", async () => {
  const w = await startWorld();
  try {
    const c = await V1TestClient.connect(w.port, w.owner);
    await c.call({ case: "armTrap", value: { gpa: 0x410000n, access: v1.Access.WRITE } });
    w.guest.push(1, { kind: "write", gpa: 0x410000n, data: Uint8Array.of(0xcc) }, { kind: "read", gpa: 0x420000n });
    const ev = (await c.waitEvent((r) => r.body.case === "event")).body.value as v1.Event;
    const rip = ev.registers!.rip;
    assert.equal((await c.call({ case: "eventResponse", value: { eventId: ev.eventId, action: v1.EventAction.SKIP } })).status, S.OK);
    const regs = (await c.call({ case: "getRegisters", value: { vcpus: [1] } })).body.value as v1.RegistersResponse;
    assert.ok(regs.sets[0]!.rip >= rip + 4n, "RIP moved past the skipped instruction");
    const mem = await c.call({ case: "readPhys", value: { ranges: [{ addr: 0x410000n, len: 1 }] } });
    assert.equal((mem.body.value as v1.ReadResponse).chunks[0]!.data[0], 0, "the write did not happen");
    await waitFor(() => w.guest.done.some((d) => d.action.kind === "read" && d.action.gpa === 0x420000n), 10_000, "the next instruction");
    assert.equal(w.guest.skipped.length, 1);
    assert.equal(w.guest.done.filter((d) => d.action.kind === "write").length, 0);
    c.end();
  } finally {
    await w.close();
  }
});

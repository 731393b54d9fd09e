import { test } from "node:test";
import assert from "node:assert/strict";
import { ALPN_V1, attestationReportData, EXPORTER_LABEL, v1 } from "../../shared/protocol/index.js";
import { AGENT_YIELD, SEVEN_RUN_REASON, VMSA } from "../../shared/spec/index.js";
import { createAgent, HOLD_POLL_NS } from "./agent.js";
import { createTlsIdentity } from "./tls-identity.js";
import { CERTS, FakeHost, launchedMachine, VMPCK } from "../testing/fake-host.js";
import type { AgentConfig } from "../config.js";
import { drive, TlsTestClient } from "../testing/tls-client.js";

const owner = createTlsIdentity(new Uint8Array(48).fill(5), new Uint8Array(16).fill(6));

function world(p: { config?: Partial<AgentConfig>; mutateConfig?: (b: Uint8Array) => void; pscRefused?: boolean } = {}) {
  const m = launchedMachine({ config: { ownerKey: owner.spki, ...p.config }, ...(p.mutateConfig ? { mutateConfig: p.mutateConfig } : {}) });
  const agent = createAgent({ entropy: (n) => new Uint8Array(n).fill(9), heartbeatIntervalNs: 0n });
  const host = new FakeHost(m, agent.program);
  host.pscRefused = p.pscRefused ?? false;
  return { m, agent, host };
}

function client(host: FakeHost, alpn: string[] | null, id = owner): TlsTestClient {
  return TlsTestClient.open(host, id, alpn);
}

test("boot: locates itself, revokes lower-VMPL rights to every agent page, keeps VMPCK0, hands the guest a copy without it", () => {
  const { m, agent, host } = world();
  const r = host.run(0, SEVEN_RUN_REASON.BOOT);
  assert.equal(r.kind, "yield");
  assert.deepEqual(host.exits, ["psc", "yield"]);
  assert.equal(agent.introspect.phase, "running");
  const l = m.layout;
  for (let g: bigint = l.agentBase; g < l.agentGhcb[0]!; g += 4096n) {
    const e = m.entry(Number(g / 4096n));
    if (!e.assigned) continue; // the certificate buffer, shared now
    assert.equal(e.perms1, 0, `agent page 0x${g.toString(16)}`);
  }
  assert.ok(m.entry(Number(l.vmsa1[0]! / 4096n)).vmsa && m.entry(Number(l.vmsa0[1]! / 4096n)).vmsa, "VMSA bits kept");
  const copy = m.peek(l.guestSecrets, 4096);
  assert.deepEqual(copy.subarray(0x20, 0x40), new Uint8Array(32), "VMPCK0 zeroed in the guest's copy");
  assert.deepEqual(copy.subarray(0x40, 0x60), new Uint8Array(32).fill(0x11), "VMPCK1 kept");
  assert.equal(m.peek(l.secrets, 0x40)[0x20], VMPCK[0], "the secrets page itself is untouched");
  assert.equal(agent.introspect.attestation.certificates, true);
  assert.equal(agent.introspect.notes["nic-adopted"], 1);
  // A second vCPU's VMPL0 just joins the service loop.
  assert.equal(host.run(1, SEVEN_RUN_REASON.BOOT).kind, "yield");
});

test("boot refuses a configuration that does not decode, an image that is not this build, and serves nothing", () => {
  const bad = world({ mutateConfig: (b) => (b[0x30] = 1) });
  // Before it has located its layout it has no GHCB to talk through: it halts.
  assert.equal(bad.host.run(0).kind, "hlt");
  assert.equal(bad.agent.introspect.phase, "failed");
  assert.equal(bad.agent.introspect.bootError?.code, "BAD_CONFIG");
  const img = world();
  img.m.poke(img.m.layout.image + 0x30n, Uint8Array.of(0x41));
  img.host.run(0);
  assert.equal(img.agent.introspect.bootError?.code, "BAD_IMAGE");
  assert.equal(img.host.run(0).kind, "hlt", "without a located layout it only halts");
});

test("v1 over TLS through the NIC rings: owner session, out-of-order attestation with certificates, bound to the exporter", async () => {
  const { host, agent } = world();
  host.run(0, SEVEN_RUN_REASON.BOOT);
  const c = client(host, [ALPN_V1]);
  const mi = await c.call(host, { case: "machineInfo", value: {} });
  assert.equal(mi.status, v1.Status.OK);
  assert.deepEqual(agent.introspect.sessions, [{ conn: 1, protocol: "v1" }]);
  const nonce = new Uint8Array(32).fill(3);
  const a = await c.call(host, { case: "attest", value: { nonce } });
  assert.equal(a.status, v1.Status.OK);
  const att = a.body.value as v1.AttestResponse;
  const exporter = new Uint8Array(c.s.exportKeyingMaterial(32, EXPORTER_LABEL, Buffer.alloc(0)));
  assert.deepEqual(att.report.subarray(0x50, 0x90), attestationReportData(nonce, exporter));
  assert.deepEqual(att.vcek, CERTS.vcek);
  assert.deepEqual(att.chain, [CERTS.ask, CERTS.ark]);
  assert.ok(host.exits.includes("ext-guest-request"));
  c.s.end();
  await drive(host, () => agent.introspect.connections === 0);
  assert.equal(agent.introspect.connections, 0);
});

test("without the certificate buffer (page-state change refused) attestation still works, without certificates", async () => {
  const { host, agent } = world({ pscRefused: true });
  host.run(0, SEVEN_RUN_REASON.BOOT);
  assert.equal(agent.introspect.attestation.certificates, false);
  const c = client(host, [ALPN_V1]);
  const a = await c.call(host, { case: "attest", value: { nonce: new Uint8Array(32) } });
  assert.equal(a.status, v1.Status.OK);
  assert.equal((a.body.value as v1.AttestResponse).vcek.length, 0);
  assert.ok(host.exits.includes("guest-request"));
});

test("a stranger's certificate, a foreign ALPN and v0 when disabled are closed", async () => {
  const { host, agent } = world({ config: { legacyV0: false } });
  host.run(0, SEVEN_RUN_REASON.BOOT);
  const stranger = createTlsIdentity(new Uint8Array(48).fill(1), new Uint8Array(16).fill(2));
  const cases: [TlsTestClient, string][] = [
    [client(host, [ALPN_V1], stranger), "refused-not-owner"],
    [client(host, null), "refused-v0-disabled"],
    [client(host, ["h2"]), "tls-error"],
  ];
  for (const [c, note] of cases) {
    await drive(host, () => c.closed);
    assert.ok(c.closed, note);
    assert.ok((agent.introspect.notes[note] ?? 0) >= 1, `${note}: ${JSON.stringify(agent.introspect.notes)}`);
  }
});

test("yield flags: HOLDING with a poll delay for a paused vCPU; time the host kept VMPL0 waiting is counted; forged forwards counted", async () => {
  const { m, host } = world();
  host.run(0, SEVEN_RUN_REASON.BOOT);
  const c = client(host, [ALPN_V1]);
  assert.equal((await c.call(host, { case: "pause", value: {} })).status, v1.Status.OK);
  const r = host.run(1);
  assert.equal(r.flags & AGENT_YIELD.HOLDING, AGENT_YIELD.HOLDING);
  assert.equal(r.delay, HOLD_POLL_NS);
  // The host comes back 3 ms after the wake-up it was asked for.
  m.nowNs += HOLD_POLL_NS + 3_000_000n;
  host.run(1, SEVEN_RUN_REASON.NPF_FORWARD);
  const hb = (await c.call(host, { case: "heartbeat", value: {} })).body.value as v1.Heartbeat;
  assert.equal(hb.vmpl0StarvedNs, 3_000_000n);
  assert.equal(hb.unmatchedFaults, 1n);
  assert.deepEqual(hb.stoppedVcpus, [0, 1]);
  const rip = m.peek64(m.layout.vmsa1[0]! + BigInt(VMSA.offsetOf("rip")));
  assert.equal(rip, 0xfff0n);
});

test("pushed heartbeats (id 0): the yield asks to be woken when the next one is due", async () => {
  const m = launchedMachine({ config: { ownerKey: owner.spki } });
  const agent = createAgent({ entropy: (n) => new Uint8Array(n).fill(9), heartbeatIntervalNs: 50_000_000n });
  const host = new FakeHost(m, agent.program);
  host.run(0, SEVEN_RUN_REASON.BOOT);
  const c = client(host, [ALPN_V1]);
  await c.call(host, { case: "machineInfo", value: {} });
  const r = host.run(0);
  assert.ok(r.delay > 0n && r.delay <= 50_000_000n, `delay ${r.delay}`);
  m.nowNs += 60_000_000n;
  await drive(host, () => c.replies.some((x) => x.id === 0n && x.body.case === "heartbeat"));
  const hb = c.replies.find((x) => x.id === 0n)!;
  assert.equal(hb.body.case, "heartbeat");
  assert.equal((hb.body.value as v1.Heartbeat).agentTimeNs >= 60_000_000n, true);
});

test("NIC work raises the NIC's WANT_RUN, not MORE_WORK: no vCPU is asked to run VMPL0 again for it", async () => {
  const { host } = world();
  host.run(0, SEVEN_RUN_REASON.BOOT);
  const c = client(host, [ALPN_V1]);
  await new Promise((r) => setImmediate(r)); // the ClientHello is written
  host.pumpRx();
  // vCPU 1 (not the NIC's) takes the handshake: its output may still come, so the NIC wants a run.
  const r = host.run(1, SEVEN_RUN_REASON.NPF_FORWARD);
  assert.equal(r.flags & AGENT_YIELD.MORE_WORK, 0n);
  assert.equal(host.nicWantsRun(), true);
  assert.equal((await c.call(host, { case: "machineInfo", value: {} })).status, v1.Status.OK);
  // Served and nothing left: neither flag.
  await drive(host, () => !host.nicWantsRun());
  assert.equal(host.nicWantsRun(), false);
  assert.equal(host.run(1).flags & AGENT_YIELD.MORE_WORK, 0n);
});

test("a request that releases guest contexts ends the run's work: the host can run them at once, the next request is the next run's", async () => {
  const { m, agent, host } = world();
  host.run(0, SEVEN_RUN_REASON.BOOT);
  const c = client(host, [ALPN_V1]);
  assert.equal((await c.call(host, { case: "pause", value: {} })).status, v1.Status.OK);
  const vmsaBits = () => m.layout.vmsa1.map((g) => m.entry(Number(g / 4096n)).vmsa);
  assert.deepEqual(vmsaBits(), [false, false]);
  const core = agent.introspect.core!;
  const handled = core.counters.requests;
  const resume = c.send({ case: "resume", value: {} });
  const info = c.send({ case: "machineInfo", value: {} });
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r)); // both requests reach the host
  host.pumpRx();
  host.run(0, SEVEN_RUN_REASON.NIC);
  assert.deepEqual(vmsaBits(), [true, true], "released in this run");
  assert.equal(core.counters.requests, handled + 1n, "the request after the resume waits for the next run");
  assert.equal(host.nicWantsRun(), true, "and the NIC asks for that run");
  await drive(host, () => c.replies.some((r) => r.id === info));
  assert.equal(c.replies.find((r) => r.id === resume)?.status, v1.Status.OK);
  assert.equal(c.replies.find((r) => r.id === info)?.status, v1.Status.OK);
});

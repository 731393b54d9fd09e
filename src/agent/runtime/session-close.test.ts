/**
 * Sessions that end in any state — holding the pause, with an event holding a vCPU, with a
 * request queued, with a reply on its way out, with an attestation at the secure
 * processor — closed by the client (TLS close_notify), by the network (TCP close, the
 * host's CLOSE record) or by a broken TLS stream: what they held is released while the
 * agent runs (TLS callbacks only queue the end), nothing escapes a callback, and another
 * session is served throughout.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ALPN_V1, v1 } from "../../shared/protocol/index.js";
import { RMP_PERM_RWX, SEVEN_RUN_REASON } from "../../shared/spec/index.js";
import { createAgent } from "./agent.js";
import { createTlsIdentity } from "./tls-identity.js";
import { FakeHost, launchedMachine } from "../testing/fake-host.js";
import { drive, TlsTestClient } from "../testing/tls-client.js";

const owner = createTlsIdentity(new Uint8Array(48).fill(5), new Uint8Array(16).fill(6));
const S = v1.Status;
const TRAP_PAGE = 0x50000n;

type Mode = "tls-close" | "tcp-close" | "tls-garbage";
type State = "paused" | "held-event" | "queued-request" | "reply-in-flight" | "attestation";

function closeBy(c: TlsTestClient, mode: Mode): void {
  if (mode === "tls-close") c.s.end();
  else if (mode === "tcp-close") c.raw.end();
  // An application-data record that cannot authenticate: the agent's TLS layer fails.
  else c.raw.write(Buffer.from([0x17, 0x03, 0x03, 0x00, 0x20, ...new Uint8Array(32).fill(0x5c)]));
}

/** Runs vCPU `vcpu`'s VMPL0 alone (pumping the NIC) until `done`, letting TLS callbacks fire in between. */
async function driveVcpu(host: FakeHost, vcpu: number, done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) {
    host.pumpRx();
    host.run(vcpu, 1n);
    host.pumpTx();
    await new Promise((r) => setImmediate(r));
  }
}

test("a session closed in any state is released while the agent runs; another session is served throughout", async () => {
  const m = launchedMachine({ config: { ownerKey: owner.spki } });
  const agent = createAgent({ entropy: (n) => new Uint8Array(n).fill(9), heartbeatIntervalNs: 0n });
  const host = new FakeHost(m, agent.program);
  host.run(0, SEVEN_RUN_REASON.BOOT);
  const core = agent.introspect.core!;
  m.poke(0x40000n, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
  const keeper = TlsTestClient.open(host, owner, [ALPN_V1]);
  const serves = async (what: string): Promise<void> => {
    const r = await keeper.call(host, { case: "readPhys", value: { ranges: [{ addr: 0x40000n, len: 8 }] } });
    assert.equal(r.status, S.OK, what);
    assert.deepEqual([...(r.body.value as v1.ReadResponse).chunks[0]!.data], [1, 2, 3, 4, 5, 6, 7, 8], what);
  };
  await serves("before");
  const states: State[] = ["paused", "held-event", "queued-request", "reply-in-flight", "attestation"];
  const modes: Mode[] = ["tls-close", "tcp-close", "tls-garbage"];
  for (const state of states) {
    for (const mode of modes) {
      const what = `${state} / ${mode}`;
      const b = TlsTestClient.open(host, owner, [ALPN_V1]);
      assert.equal((await b.call(host, { case: "machineInfo", value: {} })).status, S.OK, what);
      assert.equal(core.sessionCount, 2, what);
      switch (state) {
        case "paused":
          assert.equal((await b.call(host, { case: "pause", value: {} })).status, S.OK);
          assert.ok(!m.runnable(0) && !m.runnable(1), what);
          closeBy(b, mode);
          break;
        case "held-event": {
          assert.equal((await b.call(host, { case: "armTrap", value: { gpa: TRAP_PAGE, access: v1.Access.READ } })).status, S.OK);
          assert.equal(m.guestAccess(1, TRAP_PAGE + 8n, "read"), "npf");
          host.run(1, SEVEN_RUN_REASON.NPF_FORWARD);
          await drive(host, () => b.replies.some((r) => r.body.case === "event"));
          assert.equal(b.takeEvents().length, 1, what);
          assert.ok(!m.runnable(1), `${what}: held`);
          closeBy(b, mode);
          break;
        }
        case "queued-request":
          b.send({ case: "readPhys", value: { ranges: [{ addr: 0x100000n, len: 1 << 20 }] } });
          b.send({ case: "pause", value: {} });
          closeBy(b, mode);
          break;
        case "reply-in-flight":
          b.send({ case: "readPhys", value: { ranges: [{ addr: 0x100000n, len: 1 << 20 }] } });
          await new Promise((r) => setImmediate(r));
          host.pumpRx();
          host.run(0, 1n);
          closeBy(b, mode);
          break;
        case "attestation": {
          host.deferGuestRequests = true;
          b.send({ case: "attest", value: { nonce: new Uint8Array(32).fill(7) } });
          let issued = false;
          for (let i = 0; i < 100 && !issued; i++) {
            await new Promise((r) => setImmediate(r));
            host.pumpRx();
            issued = host.run(0, 1n).kind === "greq";
            host.pumpTx();
          }
          assert.ok(issued, `${what}: the guest request is at the secure processor`);
          closeBy(b, mode);
          // vCPU 0's VMPL0 waits for the secure processor; vCPU 1's notices the close and ends the session.
          await driveVcpu(host, 1, () => core.sessionCount === 1);
          host.deferGuestRequests = false;
          break;
        }
      }
      await drive(host, () => core.sessionCount === 1 && agent.introspect.connections === 1);
      assert.equal(core.sessionCount, 1, `${what}: the session ended`);
      assert.equal(agent.introspect.connections, 1, `${what}: the connection is gone`);
      if (state === "held-event") {
        // The event was continued: vCPU 1 single-steps its read with the page open, then everything is released.
        assert.equal(m.guestStep(1), "db", what);
        host.run(1, SEVEN_RUN_REASON.DB_FORWARD);
      }
      assert.ok(m.runnable(0) && m.runnable(1), `${what}: no vCPU left stopped`);
      assert.equal(core.paused, false, what);
      assert.deepEqual(core.heldVcpus(), [], what);
      assert.equal(core.stepping, undefined, what);
      assert.equal(core.traps.size, 0, what);
      assert.equal(m.perms1(TRAP_PAGE), RMP_PERM_RWX, `${what}: the trap's page is open again`);
      await serves(what);
    }
  }
  const notes = agent.introspect.notes;
  assert.equal(notes["session-internal-error"] ?? 0, 0, JSON.stringify(notes));
  assert.equal(notes["session-end-failed"] ?? 0, 0, JSON.stringify(notes));
  assert.equal(agent.introspect.attestation.completed, 3, "the secure processor's answers still came back");
  assert.equal(core.counters.stepsAborted, 0n);
});

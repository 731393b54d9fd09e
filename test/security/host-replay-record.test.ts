/**
 * Threat: the untrusted host re-injects a relayed record right after the original
 * (`replay=record`, client → agent), hoping the agent executes a request twice (a write
 * applied again, an event answered twice).
 * Expected: TLS 1.3 record sequence numbers make the copy fail authentication: the agent
 * ends the session (`tls-error`) without executing it, the owner's next call fails with
 * DRIVER_CLOSED (SESSION_CLOSED); the replayed write is not applied twice; the agent keeps
 * serving a fresh owner session.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { failureReason, startSecWorld, waitFor, type SecWorld } from "./helpers/world.js";

let sw: SecWorld;
before(async () => {
  // Records of connection 1: the handshake, attestation, MachineInfo, then the owner's requests.
  sw = await startSecWorld("replay-record", { adversary: { replay: { mode: "record", target: { dir: "rx", nth: 8, conn: 1 } } } });
});
after(() => sw?.stop());

test("a replayed request is never executed twice; the session ends with DRIVER_CLOSED/SESSION_CLOSED", async () => {
  const d = await sw.connect();
  const core = sw.world.agent!.introspect.core!;
  // Scratch page in guest RAM that the owner counts writes on: each write stores the next value.
  const scratch = 0x300000n;
  let error: unknown;
  let written = 0;
  const requestsBefore = core.counters.requests;
  let sent = 0;
  for (let i = 1; i <= 10; i++) {
    try {
      sent++;
      const [e] = await d.writePhys([{ gpa: scratch, data: Uint8Array.of(i) }]);
      assert.equal(e, undefined);
      written = i;
    } catch (e) {
      error = e;
      break;
    }
  }
  assert.equal(sw.world.host.counters()["adversary.replay"], 1, "the host replayed one record");
  assert.equal(failureReason(error), "DRIVER_CLOSED/SESSION_CLOSED", String(error));
  await waitFor(() => (sw.world.agent!.introspect.notes["tls-error"] ?? 0) >= 1, 10_000, "the agent's TLS error");
  // The agent executed at most the requests the owner sent — the copy never ran.
  assert.ok(core.counters.requests - requestsBefore <= BigInt(sent), `${core.counters.requests - requestsBefore} requests executed for ${sent} sent`);
  // The write in flight when the session ended may or may not have run (once); nothing older came back.
  assert.ok([written, written + 1].includes(sw.plaintext(scratch, 1)[0]!), "memory holds the last write sent, no replayed older one");
  await d.close();
});

test("the agent keeps serving its owner after the attack", async () => {
  await sw.expectServes();
});

/**
 * Threat: the untrusted host flips one bit of a relayed record (`tamper=bit`, client →
 * agent), hoping the agent acts on a modified request.
 * Expected: TLS 1.3 authenticates every record — the agent's TLS layer rejects the record
 * (bad record MAC), ends that session without answering (counted as `tls-error`) and the
 * owner's call fails with VmiError DRIVER_CLOSED (reason SESSION_CLOSED). Every answer the
 * owner got before is the plaintext the hardware holds; the agent keeps serving a fresh
 * owner session.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { failureReason, startSecWorld, type SecWorld } from "./helpers/world.js";
import { probeReads } from "./helpers/session-probe.js";

let sw: SecWorld;
before(async () => {
  sw = await startSecWorld("tamper-bit", { adversary: { tamper: { mode: "bit", dir: "rx", nth: 8, conn: 1 } } });
});
after(() => sw?.stop());

test("a flipped bit ends the session with DRIVER_CLOSED/SESSION_CLOSED; no wrong data before it; the agent notes a TLS error", async () => {
  const d = await sw.connect();
  const r = await probeReads(sw, d, 12);
  assert.equal(sw.world.host.counters()["adversary.tamper"], 1, "the host flipped exactly one bit");
  assert.equal(failureReason(r.error), "DRIVER_CLOSED/SESSION_CLOSED", String(r.error));
  assert.match((r.error as Error).message, /bad record mac/i);
  assert.ok(r.answered < 12);
  assert.equal(sw.world.agent!.introspect.notes["tls-error"], 1, "the agent saw the bad record");
  await assert.rejects(d.heartbeat(), (e: unknown) => failureReason(e) === "DRIVER_CLOSED/SESSION_CLOSED", "the session stays ended");
  await d.close();
});

test("the agent keeps serving its owner after the attack", async () => {
  await sw.expectServes();
  assert.equal(sw.world.agent!.introspect.phase, "running");
});

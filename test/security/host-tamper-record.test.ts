/**
 * Threat: the untrusted host replaces a whole relayed record with random bytes
 * (`tamper=record`, agent → client), hoping the owner accepts forged answers.
 * Expected: the owner's TLS layer rejects the record and the session ends with the
 * owner's call failing as SESSION_CLOSED (VmiError DRIVER_CLOSED inside a session); no
 * answer the owner accepted differs from the plaintext the hardware holds; the agent keeps
 * serving a fresh owner session.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { AgentV1Driver } from "../../src/client/index.js";
import { failureReason, startSecWorld, type SecWorld } from "./helpers/world.js";
import { probeReads } from "./helpers/session-probe.js";

let sw: SecWorld;
before(async () => {
  sw = await startSecWorld("tamper-record", { adversary: { tamper: { mode: "record", dir: "tx", nth: 10, conn: 1 } } });
});
after(() => sw?.stop());

test("a replaced agent → owner record ends the session (SESSION_CLOSED); every accepted answer is the plaintext", async () => {
  let d: AgentV1Driver | undefined;
  let error: unknown;
  try {
    d = await sw.connect();
    error = (await probeReads(sw, d, 40)).error;
  } catch (e) {
    // Should the record be one of the session's first, the session ends while it opens.
    error = e;
  }
  assert.equal(sw.world.host.counters()["adversary.tamper"], 1, "the host replaced exactly one record");
  assert.ok(["DRIVER_CLOSED/SESSION_CLOSED", "SESSION_CLOSED"].includes(failureReason(error) ?? ""), String(error));
  assert.match((error as Error).message, /wrong version number|bad record mac|decryption failed|record/i);
  await d?.close();
});

test("the agent keeps serving its owner after the attack", async () => {
  await sw.expectServes();
});

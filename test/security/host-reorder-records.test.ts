/**
 * Threat: the untrusted host swaps two relayed records (`reorder`, owner → agent), hoping
 * the agent executes requests in an order the owner did not send (e.g. a read before the
 * write it should observe), or holds a request back.
 * Expected: TLS 1.3's implicit record sequence numbers make the first out-of-order record
 * fail authentication: the agent ends the session (`tls-error`) and both calls fail with
 * DRIVER_CLOSED (reason SESSION_CLOSED); nothing wrong is answered. A request held back
 * with nothing after it must make the call fail with AGENT_TIMEOUT. The agent keeps
 * serving its owner.
 *
 * The switch object is the host's own (createWorld passes it through), so each test aims
 * it at its own connection (accept order) before opening that connection.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { StreamTarget } from "../../src/host/index.js";
import { failureReason, startSecWorld, type SecWorld } from "./helpers/world.js";
import { probePairs, probeReads, within } from "./helpers/session-probe.js";

const adversary: { reorder?: StreamTarget } = { reorder: { dir: "rx", nth: 8, conn: 1 } };
let sw: SecWorld;
before(async () => {
  sw = await startSecWorld("reorder-records", { adversary });
});
after(() => sw?.stop());

test("swapped owner records: the agent rejects the first out-of-order record; both calls fail DRIVER_CLOSED/SESSION_CLOSED", async () => {
  const d = await sw.connect();
  const r = await probePairs(sw, d, "adversary.reorder");
  assert.equal(sw.world.host.counters()["adversary.reorder"], 1);
  assert.deepEqual(r.errors.map(failureReason), ["DRIVER_CLOSED/SESSION_CLOSED", "DRIVER_CLOSED/SESSION_CLOSED"], r.errors.map(String).join("; "));
  assert.equal(sw.world.agent!.introspect.notes["tls-error"], 1, "the agent rejected the swapped record");
  await d.close();
});

test(
  "a request held back for a swap that never comes (nothing follows it) fails the call with AGENT_TIMEOUT",
  async () => {
    adversary.reorder = { dir: "rx", nth: 8, conn: 2 };
    const d = await sw.connect({ timeoutMs: 2500 }); // 2.5× the agent's heartbeat push period
    try {
      const r = await within(probeReads(sw, d, 20), 7_500);
      assert.ok(r !== undefined, "the held call is still pending 3× after the owner's 2.5 s timeout");
      assert.equal(failureReason(r.value?.error), "DRIVER_FAILED/AGENT_TIMEOUT", String(r.value?.error));
    } finally {
      await d.close();
    }
  },
);

test("the agent keeps serving its owner after the attack", async () => {
  await sw.expectServes();
});

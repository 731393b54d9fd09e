/**
 * Threat: the untrusted host drops a relayed record (`drop`), in either direction, so a
 * request or its answer silently disappears.
 * Expected: TLS 1.3's implicit record sequence numbers make the next record fail
 * authentication, so a drop is detected as soon as anything follows it: the session ends
 * and the owner's calls fail with DRIVER_CLOSED (reason SESSION_CLOSED); nothing wrong is
 * ever answered. A dropped request that nothing follows must make the call fail with
 * AGENT_TIMEOUT (SECURITY.md: denial of service is detected by timeouts). The agent keeps
 * serving its owner.
 *
 * The switch object is the host's own (createWorld passes it through), so each test aims
 * it at its own connection (accept order) before opening that connection.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { AgentV1Driver } from "../../src/client/index.js";
import type { StreamTarget } from "../../src/host/index.js";
import { failureReason, startSecWorld, type SecWorld } from "./helpers/world.js";
import { probePairs, probeReads, within } from "./helpers/session-probe.js";

const adversary: { drop?: StreamTarget } = { drop: { dir: "rx", nth: 8, conn: 1 } };
let sw: SecWorld;
before(async () => {
  sw = await startSecWorld("drop-record", { adversary });
});
after(() => sw?.stop());

test("owner → agent: a dropped request is detected at the next record; both calls fail DRIVER_CLOSED/SESSION_CLOSED", async () => {
  const d = await sw.connect();
  const tlsErrors = sw.world.agent!.introspect.notes["tls-error"] ?? 0;
  const r = await probePairs(sw, d, "adversary.drop");
  assert.deepEqual(r.errors.map(failureReason), ["DRIVER_CLOSED/SESSION_CLOSED", "DRIVER_CLOSED/SESSION_CLOSED"], r.errors.map(String).join("; "));
  assert.equal(sw.world.agent!.introspect.notes["tls-error"], tlsErrors + 1, "the agent rejected the record after the gap");
  await d.close();
});

test("agent → owner: a dropped answer ends the session at the agent's next record (DRIVER_CLOSED/SESSION_CLOSED)", async () => {
  adversary.drop = { dir: "tx", nth: 10, conn: 2 };
  let d: AgentV1Driver | undefined;
  let error: unknown;
  try {
    d = await sw.connect();
    error = (await within(probeReads(sw, d, 60), 30_000))?.value?.error;
  } catch (e) {
    error = e;
  }
  assert.equal(sw.world.host.counters()["adversary.drop"], 2);
  assert.ok(["DRIVER_CLOSED/SESSION_CLOSED", "SESSION_CLOSED"].includes(failureReason(error) ?? ""), String(error));
  await d?.close();
});

test(
  "owner → agent: a dropped LAST request (nothing follows it) fails the call with AGENT_TIMEOUT",
  async () => {
    adversary.drop = { dir: "rx", nth: 8, conn: 3 };
    const d = await sw.connect({ timeoutMs: 2500 }); // 2.5× the agent's heartbeat push period
    try {
      const r = await within(probeReads(sw, d, 20), 7_500);
      assert.ok(r !== undefined, "the withheld call is still pending 3× after the owner's 2.5 s timeout");
      assert.equal(failureReason(r.value?.error), "DRIVER_FAILED/AGENT_TIMEOUT", String(r.value?.error));
    } finally {
      await d.close();
    }
  },
);

test("the agent keeps serving its owner after the attack", async () => {
  await sw.expectServes();
});

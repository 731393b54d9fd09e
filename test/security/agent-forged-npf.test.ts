/**
 * Threat: the host forwards #NPFs that never happened (forge-npf), hoping the agent acts on
 * them — holds a vCPU, reports an access that did not occur. The agent believes only the
 * VMPL1 VMSA's hardware-written exit fields: forged forwards are counted as
 * unmatched_faults and change nothing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { startWorld, V1TestClient, v1, waitFor } from "../integration/agent/world.js";

test("forge-npf: counted as unmatched faults; no event, no vCPU held", async () => {
  const w = await startWorld({ adversary: { forgeNpf: { every: 3, vcpu: 1 } } });
  try {
    const c = await V1TestClient.connect(w.port, w.owner);
    assert.equal((await c.call({ case: "armTrap", value: { gpa: 0x400000n, access: v1.Access.WRITE } })).status, v1.Status.OK);
    await waitFor(() => (w.host.counters()["adversary.forge-npf"] ?? 0) >= 10, 10_000, "forged forwards");
    const hb = (await c.call({ case: "heartbeat", value: {} })).body.value as v1.Heartbeat;
    assert.ok(hb.unmatchedFaults >= 5n, `unmatched ${hb.unmatchedFaults}`);
    assert.equal(hb.events, 0n);
    assert.deepEqual(hb.stoppedVcpus, []);
    assert.equal(c.events.length, 0);
    c.end();
  } finally {
    await w.close();
  }
});

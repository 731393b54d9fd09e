/**
 * Threat: the (possibly compromised) guest kernel at VMPL1 reads the agent's pages (its
 * secrets page with VMPCK0) or writes its configuration. The agent revoked every VMPL1
 * right at boot: the access faults (#NPF with the VMPL bit) and never retires; the agent
 * counts it as an unmatched fault.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { startWorld, V1TestClient, v1, waitFor } from "../integration/agent/world.js";

test("VMPL1 reads of the secrets page and writes to the configuration fault and are counted", async () => {
  const w = await startWorld();
  try {
    const c = await V1TestClient.connect(w.port, w.owner);
    w.guest.push(1, { kind: "read", gpa: w.layout.secrets + 0x20n });
    await waitFor(() => (w.host.counters()["npf.forwarded"] ?? 0) >= 3, 10_000, "forwarded faults");
    assert.equal(w.guest.done.length, 0, "the read never retired");
    const hb = (await c.call({ case: "heartbeat", value: {} })).body.value as v1.Heartbeat;
    assert.ok(hb.unmatchedFaults >= 1n);
    assert.equal(hb.events, 0n);
    // The guest's own copy of the secrets page has no VMPCK0.
    const copy = await c.call({ case: "readPhys", value: { ranges: [{ addr: w.layout.guestSecrets + 0x20n, len: 32 }, { addr: w.layout.secrets, len: 64 }] } });
    const ch = (copy.body.value as v1.ReadResponse).chunks;
    assert.deepEqual([...ch[0]!.data], new Array(32).fill(0));
    assert.equal(ch[1]!.status, v1.Status.OUT_OF_RANGE, "not even the owner reads the agent's own pages");
    c.end();
  } finally {
    await w.close();
  }
});

/**
 * Threat: the host swaps the secure processor's response to the agent's guest request —
 * replaying an older response of this VM, or another VM's — to hand the owner a report
 * that is not this session's. The agent must answer STATUS_UNAVAILABLE (a request error),
 * never a wrong report, and withdraw VMPCK0 (no IV reuse after a failed exchange).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { startWorld, V1TestClient, v1 } from "../integration/agent/world.js";

for (const mode of ["replay", "foreign"] as const) {
  test(`swap-report=${mode}: the attestation fails with STATUS_UNAVAILABLE, no report is returned`, async () => {
    const w = await startWorld({ adversary: { swapReport: { mode } } });
    try {
      const c = await V1TestClient.connect(w.port, w.owner);
      const first = await c.call({ case: "attest", value: { nonce: new Uint8Array(32).fill(1) } });
      // replay swaps from the second exchange on (the first response is what it records).
      const swapped = mode === "replay" ? await c.call({ case: "attest", value: { nonce: new Uint8Array(32).fill(2) } }) : first;
      if (mode === "replay") assert.equal(first.status, v1.Status.OK);
      assert.equal(swapped.status, v1.Status.UNAVAILABLE);
      assert.equal(swapped.body.case, undefined, "no report in the reply");
      assert.equal(w.agent.introspect.attestation.disabled, true, "VMPCK0 withdrawn");
      const again = await c.call({ case: "attest", value: { nonce: new Uint8Array(32).fill(3) } });
      assert.equal(again.status, v1.Status.UNAVAILABLE);
      // The session itself goes on.
      assert.equal((await c.call({ case: "machineInfo", value: {} })).status, v1.Status.OK);
      assert.ok((w.host.counters()["adversary.swap-report"] ?? 0) >= 1);
      c.end();
    } finally {
      await w.close();
    }
  });
}

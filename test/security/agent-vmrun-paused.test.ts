/**
 * Threat: the host keeps VMRUNning VMPL1 contexts the owner paused (vmrun-paused), to let
 * the guest run while the owner inspects it. Pause clears the RMP VMSA bit, so the
 * hardware refuses every such VMRUN: no guest instruction retires while paused.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { startWorld, V1TestClient, v1, waitFor } from "../integration/agent/world.js";

test("vmrun-paused: every VMRUN of a paused context is refused; no VMPL1 instruction retires", async () => {
  const w = await startWorld({ adversary: { vmrunPaused: { every: 1 } } });
  try {
    const c = await V1TestClient.connect(w.port, w.owner);
    assert.deepEqual(((await c.call({ case: "pause", value: {} })).body.value as v1.PauseResponse).stopped, [0, 1]);
    const retired = [...w.guest.retired.values()].reduce((a, b) => a + b, 0);
    w.guest.push(0, { kind: "write", gpa: 0x300000n }, { kind: "write", gpa: 0x300008n });
    await waitFor(() => (w.host.counters()["adversary.vmrun-paused.refused"] ?? 0) >= 50, 10_000, "refused VMRUNs");
    assert.equal([...w.guest.retired.values()].reduce((a, b) => a + b, 0), retired);
    assert.equal(w.host.counters()["adversary.vmrun-paused.entered"] ?? 0, 0);
    assert.equal(w.guest.done.length, 0);
    await c.call({ case: "resume", value: {} });
    await waitFor(() => w.guest.done.length === 2, 10_000, "the guest after resume");
    c.end();
  } finally {
    await w.close();
  }
});

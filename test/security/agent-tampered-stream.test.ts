/**
 * Threat: the host flips a bit in a relayed TLS record (client → agent). TLS rejects the
 * record; the agent ends that session (no request is misread) and keeps serving others.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { startWorld, V1TestClient, v1, waitFor } from "../integration/agent/world.js";

test("tamper=bit,dir=rx: the session ends without a reply; a new session works", async () => {
  const w = await startWorld({ adversary: { tamper: { mode: "bit", dir: "rx", nth: 4, conn: 1 } } });
  try {
    const c = await V1TestClient.connect(w.port, w.owner);
    const replies: v1.Response[] = [];
    for (let i = 0; i < 4; i++) {
      try {
        replies.push(await c.call({ case: "machineInfo", value: {} }, 5000));
      } catch {
        break;
      }
    }
    await c.closed;
    assert.ok(replies.length < 4, "the tampered record's request was not answered");
    await waitFor(() => (w.agent.introspect.notes["tls-error"] ?? 0) >= 1, 5000, "the TLS error");
    const c2 = await V1TestClient.connect(w.port, w.owner);
    assert.equal((await c2.call({ case: "machineInfo", value: {} })).status, v1.Status.OK);
    c2.end();
  } finally {
    await w.close();
  }
});

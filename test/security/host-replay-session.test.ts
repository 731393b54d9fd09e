/**
 * Threat: the untrusted host records every byte the owner sent in a session and, after it
 * ended, replays them to the agent as a new connection (`replay=session`), hoping the agent
 * accepts the owner's authentication again and re-executes the owner's requests (here:
 * a write that the owner has since overwritten).
 * Expected: the agent's fresh TLS handshake (new server randomness, new keys) makes the
 * replayed client flight fail: no session opens (no `v1-open`), the agent notes a TLS
 * error, not one replayed request runs, memory keeps the owner's latest value; the agent
 * keeps serving its owner.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startSecWorld, waitFor, type SecWorld } from "./helpers/world.js";

let sw: SecWorld;
before(async () => {
  sw = await startSecWorld("replay-session", { adversary: { replay: { mode: "session", conn: 1 } } });
});
after(() => sw?.stop());

test("a replayed recorded session opens no session and re-executes nothing", async () => {
  const scratch = 0x300000n;
  const first = await sw.connect(); // connection 1: recorded by the host
  assert.equal((await first.writePhys([{ gpa: scratch, data: new TextEncoder().encode("OLD-VALUE") }]))[0], undefined);
  await first.readPhys([{ gpa: sw.textPa, len: 4096 }]);
  const second = await sw.connect({ heartbeatMs: 0 }); // connection 2: the owner's later session (no idle heartbeats: the request count below stays exact)
  assert.equal((await second.writePhys([{ gpa: scratch, data: new TextEncoder().encode("NEW-VALUE") }]))[0], undefined);
  const notes = () => sw.world.agent!.introspect.notes;
  const opened = notes()["v1-open"];
  const core = sw.world.agent!.introspect.core!;
  const requests = core.counters.requests;
  await first.close(); // the host now replays connection 1 as connection 3
  await waitFor(() => sw.world.host.counters()["adversary.replay-session"] === 1, 10_000, "the replay");
  await waitFor(() => (notes()["tls-error"] ?? 0) >= 1, 10_000, "the agent rejecting the replayed handshake");
  assert.equal(notes()["v1-open"], opened, "no session opened for the replay");
  assert.equal(core.counters.requests, requests, "no replayed request executed");
  assert.equal(new TextDecoder().decode(sw.plaintext(scratch, 9)), "NEW-VALUE");
  const [back] = await second.readPhys([{ gpa: scratch, len: 9 }]);
  assert.equal(new TextDecoder().decode(back as Uint8Array), "NEW-VALUE", "the owner's live session is unaffected");
  await second.close();
});

test("the agent keeps serving its owner after the attack", async () => {
  await sw.expectServes();
});

/**
 * Threat: the untrusted host stops scheduling VMPL0 (`starve-vmpl0`): the agent never runs,
 * so the owner's requests are never served. The host schedules everything, so this cannot
 * be prevented — it must be detected.
 * Expected: the owner's call fails with VmiError DRIVER_FAILED, reason AGENT_TIMEOUT ("the
 * host may be delaying the agent"), never with data; once the host schedules VMPL0 again
 * the agent serves a fresh owner session and its heartbeat has counted the starvation
 * (vmpl0_starved_ns grew by at least the time the owner waited, less one heartbeat period
 * of the agent, during which it had not asked to run).
 *
 * The switch object is the host's own (createWorld passes it through): the test turns the
 * attack on after the owner's session is open and off again.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { failureReason, startSecWorld, waitFor, type SecWorld } from "./helpers/world.js";

const TIMEOUT_MS = 2500;
/** The agent's pushed-heartbeat period in the world (createAgent's default, 1 s). */
const AGENT_HEARTBEAT_NS = 1_000_000_000n;

const adversary: { starveVmpl0?: { afterMs: number } } = {};
let sw: SecWorld;
before(async () => {
  sw = await startSecWorld("starve-vmpl0", { adversary });
});
after(() => sw?.stop());

test("a starved agent: the owner's call fails with AGENT_TIMEOUT; after the attack the heartbeat counts the starvation", async () => {
  const d = await sw.connect({ timeoutMs: TIMEOUT_MS });
  const before = (await d.heartbeat()).vmpl0StarvedNs;
  adversary.starveVmpl0 = { afterMs: 0 };
  const t0 = performance.now();
  await waitFor(() => (sw.world.host.counters()["adversary.starve-vmpl0"] ?? 0) > 0, 10_000, "the host to starve VMPL0");
  let error: unknown;
  try {
    await d.readPhys([{ gpa: sw.textPa, len: 4096 }]);
  } catch (e) {
    error = e;
  }
  const waitedNs = BigInt(Math.floor((performance.now() - t0) * 1e6));
  assert.equal(failureReason(error), "DRIVER_FAILED/AGENT_TIMEOUT", String(error));
  assert.match((error as Error).message, /did not answer within 2\.5 s; the host may be delaying the agent/);
  await d.close();
  delete adversary.starveVmpl0;

  const d2 = await sw.connect();
  try {
    const hb = await d2.heartbeat();
    assert.ok(hb.vmpl0StarvedNs - before >= waitedNs - AGENT_HEARTBEAT_NS, `starvation counted ${hb.vmpl0StarvedNs - before} ns, the owner waited ${waitedNs} ns`);
  } finally {
    await d2.close();
  }
});

test("the agent keeps serving its owner after the attack", async () => {
  await sw.expectServes();
});

/**
 * Threat: the untrusted host forwards #NPFs that never happened (`forge-npf`: it runs VMPL0
 * with NPF_FORWARD when nothing faulted), hoping the agent acts on them — reports an access
 * that did not occur, holds a vCPU, or skips an instruction.
 * Expected: the agent believes only the VMPL1 VMSA's hardware-written exit fields: every
 * forged forward is counted in `unmatched_faults` and ignored — no event reaches the owner
 * (whose armed trap sees nothing), no vCPU is held, the guest keeps running; the agent
 * keeps serving its owner.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { TrapEvent } from "../../src/client/index.js";
import { startSecWorld, waitFor, type SecWorld } from "./helpers/world.js";

let sw: SecWorld;
before(async () => {
  sw = await startSecWorld("forged-npf", { adversary: { forgeNpf: { every: 3, vcpu: 1 } } });
});
after(() => sw?.stop());

test("forged #NPF forwards are counted as unmatched faults; no event, no held vCPU, the guest runs on", async () => {
  const d = await sw.connect();
  const events: TrapEvent[] = [];
  d.onAgentEvent((e) => void (e.kind !== "mapping-changed" && events.push(e)));
  // A trap the guest never triggers: writes to kernel text (mapped read-only, never written).
  const trap = await d.armTrap({ gpa: sw.textPa, access: "w" }, (e) => {
    events.push(e);
    return "continue";
  });
  const before = await d.heartbeat();
  const retired = sw.world.machine.stats().retired.map((r) => r[1]!);
  const forged0 = sw.world.host.counters()["adversary.forge-npf"] ?? 0;
  await waitFor(() => (sw.world.host.counters()["adversary.forge-npf"] ?? 0) >= forged0 + 30, 20_000, "forged forwards");
  const hb = await d.heartbeat();
  const forged = (sw.world.host.counters()["adversary.forge-npf"] ?? 0) - forged0;
  const unmatched = hb.unmatchedFaults - before.unmatchedFaults;
  assert.ok(unmatched >= 1n && unmatched <= BigInt(forged), `unmatched ${unmatched} for ${forged} forged forwards (coalesced ones reach the agent once)`);
  assert.equal(hb.events, before.events, "no event was made up");
  assert.equal(hb.eventsDropped, 0n);
  assert.deepEqual(hb.stoppedVcpus, [], "no vCPU held");
  assert.deepEqual(events, [], "nothing reached the owner");
  const after = sw.world.machine.stats().retired.map((r) => r[1]!);
  assert.ok(after.every((n, v) => n > retired[v]!), "both VMPL1 vCPUs kept retiring instructions");
  await trap.dispose();
  await d.close();
});

test("the agent keeps serving its owner after the attack", async () => {
  await sw.expectServes();
});

/**
 * Threat: the untrusted host launches the agent with a configuration the owner did not
 * measure — here the prototype's v0 protocol switched on (which would serve unauthenticated
 * clients) — hoping the owner does not notice. The agent is genuine and attests honestly.
 * Expected: the configuration page is measured, so the report's MEASUREMENT is not the one
 * the owner computed (`seven measure`): the client refuses with SessionError
 * ATTESTATION_REJECTED, codes exactly [MEASUREMENT_MISMATCH], sending nothing but the
 * AttestRequest. With the measurement of what was really launched, the same agent is
 * accepted (the refusal is the measurement's alone).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { expectedMeasurement } from "../../src/host/index.js";
import { launchInputsFor } from "../../src/app/world/launch-inputs.js";
import { rejectsWith, startSecWorld, type SecWorld } from "./helpers/world.js";

let sw: SecWorld;
before(async () => {
  sw = await startSecWorld("report-measurement", { legacyV0: true });
});
after(() => sw?.stop());

test("an agent launched with an unmeasured configuration (v0 on) is refused: ATTESTATION_REJECTED [MEASUREMENT_MISMATCH]", async () => {
  const l = sw.world.layout;
  const wanted = expectedMeasurement(launchInputsFor({ memoryBytes: l.memoryBytes, vcpus: l.vcpus, ownerKey: sw.owner.publicKeyDer, legacyV0: false }));
  assert.notDeepEqual(wanted, sw.world.measurement);
  const requests = sw.world.agent!.introspect.core!.counters.requests;
  const e = await rejectsWith(sw.connect({ measurement: wanted }), "ATTESTATION_REJECTED", ["MEASUREMENT_MISMATCH"]);
  assert.match(e.message, /policy\.measurement: MEASUREMENT_MISMATCH/);
  assert.equal(sw.world.agent!.introspect.core!.counters.requests - requests, 1n, "nothing but the AttestRequest was sent");
});

test("the same agent, expected as launched, is accepted", async () => {
  await sw.expectServes();
});

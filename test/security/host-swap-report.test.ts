/**
 * Threat: the untrusted host swaps the secure processor's response to the agent's guest
 * request (`swap-report`) — replaying an older response of this VM (another session's
 * report) or handing over one from another VM it launched itself — so that the owner gets
 * a report that is not this session's.
 * Expected: the response does not authenticate under VMPCK0 with the expected sequence
 * number, so the agent answers STATUS_UNAVAILABLE (never a report) and withdraws VMPCK0
 * (no AES-GCM IV reuse after a failed exchange); the owner's client refuses the session
 * with SessionError ATTESTATION_REJECTED, codes [AGENT_REFUSED]. Sessions attested before
 * the swap keep serving the plaintext. Attestation stays unavailable in this VM from then
 * on (by design: a detected denial of service, recovered by relaunching).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { rejectsWith, startSecWorld } from "./helpers/world.js";
import { probeReads } from "./helpers/session-probe.js";

test("swap-report=replay: a later session is refused (ATTESTATION_REJECTED/AGENT_REFUSED); the attested session keeps serving", async () => {
  const sw = await startSecWorld("swap-report-replay", { adversary: { swapReport: { mode: "replay" } } });
  try {
    const first = await sw.connect(); // the host records this exchange's response
    const e = await rejectsWith(sw.connect(), "ATTESTATION_REJECTED", ["AGENT_REFUSED"]);
    assert.match(e.message, /refused to attest: STATUS_UNAVAILABLE/);
    assert.equal(sw.world.host.counters()["adversary.swap-report"], 1);
    const a = sw.world.agent!.introspect.attestation;
    assert.equal(a.disabled, true, "VMPCK0 withdrawn");
    assert.equal(a.failed, 1);
    const r = await probeReads(sw, first, 8);
    assert.equal(r.error, undefined, "the session attested before the swap still serves the plaintext");
    await rejectsWith(sw.connect(), "ATTESTATION_REJECTED", ["AGENT_REFUSED"]);
    await first.close();
  } finally {
    await sw.stop();
  }
});

test("swap-report=foreign: another VM's report is never passed on (ATTESTATION_REJECTED/AGENT_REFUSED)", async () => {
  const sw = await startSecWorld("swap-report-foreign", { adversary: { swapReport: { mode: "foreign" } } });
  try {
    const e = await rejectsWith(sw.connect(), "ATTESTATION_REJECTED", ["AGENT_REFUSED"]);
    assert.match(e.message, /STATUS_UNAVAILABLE/);
    assert.equal(sw.world.host.counters()["adversary.swap-report"], 1);
    assert.equal(sw.world.agent!.introspect.attestation.disabled, true);
    assert.equal(sw.world.agent!.introspect.attestation.completed, 0, "no report was handed out");
    assert.equal(sw.world.agent!.introspect.phase, "running", "the agent itself runs on");
  } finally {
    await sw.stop();
  }
});

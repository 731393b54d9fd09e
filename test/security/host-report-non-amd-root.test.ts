/**
 * Threat: evidence that chains to a root that is not AMD's (nor one the owner chose):
 * (a) the simulator's own ARK, when the owner did not opt into it; (b) the host
 * impersonating the agent with a report that is perfect in every field — VMPL 0, the
 * owner's measurement, the REPORT_DATA of the owner's session — signed by a VCEK it made
 * itself under its own ARK.
 * Expected: the chain must end in a trusted root: the client refuses with SessionError
 * ATTESTATION_REJECTED, codes exactly [ARK_NOT_TRUSTED], in both cases. The real agent
 * keeps serving an owner who trusts its root.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { AgentV1Driver } from "../../src/client/index.js";
import { buildAttestation } from "../../src/client/attest/testing/index.js";
import { rejectsWith, startSecWorld, type SecWorld } from "./helpers/world.js";
import { startImpostor, type Impostor } from "./helpers/impostor.js";

let sw: SecWorld;
let impostor: Impostor;
before(async () => {
  sw = await startSecWorld("report-non-amd-root");
  impostor = await startImpostor((_nonce, reportData) => {
    const ev = buildAttestation({ report: { measurement: sw.world.measurement!, reportData } });
    return { report: ev.report, vcek: ev.leaf, chain: [ev.intermediate, ev.ark] };
  });
});
after(async () => {
  await impostor?.close();
  await sw?.stop();
});

test("the simulator's ARK, not opted into: ATTESTATION_REJECTED [ARK_NOT_TRUSTED]", async () => {
  const e = await rejectsWith(sw.connect({ trustRoots: [] }), "ATTESTATION_REJECTED", ["ARK_NOT_TRUSTED"]);
  assert.match(e.message, /ARK_NOT_TRUSTED/);
});

test("a perfect report under the host's own root: ATTESTATION_REJECTED [ARK_NOT_TRUSTED]", async () => {
  await rejectsWith(
    AgentV1Driver.connectAgent({ endpoint: impostor.endpoint, owner: sw.owner, measurement: sw.world.measurement!, trustRoots: [sw.world.arkPem()!] }),
    "ATTESTATION_REJECTED",
    ["ARK_NOT_TRUSTED"],
  );
  assert.deepEqual(impostor.otherRequests, []);
});

test("the agent keeps serving its owner", async () => {
  await sw.expectServes();
});

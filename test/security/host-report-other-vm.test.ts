/**
 * Threat: the untrusted host impersonates the agent (it terminates the owner's TLS itself)
 * and presents a genuine report of ANOTHER VM: one it launched on the same chip, whose
 * VMPL0 code it wrote, so the report is signed by the very VCEK the owner trusts, is at
 * VMPL 0 and even carries the REPORT_DATA binding of the owner's session with the impostor.
 * Expected: the measurement gives it away — the owner's client refuses with SessionError
 * ATTESTATION_REJECTED, codes exactly [MEASUREMENT_MISMATCH], and sends the impostor
 * nothing but the AttestRequest. The real agent keeps serving its owner.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { systemClock } from "../../src/shared/base/index.js";
import { AgentV1Driver } from "../../src/client/index.js";
import { rejectsWith, startSecWorld, type SecWorld } from "./helpers/world.js";
import { startImpostor, type Impostor } from "./helpers/impostor.js";
import { otherVmReport, withChipCertificates } from "./helpers/reports.js";

let sw: SecWorld;
let impostor: Impostor;
before(async () => {
  sw = await startSecWorld("report-other-vm");
  impostor = await startImpostor((_nonce, reportData) => withChipCertificates(sw, otherVmReport(sw.seed, systemClock, reportData)));
});
after(async () => {
  await impostor?.close();
  await sw?.stop();
});

test("another VM's genuine, session-bound VMPL0 report is refused: ATTESTATION_REJECTED [MEASUREMENT_MISMATCH]", async () => {
  const e = await rejectsWith(
    AgentV1Driver.connectAgent({ endpoint: impostor.endpoint, owner: sw.owner, measurement: sw.world.measurement!, trustRoots: [sw.world.arkPem()!] }),
    "ATTESTATION_REJECTED",
    ["MEASUREMENT_MISMATCH"],
  );
  assert.match(e.message, /policy\.measurement: MEASUREMENT_MISMATCH/);
  assert.equal(impostor.served, 1);
  assert.deepEqual(impostor.otherRequests, [], "the owner sent nothing but the AttestRequest");
});

test("the agent keeps serving its owner", async () => {
  await sw.expectServes();
});

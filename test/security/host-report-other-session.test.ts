/**
 * Threat: the untrusted host impersonates the agent and replays a genuine report of this
 * very VM and agent (VMPL 0, the right measurement, signed by the chip's VCEK) obtained
 * from an earlier owner session (e.g. one the owner published).
 * Expected: the report is bound to that session (REPORT_DATA = SHA-512(label ‖ nonce ‖ TLS
 * exporter)), not to this one: the owner's client refuses with SessionError
 * ATTESTATION_REJECTED, codes exactly [REPORT_DATA_MISMATCH]. The real agent keeps serving.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { AgentV1Driver } from "../../src/client/index.js";
import { rejectsWith, startSecWorld, type SecWorld } from "./helpers/world.js";
import { startImpostor, type Impostor } from "./helpers/impostor.js";
import { withChipCertificates } from "./helpers/reports.js";

let sw: SecWorld;
let impostor: Impostor;
let earlier: Uint8Array;
before(async () => {
  sw = await startSecWorld("report-other-session");
  const d = await sw.connect();
  earlier = d.attestation!.reportBytes;
  await d.close();
  impostor = await startImpostor(() => withChipCertificates(sw, earlier));
});
after(async () => {
  await impostor?.close();
  await sw?.stop();
});

test("a genuine report of an earlier session is refused: ATTESTATION_REJECTED [REPORT_DATA_MISMATCH]", async () => {
  const e = await rejectsWith(
    AgentV1Driver.connectAgent({ endpoint: impostor.endpoint, owner: sw.owner, measurement: sw.world.measurement!, trustRoots: [sw.world.arkPem()!] }),
    "ATTESTATION_REJECTED",
    ["REPORT_DATA_MISMATCH"],
  );
  assert.match(e.message, /REPORT_DATA_MISMATCH/);
  assert.deepEqual(impostor.otherRequests, []);
});

test("the agent keeps serving its owner", async () => {
  await sw.expectServes();
});

/**
 * Threat: the untrusted host and a rootkit in the owner's guest collude: the guest leaks
 * VMPCK1 (from its secrets copy), the host asks the ASP for a report of the owner's VM
 * under VMPCK1 with the REPORT_DATA binding of the owner's session with the host's
 * impostor — a genuine report of the right VM, measurement and session, signed by the
 * chip's VCEK, but of VMPL 1 (code the guest controls, not the agent).
 * Expected: the owner's client refuses with SessionError ATTESTATION_REJECTED, codes
 * exactly [VMPL_MISMATCH] (VMPL 0 is not negotiable). The real agent keeps serving.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { AgentV1Driver } from "../../src/client/index.js";
import { parseAttestationReport } from "../../src/shared/spec/index.js";
import { rejectsWith, startSecWorld, type SecWorld } from "./helpers/world.js";
import { startImpostor, type Impostor } from "./helpers/impostor.js";
import { vmpl1Report } from "./helpers/reports.js";

let sw: SecWorld;
let impostor: Impostor;
let presented: Uint8Array | undefined;
before(async () => {
  sw = await startSecWorld("report-vmpl1");
  impostor = await startImpostor((_nonce, reportData) => {
    const ev = vmpl1Report(sw, reportData);
    presented = ev.report;
    return ev;
  });
});
after(async () => {
  await impostor?.close();
  await sw?.stop();
});

test("a genuine VMPL 1 report of the owner's VM, bound to the session, is refused: ATTESTATION_REJECTED [VMPL_MISMATCH]", async () => {
  const e = await rejectsWith(
    AgentV1Driver.connectAgent({ endpoint: impostor.endpoint, owner: sw.owner, measurement: sw.world.measurement!, trustRoots: [sw.world.arkPem()!] }),
    "ATTESTATION_REJECTED",
    ["VMPL_MISMATCH"],
  );
  assert.match(e.message, /VMPL_MISMATCH/);
  const r = parseAttestationReport(presented!);
  assert.equal(r.vmpl, 1);
  assert.deepEqual(r.measurement, sw.world.measurement, "the report is of the owner's own VM");
});

test("the agent keeps serving its owner", async () => {
  await sw.expectServes();
});

/**
 * Threat: the compromised guest kernel (VMPL1) asks the AMD secure processor for a VMPL0
 * attestation report — to impersonate the agent — using the VMPCK1 key it finds in its
 * copy of the secrets page (a GHCB GUEST_REQUEST through two pages it made shared).
 * Expected: the request authenticates and is delivered, but VMPCK1 may only ask for
 * VMPL ≥ 1: the firmware answers MSG_REPORT_RSP with STATUS = INVALID_PARAM (0x16) and no
 * report. The agent and the owner's session are unharmed. (Control: the same request for
 * VMPL 1 does get a report, so the refusal is about the VMPL, not a broken channel.)
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { assertUnharmed, startAttackRig, type AttackRig } from "./helpers/guest-attack.js";
import { runAttack } from "./helpers/scenario-world.js";

const INVALID_PARAM = 0x16;

let rig: AttackRig;
before(async () => {
  rig = await startAttackRig("guest-vmpl0-report");
});
after(() => rig?.close());

test("a guest request for a VMPL0 report under VMPCK1 is refused with INVALID_PARAM; no report", async () => {
  const rec = await rig.sw.runScenario("attack-report");
  assert.ok(rec.outcomes.some((o) => o.note === "VMPCK1 read"), "the guest had VMPCK1");
  const last = rec.outcomes.at(-1)!;
  assert.deepEqual([last.result, last.rc, last.note], ["rc", INVALID_PARAM, "MSG_REPORT_RSP status 0x16"]);
  assert.ok(!rec.outcomes.some((o) => (o.note ?? "").includes("REPORT ISSUED")));
  await assertUnharmed(rig);
  // The agent's own attestation is unaffected.
  const d = await rig.sw.connect();
  assert.equal(d.attestation!.report.vmpl, 0);
  await d.close();
});

test("control: the same request for VMPL 1 gets a report", async () => {
  const rec = await runAttack("attack-report=1");
  const last = rec.outcomes.at(-1)!;
  assert.deepEqual([last.rc, last.note], [0, "REPORT ISSUED"]);
});

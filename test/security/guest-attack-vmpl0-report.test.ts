/**
 * Threat: the compromised guest kernel asks the AMD secure processor for a VMPL0
 * attestation report (to impersonate the agent), with the VMPCK1 key it finds in its
 * copy of the secrets page. Expected: the request is authentic and delivered, and the
 * firmware answers MSG_REPORT_RSP with STATUS = INVALID_PARAM (0x16) — no report.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runAttack } from "./guest-attack-world.js";

test("a guest request for a VMPL0 report under VMPCK1 is refused with INVALID_PARAM", async () => {
  const rec = await runAttack("attack-report");
  const last = rec.outcomes.at(-1)!;
  assert.equal(last.result, "rc", JSON.stringify(rec.outcomes, null, 1));
  assert.equal(last.rc, 0x16);
  assert.ok(!rec.outcomes.some((o) => (o.note ?? "").includes("REPORT ISSUED")));
  assert.ok(rec.outcomes.some((o) => o.note === "VMPCK1 read"), "the guest had VMPCK1");
});

test("the same request for its own VMPL (1) does get a report (the channel works)", async () => {
  const rec = await runAttack("attack-report=1");
  const last = rec.outcomes.at(-1)!;
  assert.equal(last.rc, 0);
  assert.equal(last.note, "REPORT ISSUED");
});

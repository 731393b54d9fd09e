/**
 * Threat: the compromised guest kernel (VMPL1) uses RMPADJUST to give itself rights on an
 * agent page, to change VMPL0's rights, or to grant another VMPL more than it has itself.
 * Expected (SNP.md §4.4: the target VMPL must be numerically greater than the caller's,
 * and the rights a subset of the caller's): each RMPADJUST returns FAIL_PERMISSION (2);
 * the agent page's RMP entry is unchanged (no rights for VMPL1–3); the owner's session is
 * unharmed.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { RMP_RESULT } from "../../src/shared/spec/index.js";
import { assertUnharmed, startAttackRig, type AttackRig } from "./helpers/guest-attack.js";

let rig: AttackRig;
before(async () => {
  rig = await startAttackRig("guest-rmpadjust");
});
after(() => rig?.close());

test("RMPADJUST from VMPL1 for itself, for VMPL0 and beyond its own rights: FAIL_PERMISSION each; the agent page keeps its rights", async () => {
  const hv = rig.sw.world.machine.hypervisor;
  const image = rig.sw.world.layout.image;
  const entry = hv.rmpRead(image);
  assert.deepEqual(entry.perms.slice(1), [0, 0, 0], "VMPL1–3 have no rights on the agent image");
  const rec = await rig.sw.runScenario("attack-rmpadjust");
  assert.deepEqual(
    rec.outcomes.map((o) => [o.step, o.result, o.rc]),
    [
      ["RMPADJUST agent page → VMPL1 RWX", "rc", RMP_RESULT.FAIL_PERMISSION],
      ["RMPADJUST agent page → VMPL0 all", "rc", RMP_RESULT.FAIL_PERMISSION],
      ["RMPADJUST guest page → VMPL2 beyond VMPL1's own rights", "rc", RMP_RESULT.FAIL_PERMISSION],
    ],
  );
  assert.deepEqual(hv.rmpRead(image), entry, "the agent page's RMP entry is unchanged");
  await assertUnharmed(rig);
});

/**
 * Threat: the compromised guest kernel (VMPL1) rescinds the validation of an agent page
 * with PVALIDATE, so that the agent faults (#VC) on its own memory, or of one of its own
 * pages.
 * Expected (SNP.md §4.3; the model follows VeriSMo: PVALIDATE is VMPL0's): PVALIDATE from
 * VMPL1 returns FAIL_PERMISSION (2) without updating anything (CF = 0); the agent page stays
 * validated and the agent, and the owner's session, are unharmed.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { RMP_RESULT } from "../../src/shared/spec/index.js";
import { assertUnharmed, startAttackRig, type AttackRig } from "./helpers/guest-attack.js";

let rig: AttackRig;
before(async () => {
  rig = await startAttackRig("guest-pvalidate");
});
after(() => rig?.close());

for (const which of ["agent", "self"] as const) {
  test(`PVALIDATE (rescind) of ${which === "agent" ? "an agent page" : "one of its own pages"} from VMPL1: FAIL_PERMISSION, nothing changes`, async () => {
    const hv = rig.sw.world.machine.hypervisor;
    const image = rig.sw.world.layout.image;
    const before = hv.rmpRead(image);
    const rec = await rig.sw.runScenario(`attack-pvalidate=${which}`);
    assert.deepEqual(
      rec.outcomes.map((o) => [o.result, o.rc, o.note]),
      [["rc", RMP_RESULT.FAIL_PERMISSION, "CF=0"]],
    );
    const gpa = BigInt(/GPA (0x[0-9a-f]+)/.exec(rec.outcomes[0]!.step)![1]!);
    assert.equal(hv.rmpRead(gpa as typeof image).validated, true, "the page stays validated");
    assert.deepEqual(hv.rmpRead(image), before);
    await assertUnharmed(rig);
  });
}

/**
 * Threat: the compromised guest kernel (VMPL1) writes the agent's memory — its measured
 * image — through its direct map extended over the agent region, a mapping it builds, or a
 * physical access, to take over the agent.
 * Expected: each attempt ends in a VMPL-permission #NPF with the W bit at the agent page's
 * GPA; nothing is written (the page's plaintext is unchanged); the agent counts each
 * forwarded fault as unmatched and its owner's session is unharmed.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { PAGE } from "./helpers/world.js";
import { NPF_BIT, assertUnharmed, gaveUpOnNpf, startAttackRig, type AttackRig } from "./helpers/guest-attack.js";

let rig: AttackRig;
before(async () => {
  rig = await startAttackRig("guest-write-agent");
});
after(() => rig?.close());

for (const how of ["dmap", "map", "phys"]) {
  test(`a VMPL1 write to an agent page (${how}) ends in a VMPL #NPF with W; nothing is written`, async () => {
    const image = rig.sw.world.layout.image;
    const page = rig.sw.plaintext(image, PAGE);
    const before = await rig.owner.heartbeat();
    const rec = await rig.sw.runScenario(`attack-write-agent=${how}`);
    const last = rec.outcomes.at(-1);
    const { info, gpa } = gaveUpOnNpf(last);
    assert.equal(info & (NPF_BIT.VMPL | NPF_BIT.W | NPF_BIT.RMP), NPF_BIT.VMPL | NPF_BIT.W | NPF_BIT.RMP);
    assert.equal(gpa, image);
    assert.deepEqual(rig.sw.plaintext(image, PAGE), page, "the agent image is unchanged");
    const hb = await assertUnharmed(rig);
    // Every attempt but the last (given up inside the guest) was a #NPF exit the host forwarded.
    assert.equal(hb.unmatchedFaults - before.unmatchedFaults, BigInt(last!.attempts - 1), "each forwarded fault was counted");
  });
}

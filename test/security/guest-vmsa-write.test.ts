/**
 * Threat: the compromised guest kernel (VMPL1) overwrites a VMSA page — its own VMPL1 VMSA
 * (to forge the registers the owner inspects, or escape the agent's single-step) or the
 * vCPU's VMPL0 VMSA (to hijack the agent) — with a physical write of a new RIP.
 * Expected: VMPL1 has no rights on any VMSA page: each attempt ends in a VMPL-permission
 * #NPF with the W bit at the RIP field's GPA; nothing is written (RIP is not 0xdeadbeef;
 * the owner's register view is the hardware's); each forwarded fault is counted; the
 * owner's session is unharmed.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { VMSA } from "../../src/shared/spec/index.js";
import { NPF_BIT, assertUnharmed, gaveUpOnNpf, startAttackRig, type AttackRig } from "./helpers/guest-attack.js";

let rig: AttackRig;
before(async () => {
  rig = await startAttackRig("guest-vmsa-write");
});
after(() => rig?.close());

const RIP = BigInt(VMSA.offsetOf("rip"));

for (const which of ["own", "agent"] as const) {
  test(`a VMPL1 write to ${which === "own" ? "its own VMPL1" : "the VMPL0"} VMSA ends in a VMPL #NPF with W; RIP is untouched`, async () => {
    const l = rig.sw.world.layout;
    const before = await rig.owner.heartbeat();
    const rec = await rig.sw.runScenario(`attack-vmsa-write=${which}`);
    const last = rec.outcomes.at(-1);
    const { info, gpa } = gaveUpOnNpf(last);
    assert.equal(info & (NPF_BIT.VMPL | NPF_BIT.W | NPF_BIT.RMP | NPF_BIT.P), NPF_BIT.VMPL | NPF_BIT.W | NPF_BIT.RMP | NPF_BIT.P);
    const target = gpa - RIP;
    assert.ok((which === "own" ? l.vmsa1 : l.vmsa0).map(BigInt).includes(target), `0x${gpa.toString(16)} is the RIP of a ${which} VMSA`);
    const rip = new DataView(rig.sw.plaintext(gpa, 8).buffer).getBigUint64(0, true);
    assert.notEqual(rip, 0xdeadbeefn, "nothing was written");
    const sets = await rig.owner.getRegisterSets();
    assert.ok(sets.every((s) => s.regs.rip !== 0xdeadbeefn));
    const hb = await assertUnharmed(rig);
    assert.equal(hb.unmatchedFaults - before.unmatchedFaults, BigInt(last!.attempts - 1), "each forwarded fault was counted");
  });
}

/**
 * Threat: the compromised guest kernel (VMPL1) uses RMPADJUST with the VMSA bit, on one of
 * its pages and on its own VMPL1 VMSA, to create a VMSA of its own (a context the host
 * could run behind the agent's back) or to interfere with the agent's secure pause, which
 * works by clearing and setting the VMSA bit.
 * Expected (SNP.md §4.4): only VMPL0 changes the VMSA bit — the instructions may succeed
 * for the permission part, but no page gains or loses the VMSA bit: the VMSA pages are
 * still exactly the launched ones. The agent's pause/resume still works and the owner's
 * session is unharmed.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Gpa } from "../../src/shared/base/index.js";
import { PAGE } from "./helpers/world.js";
import { assertUnharmed, startAttackRig, type AttackRig } from "./helpers/guest-attack.js";

let rig: AttackRig;
before(async () => {
  rig = await startAttackRig("guest-vmsa-bit");
});
after(() => rig?.close());

function vmsaPages(): bigint[] {
  const hv = rig.sw.world.machine.hypervisor;
  const out: bigint[] = [];
  for (let g = 0n; g < hv.memoryBytes; g += BigInt(PAGE)) if (hv.rmpRead(g as Gpa).vmsa) out.push(g);
  return out;
}

test("RMPADJUST with the VMSA bit from VMPL1 makes no VMSA; the VMSA pages are exactly the launched ones", async () => {
  const l = rig.sw.world.layout;
  const launched = [...l.vmsa0, ...l.vmsa1].map(BigInt).sort((a, b) => (a < b ? -1 : 1));
  assert.deepEqual(vmsaPages(), launched);
  const rec = await rig.sw.runScenario("attack-vmsa-bit");
  assert.deepEqual(
    rec.outcomes.map((o) => o.step),
    ["RMPADJUST guest page → VMPL2 with VMSA=1", "RMPADJUST own VMPL1 VMSA → VMPL2 with VMSA=1"],
  );
  assert.deepEqual(vmsaPages(), launched, "no page gained or lost the VMSA bit");
  await assertUnharmed(rig);
});

test("the agent's secure pause still holds and lifts after the attack", async () => {
  const stats = () => rig.sw.world.machine.stats().retired.map((r) => r[1]!);
  const p = await rig.owner.pauseVcpus();
  assert.deepEqual([...p.stopped, ...p.alreadyStopped].sort(), [0, 1]);
  const hv = rig.sw.world.machine.hypervisor;
  assert.ok(rig.sw.world.layout.vmsa1.every((g) => !hv.rmpRead(g).vmsa), "paused: no VMPL1 VMSA has the bit");
  const frozen = stats();
  await rig.owner.readPhys([{ gpa: rig.sw.textPa, len: PAGE }]);
  assert.deepEqual(stats(), frozen);
  await rig.owner.resumeVcpus();
  assert.ok(rig.sw.world.layout.vmsa1.every((g) => hv.rmpRead(g).vmsa), "resumed: the bits are back");
  await assertUnharmed(rig);
});

/**
 * Threat: the compromised guest kernel uses RMPADJUST to give itself rights on agent
 * pages, to give VMPL0 rights, to grant another VMPL more than it has, or to set the VMSA
 * bit. Expected (SNP.md §4.4): FAIL_PERMISSION (2) for the first three; with the VMSA bit
 * the instruction may succeed but the bit is ignored below VMPL0.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runAttack } from "./guest-attack-world.js";

const FAIL_PERMISSION = 2;

test("RMPADJUST from VMPL1 fails with FAIL_PERMISSION for itself, for VMPL0 and beyond its own rights", async () => {
  const rec = await runAttack("attack-rmpadjust");
  assert.equal(rec.outcomes.length, 3);
  for (const o of rec.outcomes) {
    assert.equal(o.result, "rc", o.step);
    assert.equal(o.rc, FAIL_PERMISSION, o.step);
  }
});

test("RMPADJUST with the VMSA bit from VMPL1 does not make a VMSA", async () => {
  await runAttack("attack-vmsa-bit", (w, rec) => {
    assert.equal(rec.outcomes.length, 2);
    for (const o of rec.outcomes) assert.ok(o.result === "rc" || o.result === "gave-up", o.step);
    // No guest-RAM page became a VMSA: VMRUN-able pages are still exactly the launched VMSAs.
    const hv = w.machine.hypervisor;
    for (let g = 0n; g < w.layout.guestRamEnd; g += 0x1000n) {
      if (hv.rmpRead(g as Parameters<typeof hv.rmpRead>[0]).vmsa) assert.fail(`guest page 0x${g.toString(16)} has the VMSA bit`);
    }
  });
});

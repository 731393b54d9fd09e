/**
 * Threat: the compromised guest kernel rescinds the validation of an agent page with
 * PVALIDATE (to make the agent fault on its own memory). Expected: PVALIDATE is refused
 * below VMPL0 (SNP.md §4.3) — a failure code or a fault — and the page stays validated.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runAttack } from "./guest-attack-world.js";

test("PVALIDATE of an agent page from VMPL1 is refused and the page stays validated", async () => {
  await runAttack("attack-pvalidate=agent", (w, rec) => {
    const o = rec.outcomes.at(-1)!;
    assert.ok((o.result === "rc" && o.rc !== 0) || o.result === "gave-up", JSON.stringify(o));
    assert.equal(w.machine.hypervisor.rmpRead(w.layout.image).validated, true);
  });
});

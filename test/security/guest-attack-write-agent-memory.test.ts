/**
 * Threat: the compromised guest kernel (VMPL1) writes the agent's memory (direct map,
 * its own mapping, physical access) or its own and the agent's VMSA pages. Expected: a
 * VMPL-permission #NPF with the write bit for each, and nothing written.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { computeLayout } from "../../src/shared/spec/index.js";
import { NPF_BIT, runAttack } from "./guest-attack-world.js";

const layout = computeLayout({ memoryBytes: 128n << 20n, vcpus: 2 });

for (const how of ["dmap", "phys"]) {
  test(`guest write to an agent page (${how}) ends in a VMPL #NPF`, async () => {
    const rec = await runAttack(`attack-write-agent=${how}`);
    const last = rec.outcomes.at(-1)!;
    assert.equal(last.result, "gave-up");
    const info = BigInt(last.fault!.errorCode);
    assert.equal(info & (NPF_BIT.VMPL | NPF_BIT.W), NPF_BIT.VMPL | NPF_BIT.W);
    assert.equal(BigInt(last.fault!.gpa!), layout.image);
  });
}

for (const which of ["own", "agent"]) {
  test(`guest write to the ${which === "own" ? "VMPL1" : "VMPL0"} VMSA page ends in a VMPL #NPF`, async () => {
    const rec = await runAttack(`attack-vmsa-write=${which}`);
    const last = rec.outcomes.at(-1)!;
    assert.equal(last.result, "gave-up");
    assert.equal(BigInt(last.fault!.errorCode) & NPF_BIT.VMPL, NPF_BIT.VMPL);
    const vmsas = [...layout.vmsa0, ...layout.vmsa1].map((g) => g as bigint);
    assert.ok(vmsas.includes(BigInt(last.fault!.gpa!) & ~0xfffn));
  });
}

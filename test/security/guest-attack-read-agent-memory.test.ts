/**
 * Threat: the compromised guest kernel (VMPL1) reads the agent's memory — through its
 * direct map extended over the agent region, through a mapping it builds, or with a
 * physical access. Expected: every attempt ends in a VMPL-permission #NPF (RMP | ENC |
 * VMPL bits, the agent page's GPA), never data.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { computeLayout } from "../../src/shared/spec/index.js";
import { NPF_BIT, runAttack } from "./guest-attack-world.js";

const agentImage = computeLayout({ memoryBytes: 128n << 20n, vcpus: 2 }).image;

for (const how of ["dmap", "map", "phys"]) {
  test(`guest read of an agent page (${how}) ends in a VMPL #NPF`, async () => {
    const rec = await runAttack(`attack-read-agent=${how}`);
    const last = rec.outcomes.at(-1)!;
    assert.equal(last.result, "gave-up", JSON.stringify(last));
    assert.equal(last.fault!.kind, "npf");
    const info = BigInt(last.fault!.errorCode);
    assert.equal(info & NPF_BIT.VMPL, NPF_BIT.VMPL);
    assert.equal(info & NPF_BIT.RMP, NPF_BIT.RMP);
    assert.equal(info & NPF_BIT.W, 0n);
    assert.equal(BigInt(last.fault!.gpa!), agentImage);
    assert.ok(!rec.outcomes.some((o) => o.result === "ok" && (o.note ?? "").startsWith("read ")), "no data came back");
  });
}

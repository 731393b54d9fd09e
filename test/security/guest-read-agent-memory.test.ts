/**
 * Threat: the compromised guest kernel (VMPL1) reads the agent's memory — its image, its
 * secrets page with VMPCK0 — through its direct map extended over the agent region, a
 * mapping it builds itself, or a physical access.
 * Expected: the agent revoked every VMPL1 right on its pages at boot, so each attempt ends
 * in a VMPL-permission #NPF (P | RMP | ENC | VMPL bits, no W, the agent page's GPA) and
 * never returns data; the host forwards each fault and the agent counts it as an unmatched
 * fault (one per #NPF exit). No private page of the agent region (secrets page, VMSAs,
 * heap) grants VMPL1–3 any right; the guest's own secrets copy has VMPCK0 zeroed. The owner's
 * session is unharmed (it reads the plaintext, nothing held, no event made up).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { vmpckOffset } from "../../src/shared/spec/index.js";
import { NPF_BIT, assertUnharmed, gaveUpOnNpf, startAttackRig, type AttackRig } from "./helpers/guest-attack.js";

let rig: AttackRig;
before(async () => {
  rig = await startAttackRig("guest-read-agent");
});
after(() => rig?.close());

for (const how of ["dmap", "map", "phys"]) {
  test(`a VMPL1 read of an agent page (${how}) ends in a VMPL #NPF, never data; the agent counts each attempt`, async () => {
    const before = await rig.owner.heartbeat();
    const rec = await rig.sw.runScenario(`attack-read-agent=${how}`);
    const last = rec.outcomes.at(-1);
    const { info, gpa } = gaveUpOnNpf(last);
    assert.equal(info & (NPF_BIT.P | NPF_BIT.RMP | NPF_BIT.ENC | NPF_BIT.VMPL | NPF_BIT.W), NPF_BIT.P | NPF_BIT.RMP | NPF_BIT.ENC | NPF_BIT.VMPL);
    assert.equal(gpa, rig.sw.world.layout.image);
    assert.ok(!rec.outcomes.some((o) => o.result === "ok" && (o.note ?? "").startsWith("read ")), "no data came back");
    const hb = await assertUnharmed(rig);
    // Every attempt but the last (given up inside the guest) was a #NPF exit the host forwarded.
    assert.equal(hb.unmatchedFaults - before.unmatchedFaults, BigInt(last!.attempts - 1), "each forwarded fault was counted");
  });
}

test("every private page of the agent region — the secrets page, VMSAs and heap included — grants VMPL1–3 nothing", () => {
  const hv = rig.sw.world.machine.hypervisor;
  const l = rig.sw.world.layout;
  let private_ = 0;
  const open: string[] = [];
  for (let g = l.agentBase as bigint; g < l.agentEnd; g += 0x1000n) {
    const e = hv.rmpRead(g as typeof l.agentBase);
    if (!e.assigned) continue; // shared pages (NIC rings, GHCBs) hold no secret
    private_++;
    if (e.perms[1] !== 0 || e.perms[2] !== 0 || e.perms[3] !== 0) open.push(`0x${g.toString(16)}: ${e.perms.join(",")}`);
  }
  assert.ok(private_ > 100, `${private_} private agent pages`);
  assert.deepEqual(open, [], "agent pages a lower VMPL may touch");
  assert.equal(hv.rmpRead(l.secrets).perms[1], 0, "the secrets page (VMPCK0) in particular");
});

test("the guest's secrets copy has VMPCK0 zeroed (the agent keeps it); not even the owner reads the agent's pages", async () => {
  const l = rig.sw.world.layout;
  const [copy, own] = await rig.owner.readPhys([
    { gpa: l.guestSecrets + BigInt(vmpckOffset(0)), len: 32 },
    { gpa: l.secrets, len: 64 },
  ]);
  assert.deepEqual(copy, new Uint8Array(32), "VMPCK0 zeroed in the guest's copy");
  assert.ok(!rig.sw.plaintext(l.secrets + BigInt(vmpckOffset(0)), 32).every((b) => b === 0), "the agent's secrets page holds VMPCK0");
  assert.ok(own !== undefined && !(own instanceof Uint8Array), "the agent region is refused");
  assert.equal(own.code, "INVALID_ADDRESS");
  await assertUnharmed(rig);
});

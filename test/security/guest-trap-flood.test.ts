/**
 * Threat: the compromised guest kernel floods the pages an introspector traps
 * (attack-flood: reads spread over sys_call_table, idt_table, init_task and the module
 * list) to keep the agent busy with trap hits, starve the owner's session, or overflow
 * its event queue.
 * Expected: every hit is a held vCPU with one event, so at most one event per vCPU is ever
 * outstanding (the queue is bounded by the vCPU count); the owner's session keeps
 * answering requests — with the plaintext — throughout the flood; hits matched by more
 * than one trap are delivered once and counted in events_dropped; the agent's counts agree
 * with what the owner received; the guest completes its flood (no guest-visible fault) and
 * the agent keeps serving.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { TrapHandle } from "../../src/client/index.js";
import { defaultProfile } from "../../src/app/world/world.js";
import { PAGE } from "./helpers/world.js";
import { startAttackRig, type AttackRig } from "./helpers/guest-attack.js";

let rig: AttackRig;
before(async () => {
  rig = await startAttackRig("guest-trap-flood");
});
after(() => rig?.close());

test("a trap flood: bounded outstanding events, a responsive session, events_dropped counted, counts agree", async () => {
  const { sw, owner } = rig;
  const gt = sw.world.guest.groundTruth();
  const slide = BigInt(gt.kernel.virtualSlide);
  const vas = ["sys_call_table", "idt_table", "init_task", "modules"].map((s) => defaultProfile().requireSymbol(s) + slide);
  // The flood reads [symbol, symbol + 2 KiB) of each: trap every page that range touches.
  const translated = await owner.translate(BigInt(gt.kernel.initTopPgt), vas.flatMap((va) => [va, va + 2047n]));
  const pages = [
    ...new Set(
      translated.map((t) => {
        assert.ok(!(t instanceof Error));
        return t.pa & ~0xfffn;
      }),
    ),
  ];
  // Arm everything on a paused guest, so every hit below meets the complete set of traps.
  await owner.pauseVcpus();
  const before = await owner.heartbeat();
  let outstanding = 0;
  let maxOutstanding = 0;
  const traps: TrapHandle[] = [];
  for (const gpa of pages) {
    traps.push(
      await owner.armTrap({ gpa, access: "r" }, async () => {
        outstanding++;
        maxOutstanding = Math.max(maxOutstanding, outstanding);
        await new Promise((r) => setImmediate(r));
        outstanding--;
        return "continue" as const;
      }),
    );
  }
  // A second trap on sys_call_table's page: each hit there matches two traps.
  traps.push(await owner.armTrap({ gpa: pages[0]!, access: "r" }, () => "continue"));
  await owner.resumeVcpus();

  let flooding = true;
  const flood = sw.runScenario("attack-flood=400", 120_000).finally(() => (flooding = false));
  const truth = sw.plaintext(sw.textPa, PAGE);
  let answered = 0;
  while (flooding) {
    const [got] = await owner.readPhys([{ gpa: sw.textPa, len: PAGE }]);
    assert.deepEqual(got, truth, "the owner's reads during the flood are the plaintext");
    answered++;
  }
  const rec = await flood;
  // Freeze the guest (the workload's system calls read sys_call_table too), let the last
  // events be answered, and compare the agent's counts with what the owner received.
  await owner.pauseVcpus();
  let hb = await owner.heartbeat();
  for (let settled = 0; settled < 3; ) {
    await new Promise((r) => setImmediate(r));
    const again = await owner.heartbeat();
    settled = again.events === hb.events && outstanding === 0 && again.stoppedVcpus.length === 2 ? settled + 1 : 0;
    hb = again;
  }
  const delivered = rig.events.length; // every trap event the owner's session received
  const onDoubled = rig.events.filter((e) => e.gpa >> 12n === pages[0]! >> 12n).length;
  for (const t of traps) await t.dispose();
  await owner.resumeVcpus();

  assert.deepEqual(rec.outcomes.map((o) => [o.step, o.note]), [["flood: 400 reads", "0 guest-visible faults"]]);
  assert.ok(answered > 0, "the session answered while the guest flooded");
  assert.ok(delivered >= 400, `${delivered} events: one per flood read, plus the workload's`);
  assert.ok(maxOutstanding <= sw.world.layout.vcpus, `at most one outstanding event per vCPU (saw ${maxOutstanding})`);
  assert.equal(hb.events - before.events, BigInt(delivered), "every event the agent delivered reached the owner, once");
  assert.ok(onDoubled > 0);
  assert.equal(hb.eventsDropped - before.eventsDropped, BigInt(onDoubled), "each hit on the doubly trapped page counted one dropped");
  assert.equal(hb.unmatchedFaults, before.unmatchedFaults);
  const after = await owner.heartbeat();
  assert.deepEqual(after.stoppedVcpus, []);
  assert.equal(after.trapsArmed, 0);
  await sw.expectServes();
});

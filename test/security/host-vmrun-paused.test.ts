/**
 * Threat: the untrusted host keeps VMRUNning the VMPL1 contexts the owner paused
 * (`vmrun-paused`), so the guest runs on while the owner inspects a "paused" guest.
 * Expected: secure pause clears the RMP VMSA bit of every VMPL1 VMSA, so the hardware
 * refuses each such VMRUN (VMEXIT_INVALID): not one VMPL1 instruction retires while paused
 * (machine statistics), the host never entered a paused context; after resume the guest
 * runs again and the agent keeps serving its owner.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startSecWorld, waitFor, type SecWorld } from "./helpers/world.js";

let sw: SecWorld;
before(async () => {
  sw = await startSecWorld("vmrun-paused", { adversary: { vmrunPaused: { every: 1 } } });
});
after(() => sw?.stop());

const vmpl1Retired = (): number[] => sw.world.machine.stats().retired.map((r) => r[1]!);
const refused = (): number => sw.world.host.counters()["adversary.vmrun-paused.refused"] ?? 0;

test("every VMRUN of a paused context is refused; no VMPL1 instruction retires while paused", async () => {
  const d = await sw.connect();
  const p = await d.pauseVcpus();
  assert.deepEqual([...p.stopped, ...p.alreadyStopped].sort(), [0, 1]);
  const retired = vmpl1Retired();
  const r0 = refused();
  await waitFor(() => refused() >= r0 + 200, 20_000, "refused VMRUNs");
  assert.deepEqual(vmpl1Retired(), retired, "no VMPL1 instruction retired while paused");
  assert.equal(sw.world.host.counters()["adversary.vmrun-paused.entered"] ?? 0, 0, "the hardware never entered a paused context");
  // What the owner reads while paused is consistent: the same bytes twice, equal to the hardware's.
  const [a] = await d.readPhys([{ gpa: sw.textPa, len: 4096 }]);
  assert.deepEqual(a, sw.plaintext(sw.textPa, 4096));
  assert.deepEqual((await d.getRegisterSets()).map((s) => s.stopped), [true, true]);
  await d.resumeVcpus();
  await waitFor(() => vmpl1Retired().every((n, v) => n > retired[v]!), 20_000, "the guest to run after resume");
  await d.close();
});

test("the agent keeps serving its owner after the attack", async () => {
  await sw.expectServes();
});

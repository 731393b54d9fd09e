/**
 * Threat: the untrusted host writes the guest's private memory (`write-private` on the
 * agent's measured configuration page, and HypervisorPort.write on the agent image, a VMSA,
 * the secrets page and guest kernel text), hoping to change the agent's configuration or
 * code, the guest's registers or data behind the owner's back.
 * Expected (SNP.md §4.5): every such write raises a host #PF with P | W | RMP and changes
 * nothing: the plaintext of each page is what it was, the owner reads the same bytes, the
 * agent keeps serving its owner with the measured configuration.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { HostPageFault } from "../../src/platform/index.js";
import { PF_ERROR } from "../../src/shared/spec/index.js";
import type { Gpa } from "../../src/shared/base/index.js";
import { PAGE, startSecWorld, waitFor, type SecWorld } from "./helpers/world.js";

const FAULT = PF_ERROR.P | PF_ERROR.W | PF_ERROR.RMP;

let sw: SecWorld;
before(async () => {
  sw = await startSecWorld("write-private", { adversary: { writePrivate: { every: 50 } } });
});
after(() => sw?.stop());

test("the write-private switch faults on the agent's configuration page, every time", async () => {
  const config = sw.plaintext(sw.world.layout.config, PAGE);
  await waitFor(() => (sw.world.host.counters()["adversary.write-private.faults"] ?? 0) >= 3, 20_000, "the host's private writes");
  assert.equal(sw.world.host.counters()["adversary.write-private.succeeded"] ?? 0, 0);
  const ev = sw.world.host.events("adversary.write-private");
  assert.ok(ev.length >= 3);
  assert.ok(ev.every((e) => (Number(e.details?.["errorCode"]) >>> 0) === FAULT >>> 0), ev[0]?.message);
  assert.deepEqual(sw.plaintext(sw.world.layout.config, PAGE), config, "the configuration is unchanged");
});

test("host writes to the agent image, a VMPL0 and a VMPL1 VMSA, the secrets page and kernel text fault with P|W|RMP and change nothing", async () => {
  const d = await sw.connect();
  await d.pauseVcpus();
  try {
    const l = sw.world.layout;
    const targets: Gpa[] = [l.image, l.vmsa0[0]!, l.vmsa1[1]!, l.secrets, sw.textPa as Gpa];
    for (const gpa of targets) {
      const before = sw.plaintext(gpa, PAGE);
      assert.throws(
        () => sw.world.machine.hypervisor.write(gpa, new Uint8Array(64).fill(0x41)),
        (e: unknown) => e instanceof HostPageFault && e.gpa === gpa && e.errorCode >>> 0 === FAULT >>> 0,
        `write to 0x${gpa.toString(16)}`,
      );
      assert.deepEqual(sw.plaintext(gpa, PAGE), before, `0x${gpa.toString(16)} unchanged`);
    }
    const [text] = await d.readPhys([{ gpa: sw.textPa, len: PAGE }]);
    assert.deepEqual(text, sw.plaintext(sw.textPa, PAGE), "the owner reads the unchanged kernel text");
  } finally {
    await d.resumeVcpus();
    await d.close();
  }
});

test("the agent keeps serving its owner after the attack", async () => {
  await sw.expectServes();
  assert.equal(sw.world.agent!.introspect.phase, "running");
});

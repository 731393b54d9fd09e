/**
 * Threat: the untrusted host reads the guest's private memory (`read-private`, and its own
 * HypervisorPort.read of every page), hoping to see the guest's or the agent's plaintext.
 * Expected (SNP.md §4.5): for every guest-assigned page the host sees AES-XTS ciphertext
 * under the VM's key, tweaked by the GPA — never the plaintext (not even of the agent image
 * the host loaded itself), and pages with equal plaintext give different ciphertext, so the
 * host cannot even tell which pages are equal. The owner, through the agent, reads the
 * plaintext; the agent keeps serving.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, test } from "node:test";
import { bytesEqual, type Gpa } from "../../src/shared/base/index.js";
import { PAGE, startSecWorld, waitFor, type SecWorld } from "./helpers/world.js";

let sw: SecWorld;
before(async () => {
  sw = await startSecWorld("read-private", { adversary: { readPrivate: { every: 50 } } });
});
after(() => sw?.stop());

test("the read-private switch sees ciphertext of the agent image, not what the host loaded there", async () => {
  await waitFor(() => (sw.world.host.counters()["adversary.read-private"] ?? 0) >= 2, 20_000, "the host's private reads");
  const o = sw.world.host.lastPrivateRead!;
  assert.equal(o.gpa, sw.world.layout.image);
  assert.equal(o.matchesPlaintext, false, "the bytes differ from the agent image's plaintext");
  assert.equal(o.rmp?.assigned, true);
  assert.ok(!bytesEqual(o.bytes, sw.plaintext(sw.world.layout.image, o.bytes.length)));
});

test("no guest-assigned page reads as its plaintext; equal plaintext pages give pairwise different ciphertext", async () => {
  const d = await sw.connect();
  await d.pauseVcpus(); // a still guest: the snapshot and the host's view are of the same memory
  try {
    const hv = sw.world.machine.hypervisor;
    const snap = sw.world.snapshot();
    const host = hv.read(0n as Gpa, Number(hv.memoryBytes));
    const { pfns, data } = snap.memory;
    const groups = new Map<string, number[]>();
    let assigned = 0;
    let plaintextSeen = 0;
    for (let i = 0; i < pfns.length; i++) {
      const pfn = pfns[i]!;
      if (!hv.rmpRead(BigInt(pfn * PAGE) as Gpa).assigned) continue; // shared pages are the host's own bytes
      assigned++;
      const plain = data.subarray(i * PAGE, (i + 1) * PAGE);
      if (bytesEqual(plain, host.subarray(pfn * PAGE, (pfn + 1) * PAGE))) plaintextSeen++;
      const h = createHash("sha256").update(plain).digest("hex");
      groups.set(h, [...(groups.get(h) ?? []), pfn]);
    }
    // Never-written private pages hold zeros for the guest: add a sample of them as one more group.
    const zeroGroup: number[] = [];
    const allocated = new Set(pfns);
    for (let pfn = 0; pfn < Number(hv.memoryBytes) / PAGE && zeroGroup.length < 64; pfn += 97) {
      if (!allocated.has(pfn) && hv.rmpRead(BigInt(pfn * PAGE) as Gpa).assigned) zeroGroup.push(pfn);
    }
    groups.set("zero", [...(groups.get("zero") ?? []), ...zeroGroup]);
    assert.ok(assigned > 1000, `${assigned} assigned pages checked`);
    assert.equal(plaintextSeen, 0, "pages whose host view equals their plaintext");
    const dup = [...groups.values()].filter((g) => g.length > 1);
    assert.ok(dup.length >= 2, "the guest has pages with equal plaintext");
    for (const g of dup) {
      const views = new Set(g.map((pfn) => createHash("sha256").update(host.subarray(pfn * PAGE, (pfn + 1) * PAGE)).digest("hex")));
      assert.equal(views.size, g.length, `pages ${g.join(",")} have equal plaintext but must have different ciphertext`);
    }
    // The owner, through the agent, reads the plaintext of the same pages.
    const ram = Number(sw.world.layout.guestRamEnd) / PAGE;
    const inRam = dup.map((g) => g.filter((pfn) => pfn < ram)).find((g) => g.length >= 2)!;
    const probe = inRam.slice(0, 2).map((pfn) => ({ gpa: BigInt(pfn * PAGE), len: PAGE }));
    const got = await d.readPhys(probe);
    got.forEach((g, i) => assert.deepEqual(g, sw.plaintext(probe[i]!.gpa, PAGE)));
  } finally {
    await d.resumeVcpus();
    await d.close();
  }
});

test("the agent keeps serving its owner after the attack", async () => {
  await sw.expectServes();
});

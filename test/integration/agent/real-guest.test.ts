/**
 * The agent against the Linux kernel model at VMPL1 (the composition root's world): what
 * the owner reads through v1 — kernel text by virtual address through the kernel's own
 * page tables, each vCPU's registers — agrees with the guest's ground truth while paused.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createWorld } from "../../../src/app/index.js";
import { createTlsIdentity } from "../../../src/agent/runtime/tls-identity.js";
import { V1TestClient, v1, waitFor } from "./world.js";

test("v1 reads agree with the Linux model's ground truth: _text through the kernel's page tables, GS base and IDTR per vCPU", async () => {
  const owner = createTlsIdentity(new Uint8Array(randomBytes(48)), new Uint8Array(16).fill(4));
  const w = await createWorld({ memoryBytes: 256n << 20n, vcpus: 2, seed: "agent-real-guest", ownerKey: owner.spki, listen: { host: "127.0.0.1", port: 0 } });
  w.start();
  try {
    await waitFor(() => w.guest.booted, 30_000, "the guest kernel to boot");
    const c = await V1TestClient.connect(w.endpoint.port, owner);
    const pause = await c.call({ case: "pause", value: {} });
    assert.equal(pause.status, v1.Status.OK);
    const gt = w.guest.groundTruth();
    const dtb = BigInt(gt.kernel.initTopPgt);
    const tr = (await c.call({ case: "translate", value: { dtb, vas: [BigInt(gt.kernel.textVa)] } })).body.value as v1.TranslateResponse;
    assert.equal(tr.translations[0]!.status, v1.Status.OK);
    assert.equal(tr.translations[0]!.gpa, BigInt(gt.kernel.textPa));
    const regs = (await c.call({ case: "getRegisters", value: { vcpus: [] } })).body.value as v1.RegistersResponse;
    for (const v of gt.vcpus) {
      const set = regs.sets[v.cpu]!;
      assert.equal(set.stopped, true);
      // In kernel mode GS holds the per-CPU base; in user mode it sits in KERNEL_GS_BASE.
      assert.ok(set.gs?.base === BigInt(v.gsBase) || set.kernelGsBase === BigInt(v.gsBase), `vCPU ${v.cpu} GS base`);
      assert.ok(set.cr3 !== 0n);
      assert.equal(set.idtr?.base, BigInt(gt.kernel.idtr));
    }
    // The first megabyte of kernel text, through the page tables and physically.
    const rd = (await c.call({ case: "readVirt", value: { dtb, ranges: [{ addr: BigInt(gt.kernel.textVa), len: 1 << 20 }] } })).body.value as v1.ReadResponse;
    assert.equal(rd.chunks[0]!.status, v1.Status.OK);
    const phys = (await c.call({ case: "readPhys", value: { ranges: [{ addr: BigInt(gt.kernel.textPa), len: 1 << 20 }] } })).body.value as v1.ReadResponse;
    assert.deepEqual(rd.chunks[0]!.data, phys.chunks[0]!.data, "virtual and physical views agree");
    const resumed = await c.call({ case: "resume", value: {} });
    assert.deepEqual((resumed.body.value as v1.ResumeResponse).resumed, [0, 1]);
    c.end();
  } finally {
    await w.stop();
  }
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { AGENT_IMAGE_PAGES, computeLayout, launchPlan, VMSA } from "../shared/spec/index.js";
import { PAGE_SIZE } from "../shared/base/index.js";
import { AGENT_VERSION, buildAgentImage, ENTRY_STUB, isAgentImageHeader } from "./image.js";
import { initialVmsaFields, initialVmsaPage } from "./vmsa-init.js";

test("the image is deterministic, within its pages, starts with the entry stub and names the version", () => {
  const a = buildAgentImage();
  const b = buildAgentImage();
  assert.deepEqual(a, b);
  assert.ok(a.length <= AGENT_IMAGE_PAGES * PAGE_SIZE);
  assert.deepEqual(a.subarray(0, ENTRY_STUB.length), ENTRY_STUB);
  assert.equal(new TextDecoder().decode(a.subarray(0x10, 0x1d)), "00SEVen-agent");
  assert.equal(new TextDecoder().decode(a.subarray(0x30, 0x30 + AGENT_VERSION.length)), AGENT_VERSION);
  assert.ok(isAgentImageHeader(a));
  const bad = a.slice();
  bad[0x31] = bad[0x31]! ^ 1;
  assert.ok(!isAgentImageHeader(bad));
  assert.equal(createHash("sha256").update(a).digest("hex"), createHash("sha256").update(b).digest("hex"));
});

test("initial VMSAs: VMPL0 at the image entry in 64-bit mode, VMPL1 in QEMU's reset state with vmpl 1", () => {
  const l = computeLayout({ memoryBytes: 128n << 20n, vcpus: 2 });
  const v0 = initialVmsaFields(0, 1, l);
  assert.equal(v0.vmpl, 0);
  assert.equal(v0.rip, l.image);
  assert.equal(v0.cs_attrib & 0x200, 0x200); // L bit
  assert.equal(v0.rsp, l.heap + BigInt(l.heapPages * PAGE_SIZE));
  const v1 = initialVmsaFields(1, 0, l);
  assert.equal(v1.vmpl, 1);
  assert.equal(v1.rip, 0xfff0n);
  assert.equal(v1.cs_base, 0xffff0000n);
  assert.equal(v1.sev_features, 0x21n);
  const page = initialVmsaPage(1, 0, l);
  assert.equal(page.length, PAGE_SIZE);
  assert.equal(page[VMSA.offsetOf("vmpl")], 1);
  assert.throws(() => initialVmsaPage(0, 2, l), RangeError);
  // The launch plan accepts the image and VMSA pages.
  const pages = [...launchPlan(l, { agentImage: buildAgentImage(), agentConfig: new Uint8Array(64), vmsaPage: (vmpl, v) => initialVmsaPage(vmpl, v, l) })];
  assert.equal(pages.filter((p) => p.type === "vmsa").length, 4);
});

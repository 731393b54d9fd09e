import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock, bytesEqual, gpa, toHex } from "../shared/base/index.js";
import { RMP_PERM_RWX, computeLayout } from "../shared/spec/index.js";
import { createMachine } from "../platform/index.js";
import { HostError } from "./errors.js";
import { expectedMeasurement, launchCvm, launchPageCount } from "./launch.js";
import type { LaunchInputs } from "./launch.js";
import { fakeVmsaPage } from "./testing/fake-programs.js";
import { MIB, fakeImage, fakeInputs } from "./testing/test-world.js";

const clock = new ManualClock(Date.parse("2026-01-15T12:00:00Z"));

function launch(inputs: LaunchInputs) {
  const m = createMachine({ memoryBytes: inputs.memoryBytes, vcpus: inputs.vcpus, seed: "launch-test", clock });
  return { m, r: launchCvm(m.hypervisor, inputs) };
}

test("the expected measurement is what the ASP reports after the launch", () => {
  const inputs = fakeInputs();
  const { r } = launch(inputs);
  assert.equal(toHex(r.measurement), toHex(expectedMeasurement(inputs)));
  assert.equal(r.pages, launchPageCount(inputs));
});

test("the expected measurement is stable for the same inputs", () => {
  assert.equal(toHex(expectedMeasurement(fakeInputs())), toHex(expectedMeasurement(fakeInputs())));
});

test("the expected measurement changes with every input", () => {
  const base = toHex(expectedMeasurement(fakeInputs()));
  const variants: Record<string, Partial<LaunchInputs>> = {
    vcpus: { vcpus: 3 },
    memory: { memoryBytes: 66n * MIB },
    "agent image (one byte)": { agentImage: fakeImage("fake agent imagf") },
    "agent config (owner key, v0 flag: any byte)": { agentConfig: new TextEncoder().encode("fake confih") },
    "VMPL1 VMSA": { vmsaPage: (vmpl) => (vmpl === 1 ? fakeVmsaPage(0).fill(1, 0x800, 0x801) : fakeVmsaPage(0)) },
  };
  const seen = new Set([base]);
  for (const [name, over] of Object.entries(variants)) {
    const m = toHex(expectedMeasurement(fakeInputs(over)));
    assert.ok(!seen.has(m), `changing ${name} must change the measurement`);
    seen.add(m);
  }
});

test("launch pre-grants guest RAM to VMPL1, leaves guest GHCBs and agent shared pages to the host", () => {
  const inputs = fakeInputs();
  const { m } = launch(inputs);
  const hv = m.hypervisor;
  const l = computeLayout(inputs);
  const ram = hv.rmpRead(gpa(0x300000));
  assert.equal(ram.assigned, true);
  assert.equal(ram.validated, true);
  assert.equal(ram.perms[1], RMP_PERM_RWX);
  for (const g of l.guestGhcb) assert.equal(hv.rmpRead(g).assigned, false);
  for (const g of [l.nic.control, l.nic.rx, l.nic.tx, l.msgRequest, l.msgResponse, ...l.agentGhcb]) assert.equal(hv.rmpRead(g).assigned, false);
  for (const g of [l.image, l.config, l.secrets, l.heap]) {
    const e = hv.rmpRead(g);
    assert.equal(e.assigned, true);
    assert.equal(e.perms[1], 0, "VMPL1 has no rights on the agent's pages");
  }
  for (const g of [...l.vmsa0, ...l.vmsa1]) assert.equal(hv.rmpRead(g).vmsa, true);
});

test("the host sees ciphertext where it loaded the agent image", () => {
  const inputs = fakeInputs();
  const { m } = launch(inputs);
  const l = computeLayout(inputs);
  const seen = m.hypervisor.read(l.image, 64);
  assert.ok(!bytesEqual(seen, inputs.agentImage.subarray(0, 64)));
});

test("a launch the firmware refuses ends in LAUNCH_FAILED naming the step", () => {
  const bad = fakeInputs({ vmsaPage: () => new Uint8Array(4096) }); // SEV_FEATURES without SNP_ACTIVE
  assert.throws(
    () => launch(bad),
    (e: unknown) => e instanceof HostError && e.code === "LAUNCH_FAILED" && String(e.details.step).includes("vmsa"),
  );
});

test("launch refuses inputs that do not match the machine", () => {
  const m = createMachine({ memoryBytes: 64n * MIB, vcpus: 1, seed: "x", clock });
  assert.throws(() => launchCvm(m.hypervisor, fakeInputs()), (e: unknown) => e instanceof HostError && e.code === "BAD_OPTION");
});

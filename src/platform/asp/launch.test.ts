import { test } from "node:test";
import assert from "node:assert/strict";
import { gpa, PAGE_SIZE, readU32, toHex } from "../../shared/base/index.js";
import { QEMU_BSP_EIP, QEMU_DEFAULT_SEV_FEATURES, VMSA, qemuResetVmsa, vmsaPage } from "../../shared/spec/index.js";
import { PlatformError } from "../fault.js";
import { SEV_RET } from "./firmware-status.js";
import { createSecureProcessor } from "./index.js";
import { FakeHardware, testConfig } from "./testing/fake-hardware.js";

// SNP.md §3.4, copied by hand.
const GOLDEN = [
  "d9ee416942ec5db1caf25b01cff7feaed0d7ac42422f811c6164e4857e3f800d270202f572ade105c96b3959107b8521",
  "41abe912edf6b601e54bc0ee72b38a80d58e75adc5139d3ea845d3c77ae30a3c1b3fd0bc3759ff4dc65b5d514cecff49",
  "7f09e6b6c18b6097c7aec9e7879e3db118800342c9294d93be972998b3af9b6b4a8c4a4c68ea38b5263521e0b4da3120",
  "271d909c674498e7d895524848ea5160ba379701c8a7a68e24c1a42a9157b47125711f1172b05b60f651dae1b5913719",
  "6a342c6919f9a677fb17f0ac036b8beecc66308c3ee65bba75ac36b68cfa7f7b25018bfaec63b7aef15560adb1650288",
];
const GOLDEN_VMPL1_PERMS_0F = "7539c8c1899f7e619fa4558b7eea8bf0f18cbba51b5b205fe1ef3cb4042494d0bfe1e9f665cd6114d187c2873b2f8cbc";

function ramp(): Uint8Array {
  const p = new Uint8Array(PAGE_SIZE);
  for (let i = 0; i < PAGE_SIZE; i++) p[i] = i % 256;
  return p;
}

function qemuVmsa(): Uint8Array {
  return vmsaPage(qemuResetVmsa({ eip: QEMU_BSP_EIP, sevFeatures: QEMU_DEFAULT_SEV_FEATURES, rdx: 0x00800f12n }));
}

function setup() {
  const hw = new FakeHardware();
  const asp = createSecureProcessor(hw, testConfig());
  return { hw, asp };
}

function assertAspError(fn: () => unknown, status: number): void {
  assert.throws(fn, (e: unknown) => e instanceof PlatformError && e.code === "ASP_ERROR" && e.details.status === status);
}

function assertCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof PlatformError && e.code === code);
}

test("LAUNCH_UPDATE reproduces every golden digest of SNP.md §3.4 (NORMAL, ZERO, SECRETS, CPUID, VMSA)", () => {
  const { hw, asp } = setup();
  asp.launchStart({ policy: 0x30000n });
  assert.equal(toHex(asp.launchDigest), "00".repeat(48));
  hw.hostWrite(0x1000n, ramp());
  hw.hostWrite(0x2000n, new Uint8Array(PAGE_SIZE).fill(0xaa)); // ZERO pages are zero-filled by the firmware
  hw.hostWrite(0x5000n, qemuVmsa());
  const steps = [
    asp.launchUpdate({ gpa: gpa(0x1000), type: "normal" }),
    asp.launchUpdate({ gpa: gpa(0x2000), type: "zero" }),
    asp.launchUpdate({ gpa: gpa(0x3000), type: "secrets" }),
    asp.launchUpdate({ gpa: gpa(0x4000), type: "cpuid" }),
    asp.launchUpdate({ gpa: gpa(0x5000), type: "vmsa" }), // measured at GPA 0xFFFFFFFFF000, not 0x5000
  ];
  assert.deepEqual(steps.map(toHex), GOLDEN);
  assert.equal(toHex(asp.launchDigest), GOLDEN[4]);
  assert.deepEqual(hw.readPage(gpa(0x2000)), new Uint8Array(PAGE_SIZE));
  assert.deepEqual(
    hw.assigned.map((a) => [Number(a.gpa), a.vmsa]),
    [[0x1000, false], [0x2000, false], [0x3000, false], [0x4000, false], [0x5000, true]],
  );
  assert.equal(hw.rmpGet(gpa(0x5000)).vmsa, true);
  assert.equal(hw.rmpGet(gpa(0x1000)).validated, true);
});

test("the VMPL1_PERMS variant of SNP.md §3.4: perms enter PAGE_INFO and the RMP", () => {
  const { hw, asp } = setup();
  asp.launchStart({ policy: 0x30000n });
  hw.hostWrite(0x1000n, ramp());
  const d = asp.launchUpdate({ gpa: gpa(0x1000), type: "normal", vmplPerms: [0x0f, 0, 0] });
  assert.equal(toHex(d), GOLDEN_VMPL1_PERMS_0F);
  assert.deepEqual(hw.rmpGet(gpa(0x1000)).perms, [0x1f, 0x0f, 0, 0]);
});

test("UNMEASURED pages leave their contents and contribute zero CONTENTS", () => {
  const { hw, asp } = setup();
  asp.launchStart({ policy: 0x30000n });
  hw.hostWrite(0x7000n, new Uint8Array([1, 2, 3]));
  const a = asp.launchUpdate({ gpa: gpa(0x7000), type: "unmeasured" });
  const other = setup();
  other.asp.launchStart({ policy: 0x30000n });
  assert.deepEqual(other.asp.launchUpdate({ gpa: gpa(0x7000), type: "unmeasured" }), a);
  assert.deepEqual(hw.readPage(gpa(0x7000)).subarray(0, 3), new Uint8Array([1, 2, 3]));
});

test("the SECRETS page holds version, FMS, GOSVW and four distinct seeded VMPCKs (SNP.md §6.4)", () => {
  const { hw, asp } = setup();
  const gosvw = new Uint8Array(16).fill(0x5a);
  asp.launchStart({ policy: 0x30000n, gosvw });
  asp.launchUpdate({ gpa: gpa(0x3000), type: "secrets" });
  const page = hw.readPage(gpa(0x3000));
  assert.equal(readU32(page, 0), 3);
  assert.equal(readU32(page, 8), 0x00a00f11);
  assert.deepEqual(page.subarray(0x10, 0x20), gosvw);
  const keys = [0x20, 0x40, 0x60, 0x80].map((o) => toHex(page.subarray(o, o + 32)));
  assert.equal(new Set(keys).size, 4);
  assert.ok(keys.every((k) => k !== "00".repeat(32)));
  assert.ok(page.subarray(0xa0).every((b) => b === 0), "OS area and the rest are zero");
  // Same seed → same VMPCKs.
  const again = setup();
  again.asp.launchStart({ policy: 0x30000n, gosvw });
  again.asp.launchUpdate({ gpa: gpa(0x3000), type: "secrets" });
  assert.deepEqual(again.hw.readPage(gpa(0x3000)), page);
});

test("commands in the wrong state fail with LAUNCH_STATE", () => {
  const { asp } = setup();
  assertCode(() => asp.launchUpdate({ gpa: gpa(0x1000), type: "zero" }), "LAUNCH_STATE");
  assertCode(() => asp.launchFinish({}), "LAUNCH_STATE");
  asp.launchStart({ policy: 0x30000n });
  assertCode(() => asp.launchStart({ policy: 0x30000n }), "LAUNCH_STATE");
  asp.launchFinish({});
  assertCode(() => asp.launchUpdate({ gpa: gpa(0x1000), type: "zero" }), "LAUNCH_STATE");
  assertCode(() => asp.launchFinish({}), "LAUNCH_STATE");
  assertCode(() => asp.launchStart({ policy: 0x30000n }), "LAUNCH_STATE");
});

test("LAUNCH_START checks policy bit 17, the reserved bits and the ABI version", () => {
  const { asp } = setup();
  assertAspError(() => asp.launchStart({ policy: 0x10000n }), SEV_RET.POLICY_FAILURE);
  assertAspError(() => asp.launchStart({ policy: 0x30000n | (1n << 26n) }), SEV_RET.POLICY_FAILURE);
  assertAspError(() => asp.launchStart({ policy: 0x30000n | (1n << 63n) }), SEV_RET.POLICY_FAILURE);
  assertAspError(() => asp.launchStart({ policy: 0x30000n | (2n << 8n) }), SEV_RET.POLICY_FAILURE); // needs ABI 2.0
  assertAspError(() => asp.launchStart({ policy: 0x30000n | (1n << 8n) | 56n }), SEV_RET.POLICY_FAILURE); // 1.56 > 1.55
  assertCode(() => asp.launchStart({ policy: 1n << 64n }), "BAD_ARGUMENT");
  assertCode(() => asp.launchStart({ policy: 0x30000n, gosvw: new Uint8Array(15) }), "BAD_ARGUMENT");
  asp.launchStart({ policy: 0x30000n | (1n << 8n) | 55n | (1n << 19n) }); // ABI 1.55 and DEBUG are accepted
});

test("LAUNCH_UPDATE refuses pages that are not hypervisor-owned, bad GPAs and bad perms, and changes nothing", () => {
  const { hw, asp } = setup();
  asp.launchStart({ policy: 0x30000n });
  asp.launchUpdate({ gpa: gpa(0x1000), type: "zero" });
  const before = asp.launchDigest;
  assertAspError(() => asp.launchUpdate({ gpa: gpa(0x1000), type: "zero" }), SEV_RET.INVALID_PAGE_STATE);
  assertCode(() => asp.launchUpdate({ gpa: gpa(0x1008), type: "zero" }), "BAD_GPA");
  assertCode(() => asp.launchUpdate({ gpa: gpa(hw.memoryBytes), type: "zero" }), "BAD_GPA");
  assertCode(() => asp.launchUpdate({ gpa: gpa(0x2000), type: "zero", vmplPerms: [0x20, 0, 0] }), "BAD_ARGUMENT");
  hw.hostWrite(0x3000n, qemuVmsa());
  assertAspError(() => asp.launchUpdate({ gpa: gpa(0x3000), type: "vmsa", vmplPerms: [1, 0, 0] }), SEV_RET.INVALID_PARAM);
  assert.deepEqual(asp.launchDigest, before);
  assert.equal(hw.assigned.length, 1);
});

test("LAUNCH_UPDATE(VMSA) refuses a save area without SNPActive or with VMPL > 3", () => {
  const { hw, asp } = setup();
  asp.launchStart({ policy: 0x30000n });
  const v = qemuResetVmsa({ eip: QEMU_BSP_EIP, sevFeatures: 0x20n, rdx: 0n });
  hw.hostWrite(0x3000n, vmsaPage(v));
  assertAspError(() => asp.launchUpdate({ gpa: gpa(0x3000), type: "vmsa" }), SEV_RET.INVALID_PARAM);
  const w = qemuResetVmsa({ eip: QEMU_BSP_EIP, sevFeatures: 0x21n, rdx: 0n });
  w.vmpl = 4;
  hw.hostWrite(0x4000n, vmsaPage(w));
  assertAspError(() => asp.launchUpdate({ gpa: gpa(0x4000), type: "vmsa" }), SEV_RET.INVALID_PARAM);
  w.vmpl = 1;
  hw.hostWrite(0x4000n, vmsaPage(w));
  asp.launchUpdate({ gpa: gpa(0x4000), type: "vmsa" });
  assert.equal(hw.readPage(gpa(0x4000))[VMSA.offsetOf("vmpl")], 1);
});

test("LAUNCH_UPDATE(CPUID) accepts a table of up to 64 entries", () => {
  const { hw, asp } = setup();
  asp.launchStart({ policy: 0x30000n });
  hw.hostWrite(0x4000n, new Uint8Array([65, 0, 0, 0]));
  assertAspError(() => asp.launchUpdate({ gpa: gpa(0x4000), type: "cpuid" }), SEV_RET.INVALID_PARAM);
  hw.hostWrite(0x4000n, new Uint8Array([64, 0, 0, 0]));
  asp.launchUpdate({ gpa: gpa(0x4000), type: "cpuid" });
});

test("LAUNCH_FINISH checks HOST_DATA and the ID block / ID_AUTH pairing", () => {
  const { asp } = setup();
  asp.launchStart({ policy: 0x30000n });
  assertCode(() => asp.launchFinish({ hostData: new Uint8Array(31) }), "BAD_ARGUMENT");
  assertCode(() => asp.launchFinish({ idBlock: new Uint8Array(0x60) }), "BAD_ARGUMENT");
  assertAspError(() => asp.launchFinish({ idBlock: new Uint8Array(0x60), idAuth: new Uint8Array(0x1000) }), SEV_RET.INVALID_PARAM);
  asp.launchFinish({ hostData: new Uint8Array(32).fill(1) });
});

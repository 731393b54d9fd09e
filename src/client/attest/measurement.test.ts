import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { toHex } from "../../shared/base/index.js";
import { qemuResetVmsa, vmsaPage } from "../../shared/spec/index.js";
import { computeLaunchMeasurement, MeasurementInputError, type LaunchPage } from "./measurement.js";

// SNP.md §3.4, copied by hand.
const GOLDEN = [
  "d9ee416942ec5db1caf25b01cff7feaed0d7ac42422f811c6164e4857e3f800d270202f572ade105c96b3959107b8521",
  "41abe912edf6b601e54bc0ee72b38a80d58e75adc5139d3ea845d3c77ae30a3c1b3fd0bc3759ff4dc65b5d514cecff49",
  "7f09e6b6c18b6097c7aec9e7879e3db118800342c9294d93be972998b3af9b6b4a8c4a4c68ea38b5263521e0b4da3120",
  "271d909c674498e7d895524848ea5160ba379701c8a7a68e24c1a42a9157b47125711f1172b05b60f651dae1b5913719",
  "6a342c6919f9a677fb17f0ac036b8beecc66308c3ee65bba75ac36b68cfa7f7b25018bfaec63b7aef15560adb1650288",
];
const VMSA_SHA384 = "ae79efa6efbe1594a2717dfd42af495a0e4ed37b00e529a5fdf349bea04c3513962ffb0c74cf65b0d9a1857271833d6e";
const VMPL1_0F = "7539c8c1899f7e619fa4558b7eea8bf0f18cbba51b5b205fe1ef3cb4042494d0bfe1e9f665cd6114d187c2873b2f8cbc";

const ramp = (): Uint8Array => Uint8Array.from({ length: 4096 }, (_, i) => i % 256);

const PAGES: LaunchPage[] = [
  { gpa: 0x1000n, type: "normal", contents: ramp() },
  { gpa: 0x2000n, type: "zero" },
  { gpa: 0x3000n, type: "secrets" },
  { gpa: 0x4000n, type: "cpuid" },
];

function bspVmsa(): Uint8Array {
  return vmsaPage(qemuResetVmsa({ eip: 0xffff_fff0, sevFeatures: 0x21n, rdx: 0x0080_0f12n }));
}

test("the SNP.md §3.4 synthetic launch: every step's digest", () => {
  const vmsa = bspVmsa();
  assert.equal(createHash("sha384").update(vmsa).digest("hex"), VMSA_SHA384);
  const r = computeLaunchMeasurement(PAGES, [vmsa]);
  assert.deepEqual(r.steps.map(toHex), GOLDEN);
  assert.equal(toHex(r.measurement), GOLDEN[4]);
});

test("a VMSA given as a page of type vmsa is the same as one given in vmsaPages", () => {
  const r = computeLaunchMeasurement([...PAGES, { gpa: 0x9000n, type: "vmsa", contents: bspVmsa() }]);
  assert.equal(toHex(r.measurement), GOLDEN[4]);
});

test("VMPL1 permissions are measured (SNP.md §3.4 second vector)", () => {
  const r = computeLaunchMeasurement([{ gpa: 0x1000n, type: "normal", contents: ramp(), vmplPerms: [0x0f, 0, 0] }]);
  assert.equal(toHex(r.measurement), VMPL1_0F);
});

test("order, contents and GPA change the measurement", () => {
  const base = toHex(computeLaunchMeasurement(PAGES).measurement);
  assert.notEqual(toHex(computeLaunchMeasurement([...PAGES].reverse()).measurement), base);
  const c = ramp();
  c[4095]! ^= 1;
  assert.notEqual(toHex(computeLaunchMeasurement([{ ...PAGES[0]!, contents: c }, ...PAGES.slice(1)]).measurement), base);
  assert.notEqual(toHex(computeLaunchMeasurement([{ ...PAGES[0]!, gpa: 0x5000n }, ...PAGES.slice(1)]).measurement), base);
  assert.equal(computeLaunchMeasurement([]).measurement.length, 48);
});

test("bad input is a typed error naming the step", () => {
  for (const bad of [
    [{ gpa: 0x1000n, type: "normal" }],
    [{ gpa: 0x1001n, type: "zero" }],
    [{ gpa: 0x1000n, type: "normal", contents: new Uint8Array(100) }],
    [{ gpa: 0x1000n, type: "zero", vmplPerms: [256, 0, 0] }],
  ] as LaunchPage[][]) {
    assert.throws(() => computeLaunchMeasurement(bad), (e: unknown) => e instanceof MeasurementInputError && e.code === "MEASUREMENT_INPUT_INVALID" && e.details["index"] === 0);
  }
});

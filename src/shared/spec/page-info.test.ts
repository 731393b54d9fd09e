import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { toHex } from "../base/index.js";
import {
  PAGE_INFO,
  PAGE_TYPE,
  VMSA_MEASURED_GPA,
  initialLaunchDigest,
  launchDigest,
  launchDigestExtend,
  pageInfoBytes,
} from "./page-info.js";
import { QEMU_BSP_EIP, QEMU_DEFAULT_SEV_FEATURES, qemuResetVmsa, vmsaPage } from "./qemu-vmsa.js";
import { VMSA } from "./vmsa.js";

test("PAGE_INFO offsets, page types and the VMSA GPA match SNP.md §3.2/§3.3", () => {
  assert.equal(PAGE_INFO.size, 0x70);
  const hand: [string, number, number][] = [
    ["digestCur", 0x00, 48], ["contents", 0x30, 48], ["length", 0x60, 2], ["pageType", 0x62, 1], ["imiPage", 0x63, 1],
    ["vmpl3Perms", 0x64, 1], ["vmpl2Perms", 0x65, 1], ["vmpl1Perms", 0x66, 1], ["reserved_0x67", 0x67, 1], ["gpa", 0x68, 8],
  ];
  for (const [n, o, s] of hand) assert.deepEqual([PAGE_INFO.field(n).offset, PAGE_INFO.field(n).size], [o, s], n);
  assert.deepEqual(PAGE_TYPE, { NORMAL: 1, VMSA: 2, ZERO: 3, UNMEASURED: 4, SECRETS: 5, CPUID: 6 });
  assert.equal(VMSA_MEASURED_GPA, 0xffff_ffff_f000n);
});

// SNP.md §3.4, copied by hand.
const GOLDEN = {
  step1: "d9ee416942ec5db1caf25b01cff7feaed0d7ac42422f811c6164e4857e3f800d270202f572ade105c96b3959107b8521",
  step2: "41abe912edf6b601e54bc0ee72b38a80d58e75adc5139d3ea845d3c77ae30a3c1b3fd0bc3759ff4dc65b5d514cecff49",
  step3: "7f09e6b6c18b6097c7aec9e7879e3db118800342c9294d93be972998b3af9b6b4a8c4a4c68ea38b5263521e0b4da3120",
  step4: "271d909c674498e7d895524848ea5160ba379701c8a7a68e24c1a42a9157b47125711f1172b05b60f651dae1b5913719",
  step5: "6a342c6919f9a677fb17f0ac036b8beecc66308c3ee65bba75ac36b68cfa7f7b25018bfaec63b7aef15560adb1650288",
  vmsaPage: "ae79efa6efbe1594a2717dfd42af495a0e4ed37b00e529a5fdf349bea04c3513962ffb0c74cf65b0d9a1857271833d6e",
  vmpl1Perms0f: "7539c8c1899f7e619fa4558b7eea8bf0f18cbba51b5b205fe1ef3cb4042494d0bfe1e9f665cd6114d187c2873b2f8cbc",
};

function rampPage(): Uint8Array {
  const p = new Uint8Array(4096);
  for (let i = 0; i < 4096; i++) p[i] = i % 256;
  return p;
}

function goldenVmsa(): Uint8Array {
  return vmsaPage(qemuResetVmsa({ eip: 0xffff_fff0, sevFeatures: 0x21n, rdx: 0x0080_0f12n }));
}

test("golden launch digests of SNP.md §3.4, steps 1–5 chained", () => {
  const none = [0, 0, 0] as const;
  let d = initialLaunchDigest();
  d = launchDigestExtend(d, { type: "normal", gpa: 0x1000n, contents: rampPage(), vmplPerms: none });
  assert.equal(toHex(d), GOLDEN.step1);
  d = launchDigestExtend(d, { type: "zero", gpa: 0x2000n, vmplPerms: none });
  assert.equal(toHex(d), GOLDEN.step2);
  d = launchDigestExtend(d, { type: PAGE_TYPE.SECRETS, gpa: 0x3000n, vmplPerms: none });
  assert.equal(toHex(d), GOLDEN.step3);
  d = launchDigestExtend(d, { type: "cpuid", gpa: 0x4000n, vmplPerms: none });
  assert.equal(toHex(d), GOLDEN.step4);
  // The VMSA's own GPA does not matter: it is measured at 0xFFFFFFFFF000.
  d = launchDigestExtend(d, { type: "vmsa", gpa: 0x5000n, contents: goldenVmsa(), vmplPerms: none });
  assert.equal(toHex(d), GOLDEN.step5);
});

test("golden: SHA-384 of the QEMU reset VMSA page alone", () => {
  assert.equal(createHash("sha384").update(goldenVmsa()).digest("hex"), GOLDEN.vmsaPage);
  assert.equal(QEMU_BSP_EIP, 0xfffffff0);
  assert.equal(QEMU_DEFAULT_SEV_FEATURES, 0x21n);
});

test("golden: one NORMAL page with VMPL1_PERMS = 0x0F", () => {
  const d = launchDigestExtend(initialLaunchDigest(), { type: "normal", gpa: 0x1000n, contents: rampPage(), vmplPerms: [0x0f, 0, 0] });
  assert.equal(toHex(d), GOLDEN.vmpl1Perms0f);
  // launchDigest folds the same rule.
  assert.equal(toHex(launchDigest([{ type: "normal", gpa: 0x1000n, contents: rampPage(), vmplPerms: [0x0f, 0, 0] }])), GOLDEN.vmpl1Perms0f);
});

test("PAGE_INFO bytes: perms order p3,p2,p1 at 0x64..0x66, zero contents for unmeasured types, IMI bit", () => {
  const prev = new Uint8Array(48).fill(0xaa);
  const pi = pageInfoBytes(prev, { type: "unmeasured", gpa: 0x7000n, contents: rampPage(), vmplPerms: [1, 2, 3], imi: true });
  assert.equal(pi.length, 0x70);
  assert.equal(toHex(pi.subarray(0, 48)), "aa".repeat(48));
  assert.equal(toHex(pi.subarray(0x30, 0x60)), "00".repeat(48));
  assert.equal(toHex(pi.subarray(0x60, 0x70)), "7000" + "04" + "01" + "03" + "02" + "01" + "00" + "0070000000000000");
  const vm = pageInfoBytes(prev, { type: "vmsa", gpa: 0x7000n, contents: goldenVmsa(), vmplPerms: [0, 0, 0] });
  assert.equal(toHex(vm.subarray(0x68)), "00f0ffffffff0000");
});

test("bad launch inputs are RangeErrors", () => {
  const z = initialLaunchDigest();
  assert.throws(() => launchDigestExtend(z, { type: "normal", gpa: 0x1000n, vmplPerms: [0, 0, 0] }), RangeError);
  assert.throws(() => launchDigestExtend(z, { type: "normal", gpa: 0x1000n, contents: new Uint8Array(10), vmplPerms: [0, 0, 0] }), RangeError);
  assert.throws(() => launchDigestExtend(z, { type: "zero", gpa: 0x1001n, vmplPerms: [0, 0, 0] }), RangeError);
  assert.throws(() => launchDigestExtend(new Uint8Array(32), { type: "zero", gpa: 0x1000n, vmplPerms: [0, 0, 0] }), RangeError);
  assert.throws(() => launchDigestExtend(z, { type: 7 as never, gpa: 0x1000n, vmplPerms: [0, 0, 0] }), RangeError);
  assert.throws(() => launchDigestExtend(z, { type: "zero", gpa: 0x1000n, vmplPerms: [256, 0, 0] }), RangeError);
});

test("QEMU reset VMSA fields of SNP.md §3.3", () => {
  const v = qemuResetVmsa({ eip: 0x0080_b004, sevFeatures: 0x1n, rdx: 0x00a0_0f11n });
  assert.deepEqual([v.cs_selector, v.cs_attrib, v.cs_limit, v.cs_base], [0xf000, 0x9b, 0xffff, 0x0080_0000n]);
  assert.equal(v.rip, 0xb004n);
  for (const s of ["es", "ss", "ds", "fs", "gs"] as const) assert.deepEqual([v[`${s}_attrib`], v[`${s}_limit`]], [0x93, 0xffff]);
  assert.deepEqual([v.ldtr_attrib, v.tr_attrib, v.gdtr_attrib, v.idtr_limit], [0x82, 0x8b, 0, 0xffff]);
  assert.deepEqual([v.efer, v.cr4, v.cr0, v.dr7, v.dr6, v.rflags], [0x1000n, 0x40n, 0x10n, 0x400n, 0xffff0ff0n, 2n]);
  assert.deepEqual([v.g_pat, v.rdx, v.sev_features, v.xcr0, v.mxcsr, v.x87_fcw], [0x0007040600070406n, 0x00a00f11n, 1n, 1n, 0x1f80, 0x37f]);
  const page = vmsaPage(v);
  assert.equal(page.length, 4096);
  assert.equal(toHex(page.subarray(0x670)), "00".repeat(4096 - 0x670));
  assert.deepEqual(VMSA.parse(page), v);
});

// Unit tests of the report's flag words: guest policy (§1.2), signer info (§1 row 0x048),
// platform info (§1.3) and TCB_VERSION (§1.4). Bit positions copied by hand from SNP.md.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  GUEST_POLICY,
  GUEST_POLICY_MBO,
  GUEST_POLICY_RESERVED_MASK,
  decodeGuestPolicy,
  encodeGuestPolicy,
  validatePolicyBits,
} from "./guest-policy.js";
import { SIGNING_KEY, decodeSignerInfo, encodeSignerInfo } from "./signer-info.js";
import { PLATFORM_INFO, PLATFORM_INFO_RESERVED_MASK, decodePlatformInfo, encodePlatformInfo } from "./platform-info.js";
import { compareTcb, decodeTcbVersion, encodeTcbVersion, tcbAtLeast, tcbReservedMask } from "./tcb-version.js";

test("guest policy bits match SNP.md §1.2", () => {
  const hand: [keyof typeof GUEST_POLICY, number, number][] = [
    ["ABI_MINOR", 0, 8], ["ABI_MAJOR", 8, 8], ["SMT", 16, 1], ["RESERVED_MBO", 17, 1], ["MIGRATE_MA", 18, 1],
    ["DEBUG", 19, 1], ["SINGLE_SOCKET", 20, 1], ["CXL_ALLOW", 21, 1], ["MEM_AES_256_XTS", 22, 1], ["RAPL_DIS", 23, 1],
    ["CIPHERTEXT_HIDING", 24, 1], ["PAGE_SWAP_DISABLE", 25, 1], ["RESERVED", 26, 38],
  ];
  for (const [k, bit, width] of hand) assert.deepEqual([GUEST_POLICY[k].bit, GUEST_POLICY[k].width], [bit, width], k);
  assert.equal(GUEST_POLICY_MBO, 0x20000n);
  assert.equal(GUEST_POLICY_RESERVED_MASK, 0xffff_ffff_fc00_0000n);
});

test("guest policy decode/encode on the vector values", () => {
  const gsg = decodeGuestPolicy(0xb0000n);
  assert.equal(gsg.debug, true);
  assert.equal(gsg.smt, true);
  assert.equal(gsg.migrateMa, false);
  const trustee = decodeGuestPolicy(0x3001fn);
  assert.deepEqual([trustee.abiMajor, trustee.abiMinor, trustee.debug], [0, 31, false]);
  assert.equal(encodeGuestPolicy({ smt: true }), 0x30000n);
  assert.equal(encodeGuestPolicy({ smt: true, debug: true }), 0xb0000n);
  assert.equal(encodeGuestPolicy({ smt: true, abiMinor: 31 }), 0x3001fn);
  assert.equal(encodeGuestPolicy({}), 0x20000n);
  for (const v of [0x30000n, 0xb0000n, 0x3001fn, 0x3ff_ffffn]) assert.equal(encodeGuestPolicy(decodeGuestPolicy(v)), v);
  assert.throws(() => encodeGuestPolicy({ abiMajor: 256 }), RangeError);
});

test("validatePolicyBits flags bit 17 = 0 and reserved bits", () => {
  assert.deepEqual(validatePolicyBits(0x30000n), []);
  assert.deepEqual(validatePolicyBits(0x10000n), [{ code: "POLICY_BIT17_CLEAR", mask: 0x20000n }]);
  assert.deepEqual(validatePolicyBits(0x4030000n), [{ code: "POLICY_RESERVED_BITS_SET", mask: 0x4000000n }]);
  assert.deepEqual(validatePolicyBits(1n << 63n).map((i) => i.code), ["POLICY_BIT17_CLEAR", "POLICY_RESERVED_BITS_SET"]);
});

test("signer info: bit0 AUTHOR_KEY_EN, bit1 MASK_CHIP_KEY, bits 4:2 SIGNING_KEY", () => {
  assert.deepEqual(SIGNING_KEY, { VCEK: 0, VLEK: 1, NONE: 7 });
  assert.deepEqual(decodeSignerInfo(0x4), { authorKeyEn: false, maskChipKey: false, signingKey: 1, signingKeyName: "vlek" });
  assert.deepEqual(decodeSignerInfo(0x0).signingKeyName, "vcek");
  assert.deepEqual(decodeSignerInfo(0x1c | 0x3), { authorKeyEn: true, maskChipKey: true, signingKey: 7, signingKeyName: "none" });
  assert.equal(decodeSignerInfo(0x8).signingKeyName, "reserved");
  assert.equal(encodeSignerInfo({ signingKey: 1 }), 0x4);
  assert.equal(encodeSignerInfo({ authorKeyEn: true, maskChipKey: true, signingKey: 7 }), 0x1f);
  assert.throws(() => encodeSignerInfo({ signingKey: 8 }), RangeError);
});

test("platform info bits match SNP.md §1.3 and decode the seen values", () => {
  assert.deepEqual(
    Object.values(PLATFORM_INFO).map((s) => s.bit),
    [0, 1, 2, 3, 4, 5, 7],
  );
  assert.equal(PLATFORM_INFO_RESERVED_MASK & 0xffn, 0x40n);
  assert.equal(PLATFORM_INFO_RESERVED_MASK >> 8n, (1n << 56n) - 1n);
  const aws = decodePlatformInfo(0x27n);
  assert.deepEqual(aws, { smtEn: true, tsmeEn: true, eccEn: true, raplDis: false, ciphertextHidingDramEn: false, aliasCheckComplete: true, sevTioEn: false });
  assert.equal(decodePlatformInfo(0x25n).tsmeEn, false);
  assert.equal(encodePlatformInfo(aws), 0x27n);
  assert.equal(encodePlatformInfo({ sevTioEn: true }), 0x80n);
});

test("TCB_VERSION byte layouts of SNP.md §1.4", () => {
  // Milan/Genoa: bl byte 0, tee 1, snp 6, ucode 7 (e.g. the trustee VLEK report: 4/0/24/217).
  assert.deepEqual(decodeTcbVersion(0xd918_0000_0000_0004n, "milan"), { bootloader: 4, tee: 0, snp: 24, microcode: 217 });
  assert.deepEqual(decodeTcbVersion(0x1917_0000_0000_000an, "genoa"), { bootloader: 10, tee: 0, snp: 23, microcode: 25 });
  // Turin: fmc 0, bl 1, tee 2, snp 3, ucode 7.
  assert.deepEqual(decodeTcbVersion(0x4800_0000_0504_0301n, "turin"), { bootloader: 3, tee: 4, snp: 5, microcode: 0x48, fmc: 1 });
  assert.equal(encodeTcbVersion({ bootloader: 4, tee: 0, snp: 24, microcode: 217 }, "milan"), 0xd918_0000_0000_0004n);
  assert.equal(encodeTcbVersion({ bootloader: 3, tee: 4, snp: 5, microcode: 0x48, fmc: 1 }, "turin"), 0x4800_0000_0504_0301n);
  assert.throws(() => encodeTcbVersion({ bootloader: 1, tee: 0, snp: 0, microcode: 0, fmc: 1 }, "genoa"), RangeError);
  assert.throws(() => encodeTcbVersion({ bootloader: 256, tee: 0, snp: 0, microcode: 0 }, "milan"), RangeError);
  assert.equal(tcbReservedMask("milan"), 0x0000_ffff_ffff_0000n);
  assert.equal(tcbReservedMask("turin"), 0x00ff_ffff_0000_0000n);
});

test("TCB compare is component-wise", () => {
  const a = { bootloader: 3, tee: 0, snp: 8, microcode: 115 };
  assert.equal(compareTcb(a, a), "equal");
  assert.equal(compareTcb({ ...a, microcode: 116 }, a), "greater");
  assert.equal(compareTcb({ ...a, snp: 7 }, a), "less");
  assert.equal(compareTcb({ ...a, snp: 7, microcode: 200 }, a), "incomparable");
  assert.equal(tcbAtLeast({ ...a, snp: 9 }, a), true);
  assert.equal(tcbAtLeast({ ...a, snp: 7, microcode: 200 }, a), false);
  assert.equal(tcbAtLeast({ ...a, fmc: 1 }, { ...a, fmc: 2 }), false);
});

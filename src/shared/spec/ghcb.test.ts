// GHCB page (SNP.md §6.1), MSR protocol (§6.2), NAE exit codes (§6.3). Numbers copied by hand.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DecodeError } from "../base/index.js";
import {
  GHCB,
  NAE_EXIT,
  decodeApCreationInfo1,
  decodeGuestRequestResult,
  encodeApCreationInfo1,
  encodeGuestRequestResult,
  ghcbGet,
  ghcbInvalidate,
  ghcbIsValid,
  ghcbSet,
  ghcbValidBit,
} from "./ghcb.js";
import type { GhcbRegister } from "./ghcb.js";
import {
  GHCB_MSR,
  MSR_GHCB,
  decodeCpuidReq,
  decodeHvFeaturesResp,
  decodePscReq,
  decodePscResp,
  decodeRegisterGhcbResp,
  decodeRunVmplReq,
  decodeRunVmplResp,
  decodeSevInfoResp,
  decodeTerminateReq,
  encodeCpuidReq,
  encodeHvFeaturesResp,
  encodePscReq,
  encodeRegisterGhcbReq,
  encodeRegisterGhcbResp,
  encodeRunVmplReq,
  encodeSevInfoResp,
  encodeTerminateReq,
  ghcbMsrInfo,
} from "./ghcb-msr.js";

test("GHCB offsets (SNP.md §6.1)", () => {
  const hand: [string, number][] = [
    ["cpl", 0x0cb], ["xss", 0x140], ["dr7", 0x160], ["rip", 0x178], ["rsp", 0x1d8], ["rax", 0x1f8], ["rcx", 0x308],
    ["rdx", 0x310], ["rbx", 0x318], ["rbp", 0x328], ["r8", 0x340], ["r15", 0x378], ["sw_exit_code", 0x390],
    ["sw_exit_info_1", 0x398], ["sw_exit_info_2", 0x3a0], ["sw_scratch", 0x3a8], ["xcr0", 0x3e8], ["valid_bitmap", 0x3f0],
    ["x87_state_gpa", 0x400], ["shared_buffer", 0x800], ["protocol_version", 0xffa], ["ghcb_usage", 0xffc],
  ];
  assert.equal(GHCB.size, 4096);
  for (const [n, o] of hand) assert.equal(GHCB.field(n).offset, o, n);
  assert.equal(GHCB.field("shared_buffer").size, 0x7f0);
  assert.equal(GHCB.field("valid_bitmap").size, 16);
});

test("valid-bitmap bits (SNP.md §6.1)", () => {
  const hand: [GhcbRegister, number][] = [
    ["rax", 63], ["rbx", 99], ["rcx", 97], ["rdx", 98], ["sw_exit_code", 114], ["sw_exit_info_1", 115],
    ["sw_exit_info_2", 116], ["sw_scratch", 117], ["xcr0", 125],
  ];
  for (const [n, bit] of hand) assert.equal(ghcbValidBit(GHCB.offsetOf(n)), bit, n);
  const page = new Uint8Array(4096);
  ghcbSet(page, "sw_exit_code", BigInt(NAE_EXIT.GUEST_REQUEST));
  ghcbSet(page, "rax", 0x1234n);
  assert.equal(page[0x3f0 + 14]! & (1 << 2), 1 << 2, "bit 114 = byte 14 bit 2");
  assert.equal(page[0x3f0 + 7]! & 0x80, 0x80, "bit 63 = byte 7 bit 7");
  assert.equal(ghcbGet(page, "rax"), 0x1234n);
  assert.equal(ghcbGet(page, "rbx"), undefined);
  assert.equal(ghcbIsValid(page, "sw_exit_code"), true);
  ghcbInvalidate(page);
  assert.equal(ghcbGet(page, "sw_exit_code"), undefined);
  assert.equal(ghcbGet(page, "rax"), undefined);
  assert.equal(GHCB.parse(page).sw_exit_code, 0n);
  assert.equal(GHCB.parse(page).rax, 0x1234n, "invalidate leaves the value, clears only its bit");
  assert.throws(() => ghcbGet(new Uint8Array(100), "rax"), DecodeError);
});

test("NAE exit codes and info encodings (SNP.md §6.3)", () => {
  assert.deepEqual({ ...NAE_EXIT }, {
    PSC: 0x80000010, GUEST_REQUEST: 0x80000011, EXT_GUEST_REQUEST: 0x80000012, AP_CREATION: 0x80000013,
    GET_APIC_IDS: 0x80000017, SNP_RUN_VMPL: 0x80000018, HV_FEATURES: 0x8000fffd, TERM_REQUEST: 0x8000fffe,
  });
  assert.equal(encodeApCreationInfo1({ apicId: 3, vmpl: 1, op: 1 }), 0x0000_0003_0001_0001n);
  assert.deepEqual(decodeApCreationInfo1(0x0000_0003_0001_0001n), { apicId: 3, vmpl: 1, op: 1 });
  assert.equal(encodeGuestRequestResult({ vmmError: 1, fwError: 0 }), 1n << 32n);
  assert.deepEqual(decodeGuestRequestResult(0x1_0000_0016n), { vmmError: 1, fwError: 0x16 });
});

test("MSR protocol codes and field positions (SNP.md §6.2)", () => {
  assert.equal(MSR_GHCB, 0xc0010130);
  assert.deepEqual(
    [GHCB_MSR.SEV_INFO_REQ, GHCB_MSR.SEV_INFO_RESP, GHCB_MSR.CPUID_REQ, GHCB_MSR.CPUID_RESP, GHCB_MSR.AP_RESET_HOLD_REQ, GHCB_MSR.AP_RESET_HOLD_RESP,
      GHCB_MSR.REG_GPA_REQ, GHCB_MSR.REG_GPA_RESP, GHCB_MSR.PSC_REQ, GHCB_MSR.PSC_RESP, GHCB_MSR.RUN_VMPL_REQ, GHCB_MSR.RUN_VMPL_RESP,
      GHCB_MSR.HV_FEATURES_REQ, GHCB_MSR.HV_FEATURES_RESP, GHCB_MSR.TERM_REQ],
    [0x002, 0x001, 0x004, 0x005, 0x006, 0x007, 0x012, 0x013, 0x014, 0x015, 0x016, 0x017, 0x080, 0x081, 0x100],
  );
  // SEV info: max 63:48, min 47:32, C-bit 31:24.
  assert.equal(encodeSevInfoResp({ maxProtocol: 2, minProtocol: 1, cBit: 51 }), 0x0002_0001_3300_0001n);
  assert.deepEqual(decodeSevInfoResp(0x0002_0001_3300_0001n), { maxProtocol: 2, minProtocol: 1, cBit: 51 });
  // CPUID: fn 63:32, reg 31:30.
  assert.equal(encodeCpuidReq(0x8000_001f, 1), 0x8000_001f_4000_0004n);
  assert.deepEqual(decodeCpuidReq(0x8000_001f_4000_0004n), { fn: 0x8000001f, reg: 1 });
  // Register GHCB GPA: GFN 63:12.
  assert.equal(encodeRegisterGhcbReq(0x10n), 0x10012n);
  assert.equal(decodeRegisterGhcbResp(encodeRegisterGhcbResp(0x10n)), 0x10n);
  // PSC: op 55:52, GFN 51:12; response error 63:32.
  assert.equal(encodePscReq({ gfn: 0x123n, op: 2 }), 0x0020_0000_0012_3014n);
  assert.deepEqual(decodePscReq(0x0020_0000_0012_3014n), { gfn: 0x123n, op: 2 });
  assert.equal(decodePscResp(0x0000_0005_0000_0015n), 5);
  // Run at VMPL: VMPL 39:32; response 63:32.
  assert.equal(encodeRunVmplReq(0), 0x016n);
  assert.equal(encodeRunVmplReq(1), 0x1_0000_0016n);
  assert.equal(decodeRunVmplReq(0x1_0000_0016n), 1);
  assert.equal(decodeRunVmplResp(0x017n), 0);
  // HV features: bits 63:12.
  assert.equal(encodeHvFeaturesResp(3n), 0x3081n);
  assert.equal(decodeHvFeaturesResp(0x3081n), 3n);
  // Terminate: set 15:12, reason 23:16.
  assert.equal(encodeTerminateReq({ reasonSet: 1, reason: 3 }), 0x31100n);
  assert.deepEqual(decodeTerminateReq(0x31100n), { reasonSet: 1, reason: 3 });
  assert.equal(ghcbMsrInfo(0xabc_d000n), 0);
});

test("MSR decoders reject the wrong GHCBInfo with a DecodeError; encoders reject overflow", () => {
  assert.throws(() => decodeSevInfoResp(0x002n), { code: "BAD_GHCB_MSR_INFO" });
  assert.throws(() => decodeRunVmplResp(0x015n), (e: unknown) => e instanceof DecodeError && e.details["field"] === "ghcbInfo");
  assert.throws(() => encodeRunVmplReq(256), RangeError);
  assert.throws(() => encodePscReq({ gfn: 1n << 40n, op: 1 }), RangeError);
  assert.throws(() => encodeTerminateReq({ reasonSet: 16, reason: 0 }), RangeError);
});

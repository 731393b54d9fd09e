/**
 * The GHCB MSR protocol — SNP.md §6.2 (Linux arch/x86/include/asm/sev-common.h). The guest
 * writes a request to MSR 0xC0010130 and VMGEXITs; the hypervisor answers in the same MSR.
 * GHCBInfo = bits 11:0 says which request/response it is; a page-aligned GPA (info 0)
 * means "use the GHCB page". Decoders take untrusted (hypervisor-written) values and throw
 * DecodeError when the info code is not the expected response.
 */
import { DecodeError } from "../base/index.js";

export const MSR_GHCB = 0xc001_0130;
export const GHCB_MSR_INFO_MASK = 0xfffn;

export const GHCB_MSR = {
  SEV_INFO_RESP: 0x001,
  SEV_INFO_REQ: 0x002,
  CPUID_REQ: 0x004,
  CPUID_RESP: 0x005,
  AP_RESET_HOLD_REQ: 0x006,
  AP_RESET_HOLD_RESP: 0x007,
  REG_GPA_REQ: 0x012,
  REG_GPA_RESP: 0x013,
  PSC_REQ: 0x014,
  PSC_RESP: 0x015,
  RUN_VMPL_REQ: 0x016,
  RUN_VMPL_RESP: 0x017,
  HV_FEATURES_REQ: 0x080,
  HV_FEATURES_RESP: 0x081,
  TERM_REQ: 0x100,
} as const;

/** CPUID register selectors (request bits 31:30). */
export const GHCB_CPUID_REG = { EAX: 0, EBX: 1, ECX: 2, EDX: 3 } as const;
/** Page-state-change operations (request bits 55:52). */
export const GHCB_PSC_OP = { PRIVATE: 1, SHARED: 2 } as const;
/** HV features (response bits 63:12). */
export const GHCB_HV_FEATURE = { SNP: 1n << 0n, SNP_AP_CREATION: 1n << 1n } as const;

export function ghcbMsrInfo(v: bigint): number {
  return Number(BigInt.asUintN(64, v) & GHCB_MSR_INFO_MASK);
}

function field(v: bigint, lo: number, width: number): number {
  return Number((BigInt.asUintN(64, v) >> BigInt(lo)) & ((1n << BigInt(width)) - 1n));
}

function fits(name: string, x: number | bigint, width: number): bigint {
  const b = BigInt(x);
  if (b < 0n || b >= 1n << BigInt(width)) throw new RangeError(`${name} ${x} does not fit in ${width} bits`);
  return b;
}

function expectInfo(v: bigint, want: number, what: string): void {
  const got = ghcbMsrInfo(v);
  if (got !== want) {
    throw new DecodeError("BAD_GHCB_MSR_INFO", `${what}: GHCBInfo 0x${got.toString(16)}, expected 0x${want.toString(16)}`, {
      field: "ghcbInfo",
      value: got,
      expected: want,
    });
  }
}

// SEV information.
export interface SevInfo {
  readonly maxProtocol: number;
  readonly minProtocol: number;
  readonly cBit: number;
}
export function encodeSevInfoResp(i: SevInfo): bigint {
  return (fits("maxProtocol", i.maxProtocol, 16) << 48n) | (fits("minProtocol", i.minProtocol, 16) << 32n) | (fits("cBit", i.cBit, 8) << 24n) | BigInt(GHCB_MSR.SEV_INFO_RESP);
}
export function decodeSevInfoResp(v: bigint): SevInfo {
  expectInfo(v, GHCB_MSR.SEV_INFO_RESP, "SEV info response");
  return { maxProtocol: field(v, 48, 16), minProtocol: field(v, 32, 16), cBit: field(v, 24, 8) };
}

// CPUID.
export function encodeCpuidReq(fn: number, reg: number): bigint {
  return (fits("fn", fn, 32) << 32n) | (fits("reg", reg, 2) << 30n) | BigInt(GHCB_MSR.CPUID_REQ);
}
export function decodeCpuidReq(v: bigint): { fn: number; reg: number } {
  expectInfo(v, GHCB_MSR.CPUID_REQ, "CPUID request");
  return { fn: field(v, 32, 32), reg: field(v, 30, 2) };
}
export function encodeCpuidResp(value: number): bigint {
  return (fits("value", value, 32) << 32n) | BigInt(GHCB_MSR.CPUID_RESP);
}
export function decodeCpuidResp(v: bigint): number {
  expectInfo(v, GHCB_MSR.CPUID_RESP, "CPUID response");
  return field(v, 32, 32);
}

// Register GHCB GPA (required for SNP): GFN in 63:12.
export function encodeRegisterGhcbReq(gfn: bigint): bigint {
  return (fits("gfn", gfn, 52) << 12n) | BigInt(GHCB_MSR.REG_GPA_REQ);
}
export function encodeRegisterGhcbResp(gfn: bigint): bigint {
  return (fits("gfn", gfn, 52) << 12n) | BigInt(GHCB_MSR.REG_GPA_RESP);
}
export function decodeRegisterGhcbReq(v: bigint): bigint {
  expectInfo(v, GHCB_MSR.REG_GPA_REQ, "register-GHCB request");
  return BigInt.asUintN(64, v) >> 12n;
}
export function decodeRegisterGhcbResp(v: bigint): bigint {
  expectInfo(v, GHCB_MSR.REG_GPA_RESP, "register-GHCB response");
  return BigInt.asUintN(64, v) >> 12n;
}

// Page state change: op 55:52, GFN 51:12; response error 63:32.
export function encodePscReq(p: { gfn: bigint; op: number }): bigint {
  return (fits("op", p.op, 4) << 52n) | (fits("gfn", p.gfn, 40) << 12n) | BigInt(GHCB_MSR.PSC_REQ);
}
export function decodePscReq(v: bigint): { gfn: bigint; op: number } {
  expectInfo(v, GHCB_MSR.PSC_REQ, "PSC request");
  return { gfn: (BigInt.asUintN(64, v) >> 12n) & ((1n << 40n) - 1n), op: field(v, 52, 4) };
}
export function encodePscResp(error: number): bigint {
  return (fits("error", error, 32) << 32n) | BigInt(GHCB_MSR.PSC_RESP);
}
export function decodePscResp(v: bigint): number {
  expectInfo(v, GHCB_MSR.PSC_RESP, "PSC response");
  return field(v, 32, 32);
}

// Run at VMPL (SVSM calls): request VMPL in 39:32; response 63:32 = 0 ok.
export function encodeRunVmplReq(vmpl: number): bigint {
  return (fits("vmpl", vmpl, 8) << 32n) | BigInt(GHCB_MSR.RUN_VMPL_REQ);
}
export function decodeRunVmplReq(v: bigint): number {
  expectInfo(v, GHCB_MSR.RUN_VMPL_REQ, "run-at-VMPL request");
  return field(v, 32, 8);
}
export function encodeRunVmplResp(error: number): bigint {
  return (fits("error", error, 32) << 32n) | BigInt(GHCB_MSR.RUN_VMPL_RESP);
}
export function decodeRunVmplResp(v: bigint): number {
  expectInfo(v, GHCB_MSR.RUN_VMPL_RESP, "run-at-VMPL response");
  return field(v, 32, 32);
}

// HV features: response features in 63:12.
export function encodeHvFeaturesResp(features: bigint): bigint {
  return (fits("features", features, 52) << 12n) | BigInt(GHCB_MSR.HV_FEATURES_RESP);
}
export function decodeHvFeaturesResp(v: bigint): bigint {
  expectInfo(v, GHCB_MSR.HV_FEATURES_RESP, "HV features response");
  return BigInt.asUintN(64, v) >> 12n;
}

// Terminate: reason set 15:12, reason 23:16.
export function encodeTerminateReq(t: { reasonSet: number; reason: number }): bigint {
  return (fits("reason", t.reason, 8) << 16n) | (fits("reasonSet", t.reasonSet, 4) << 12n) | BigInt(GHCB_MSR.TERM_REQ);
}
export function decodeTerminateReq(v: bigint): { reasonSet: number; reason: number } {
  expectInfo(v, GHCB_MSR.TERM_REQ, "terminate request");
  return { reasonSet: field(v, 12, 4), reason: field(v, 16, 8) };
}

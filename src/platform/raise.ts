/**
 * Builders for the typed faults of the access path and the RMP instructions
 * (SNP.md §4.5): #NPF with its EXITINFO1 bits, guest #PF with the x86 error code,
 * #VC 0x404, #GP.
 */
import type { Gpa } from "../shared/base/index.js";
import { NPF_EXITINFO1, PF_ERROR, SVM_EXIT, VC_PAGE_NOT_VALIDATED, X86_VECTOR } from "../shared/spec/index.js";
import type { AccessKind } from "./fault.js";
import { CpuFault } from "./fault.js";

/** Access kinds as small integers on the hot path. */
export const K_READ = 0;
export const K_WRITE = 1;
export const K_FETCH = 2;
export type KindCode = typeof K_READ | typeof K_WRITE | typeof K_FETCH;

export function accessKind(kind: number, user: boolean): AccessKind {
  return kind === K_WRITE ? "write" : kind === K_FETCH ? (user ? "exec-user" : "exec-super") : "read";
}

/** EXITINFO1 bits that describe the access itself: W, U (CPL 3), FETCH. */
export function npfAccessBits(kind: number, user: boolean): bigint {
  let b = 0n;
  if (kind === K_WRITE) b |= NPF_EXITINFO1.W;
  if (kind === K_FETCH) b |= NPF_EXITINFO1.FETCH;
  if (user) b |= NPF_EXITINFO1.U;
  return b;
}

export function toBigGpa(g: number | bigint): Gpa {
  return BigInt(g) as Gpa;
}

export function vaOf(lo: number, hi: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo);
}

export function npf(
  gpa: number | bigint,
  errorCode: bigint,
  f: { access: AccessKind; vmpl: number; reason: string; va?: bigint | undefined },
): CpuFault {
  const base = { vector: SVM_EXIT.NPF, errorCode, gpa: toBigGpa(gpa), access: f.access, vmpl: f.vmpl, reason: f.reason };
  return new CpuFault("npf", f.va === undefined ? base : { ...base, va: f.va });
}

/** Guest #PF; `code` is the x86 error code (PF_ERROR bits). */
export function pf(va: bigint, code: number, f: { access: AccessKind; vmpl: number; reason: string }): CpuFault {
  return new CpuFault("pf", { vector: X86_VECTOR.PF, errorCode: BigInt(code >>> 0), va, access: f.access, vmpl: f.vmpl, reason: f.reason });
}

/** #PF error-code bits describing the access (W, U, I). `iEnabled`: EFER.NXE or CR4.SMEP. */
export function pfAccessBits(kind: number, user: boolean, iEnabled: boolean): number {
  let c = 0;
  if (kind === K_WRITE) c |= PF_ERROR.W;
  if (user) c |= PF_ERROR.U;
  if (kind === K_FETCH && iEnabled) c |= PF_ERROR.I;
  return c;
}

export function vcNotValidated(gpa: number | bigint, f: { access: AccessKind; vmpl: number; va?: bigint | undefined }): CpuFault {
  const base = {
    vector: X86_VECTOR.VC,
    errorCode: BigInt(VC_PAGE_NOT_VALIDATED),
    gpa: toBigGpa(gpa),
    access: f.access,
    vmpl: f.vmpl,
    reason: "private page is not validated",
  };
  return new CpuFault("vc", f.va === undefined ? base : { ...base, va: f.va });
}

export function gp(f: { access: AccessKind; vmpl: number; reason: string; va?: bigint | undefined }): CpuFault {
  const base = { vector: X86_VECTOR.GP, errorCode: 0n, access: f.access, vmpl: f.vmpl, reason: f.reason };
  return new CpuFault("gp", f.va === undefined ? base : { ...base, va: f.va });
}

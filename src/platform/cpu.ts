/**
 * The `Cpu` handed to a VcpuProgram for one VMRUN (api.ts): bound to one vCPU and one
 * VMSA page. Registers are that page's bytes at the VMSA layout offsets; every memory
 * access goes through the AccessPath with the VMSA's VMPL; PVALIDATE/RMPADJUST follow
 * rmp-instructions.ts. The capability is revoked when its VMRUN ends: a program that
 * keeps the object cannot touch memory or registers outside a VMRUN.
 */
import type { Clock, Gpa } from "../shared/base/index.js";
import type { VmsaU64Name } from "../shared/spec/index.js";
import { SEV_FEATURES } from "../shared/spec/index.js";
import type { AccessContext, AccessPath } from "./access-path.js";
import type { Cpu, PvalidateResult, Segment, SegmentName } from "./api.js";
import { PlatformError } from "./fault.js";
import { MSR, SEV_STATUS_SEV_ES, VMSA_MSRS } from "./msr.js";
import { K_FETCH, K_READ, gp } from "./raise.js";
import { pvalidate, rmpadjust } from "./rmp-instructions.js";
import type { RmpTable } from "./rmp-table.js";
import { VMSA_OFF, rd32, rd64, readSegment, u64Offset, wr32, wr64, writeSegment } from "./vmsa-regs.js";

/** What a Cpu needs from its machine. */
export interface CpuEnv {
  readonly path: AccessPath;
  /** Undefined on a non-SEV machine. */
  readonly rmp: RmpTable | undefined;
  readonly cBit: number;
  readonly clock: Clock;
  ghcbMsr(vmsaPfn: number): bigint;
  setGhcbMsr(vmsaPfn: number, v: bigint): void;
  vmsaInUse(pfn: number): boolean;
}

const TSC_AUX_OFF = 0x2ec;

export class VcpuCpu implements Cpu {
  readonly vcpu: number;
  readonly vmpl: number;
  readonly vmsaGpa: Gpa;
  readonly cBit: number;
  readonly #env: CpuEnv;
  readonly #vmsa: Uint8Array;
  readonly #pfn: number;
  readonly #ctx: AccessContext;
  #live = true;
  /** Length declared for the instruction now executing (0: none); VMRUN clears it before each step. */
  #insnLen = 0;

  constructor(env: CpuEnv, vcpu: number, vmsaGpa: Gpa, vmsaPage: Uint8Array, vmpl: number) {
    this.#env = env;
    this.vcpu = vcpu;
    this.vmsaGpa = vmsaGpa;
    this.vmpl = vmpl;
    this.cBit = env.cBit;
    this.#vmsa = vmsaPage;
    this.#pfn = Number(vmsaGpa) / 4096;
    this.#ctx = { vmsa: vmsaPage, vmpl };
  }

  /** Ends the capability (called when the VMRUN that created it exits). */
  revoke(): void {
    this.#live = false;
  }

  #alive(): Uint8Array {
    if (!this.#live) throw new PlatformError("BAD_VCPU", "this Cpu belongs to a VMRUN that has ended", { vcpu: this.vcpu });
    return this.#vmsa;
  }

  // ---------------------------------------------------------------- registers

  getReg(name: VmsaU64Name): bigint {
    return rd64(this.#alive(), u64Offset(name));
  }

  setReg(name: VmsaU64Name, value: bigint): void {
    wr64(this.#alive(), u64Offset(name), value);
  }

  getSegment(name: SegmentName): Segment {
    return readSegment(this.#alive(), name);
  }

  setSegment(name: SegmentName, seg: Segment): void {
    writeSegment(this.#alive(), name, seg);
  }

  get cpl(): number {
    return this.#alive()[VMSA_OFF.cpl]!;
  }

  setCpl(cpl: number): void {
    if (!Number.isInteger(cpl) || cpl < 0 || cpl > 3) throw new PlatformError("BAD_ARGUMENT", `CPL must be 0..3 (got ${cpl})`);
    this.#alive()[VMSA_OFF.cpl] = cpl;
  }

  // ---------------------------------------------------------------- decode assists

  setInstructionLength(len: number): void {
    this.#alive();
    if (!Number.isInteger(len) || len < 1 || len > 15) {
      throw new PlatformError("BAD_ARGUMENT", `an x86 instruction is 1..15 bytes long (got ${len})`, { length: len });
    }
    this.#insnLen = len;
  }

  /** The length declared for the current instruction, 0 if none (read by VMRUN on #NPF). */
  get instructionLength(): number {
    return this.#insnLen;
  }

  /** A new instruction begins: no length declared yet. */
  beginInstruction(): void {
    this.#insnLen = 0;
  }

  // ---------------------------------------------------------------- memory

  readVirt(va: bigint, len: number): Uint8Array {
    return this.#env.path.readVirt(this.#ctxAlive(), va, len, K_READ);
  }

  writeVirt(va: bigint, data: Uint8Array): void {
    this.#env.path.writeVirt(this.#ctxAlive(), va, data);
  }

  fetch(va: bigint, len = 1): Uint8Array {
    return this.#env.path.readVirt(this.#ctxAlive(), va, len, K_FETCH);
  }

  readPhys(gpa: Gpa, len: number, opts?: { shared?: boolean }): Uint8Array {
    return this.#env.path.readPhys(this.#ctxAlive(), gpa, len, opts?.shared === true);
  }

  writePhys(gpa: Gpa, data: Uint8Array, opts?: { shared?: boolean }): void {
    this.#env.path.writePhys(this.#ctxAlive(), gpa, data, opts?.shared === true);
  }

  readPhysInto(gpa: Gpa, dst: Uint8Array, dstOffset: number, len: number, opts?: { shared?: boolean }): void {
    this.#env.path.readPhysInto(this.#ctxAlive(), gpa, dst, dstOffset, len, opts?.shared === true);
  }

  writePhysFrom(gpa: Gpa, src: Uint8Array, srcOffset: number, len: number, opts?: { shared?: boolean }): void {
    this.#env.path.writePhysFrom(this.#ctxAlive(), gpa, src, srcOffset, len, opts?.shared === true);
  }

  #ctxAlive(): AccessContext {
    this.#alive();
    return this.#ctx;
  }

  // ---------------------------------------------------------------- RMP instructions

  pvalidate(gpa: Gpa, size: 0 | 1, validate: boolean): PvalidateResult {
    return pvalidate(this.#rmpContext("PVALIDATE"), gpa, size, validate);
  }

  rmpadjust(gpa: Gpa, size: 0 | 1, targetVmpl: number, perms: number, vmsa: boolean): number {
    return rmpadjust(this.#rmpContext("RMPADJUST"), gpa, size, targetVmpl, perms, vmsa);
  }

  #rmpContext(what: string): { rmp: RmpTable; vmpl: number; cpl: number; vmsaInUse: (pfn: number) => boolean } {
    const vmsa = this.#alive();
    const rmp = this.#env.rmp;
    // Without SNP the instruction does not exist (#UD; the contract's nearest kind is #GP).
    if (rmp === undefined) throw gp({ access: "write", vmpl: this.vmpl, reason: `${what} on a machine without SEV-SNP` });
    return { rmp, vmpl: this.vmpl, cpl: vmsa[VMSA_OFF.cpl]!, vmsaInUse: (pfn) => this.#env.vmsaInUse(pfn) };
  }

  // ---------------------------------------------------------------- MSRs and TSC

  rdmsr(msr: number): bigint {
    const vmsa = this.#alive();
    const field = VMSA_MSRS.get(msr);
    if (field !== undefined) return rd64(vmsa, u64Offset(field));
    switch (msr) {
      case MSR.TSC:
        return this.rdtsc();
      case MSR.TSC_AUX:
        return BigInt(rd32(vmsa, TSC_AUX_OFF));
      case MSR.GHCB:
        return this.#env.ghcbMsr(this.#pfn);
      case MSR.SEV_STATUS:
        if (this.#env.rmp === undefined) return 0n;
        return SEV_STATUS_SEV_ES | ((rd64(vmsa, VMSA_OFF.sevFeatures) | SEV_FEATURES.SNP_ACTIVE) << 2n);
      default:
        throw gp({ access: "read", vmpl: this.vmpl, reason: `RDMSR of unmodelled MSR 0x${msr.toString(16)}` });
    }
  }

  wrmsr(msr: number, value: bigint): void {
    const vmsa = this.#alive();
    const field = VMSA_MSRS.get(msr);
    if (field !== undefined) {
      wr64(vmsa, u64Offset(field), value);
      return;
    }
    switch (msr) {
      case MSR.TSC_AUX:
        wr32(vmsa, TSC_AUX_OFF, Number(BigInt.asUintN(32, value)));
        return;
      case MSR.GHCB:
        this.#env.setGhcbMsr(this.#pfn, BigInt.asUintN(64, value));
        return;
      default:
        throw gp({ access: "write", vmpl: this.vmpl, reason: `WRMSR of read-only or unmodelled MSR 0x${msr.toString(16)}` });
    }
  }

  rdtsc(): bigint {
    this.#alive();
    return msToNs(this.#env.clock.now());
  }
}

/** Clock milliseconds (possibly fractional) → integer nanoseconds, without float overflow. */
export function msToNs(ms: number): bigint {
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1_000_000));
}

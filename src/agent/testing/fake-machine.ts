/**
 * A small fake SEV-SNP machine for the agent's unit tests (not the platform: that lives in
 * src/platform and is used by the integration tests). Sparse memory, a per-page RMP entry
 * (assigned, validated, VMSA bit, VMPL1 mask), VMSA pages in memory, and a `Cpu` for VMPL0
 * with the RMP rules the agent depends on. Guest behaviour is scripted by the tests:
 * `guestAccess` records a VMPL #NPF in the VMPL1 VMSA the way hardware does, `guestStep`
 * retires one instruction (and records the #DB intercept when TF is set).
 */
import type { Gpa } from "../../shared/base/index.js";
import { PAGE_SIZE, readU64, writeU64 } from "../../shared/base/index.js";
import {
  computeLayout,
  NPF_EXITINFO1,
  RFLAGS,
  RMP_PERM,
  RMP_RESULT,
  SVM_EXIT,
  VMSA,
  launchPlan,
} from "../../shared/spec/index.js";
import type { SevenLayout, VmsaU64Name } from "../../shared/spec/index.js";
import { CpuFault } from "../../platform/index.js";
import type { Cpu, PvalidateResult, Segment, SegmentName } from "../../platform/index.js";

export interface RmpEntry {
  assigned: boolean;
  validated: boolean;
  vmsa: boolean;
  perms1: number;
}

const P = PAGE_SIZE;
const MSR_GHCB = 0xc001_0130;

export class FakeMachine {
  readonly layout: SevenLayout;
  readonly cBit: number;
  readonly pages = new Map<number, Uint8Array>();
  readonly rmp = new Map<number, RmpEntry>();
  readonly ghcbMsr = new Map<number, bigint>();
  nowNs = 1_000_000_000n;
  /** Counts of Cpu operations, for tests that check the agent's use of the platform. */
  readonly ops = { rmpadjust: 0, pvalidate: 0, reads: 0, writes: 0 };
  /** When set, every VMPL0 physical access is logged here (gpa, length, private?). */
  accessLog: { gpa: bigint; len: number; shared: boolean; write: boolean }[] | undefined;

  constructor(p: { memoryBytes?: bigint; vcpus?: number; cBit?: number } = {}) {
    this.layout = computeLayout({ memoryBytes: p.memoryBytes ?? 64n << 20n, vcpus: p.vcpus ?? 2 });
    this.cBit = p.cBit ?? 51;
  }

  /** Launches from `launchPlan` as the ASP would: page contents, assignment, VMPL1 masks, VMSA bits. */
  launch(inputs: { agentImage: Uint8Array; agentConfig: Uint8Array; vmsaPage: (vmpl: 0 | 1, vcpu: number) => Uint8Array }, secrets?: Uint8Array): void {
    for (const pg of launchPlan(this.layout, inputs)) {
      const pfn = Number(pg.gpa) / P;
      if (pg.contents) this.pages.set(pfn, pg.contents.slice());
      else if (pg.type === "secrets" && secrets) this.pages.set(pfn, secrets.slice());
      this.rmp.set(pfn, { assigned: true, validated: true, vmsa: pg.type === "vmsa", perms1: pg.vmplPerms[0] });
    }
  }

  entry(pfn: number): RmpEntry {
    return this.rmp.get(pfn) ?? { assigned: false, validated: false, vmsa: false, perms1: 0 };
  }

  page(pfn: number): Uint8Array {
    let p = this.pages.get(pfn);
    if (p === undefined) this.pages.set(pfn, (p = new Uint8Array(P)));
    return p;
  }

  /** Raw (plaintext) read/write, as the test's omniscient view. */
  peek(gpa: bigint, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let g = Number(gpa);
    let done = 0;
    while (done < len) {
      const off = g % P;
      const n = Math.min(len - done, P - off);
      const pg = this.pages.get((g - off) / P);
      if (pg !== undefined) out.set(pg.subarray(off, off + n), done);
      done += n;
      g += n;
    }
    return out;
  }

  poke(gpa: bigint, data: Uint8Array): void {
    let g = Number(gpa);
    let done = 0;
    while (done < data.length) {
      const off = g % P;
      const n = Math.min(data.length - done, P - off);
      this.page((g - off) / P).set(data.subarray(done, done + n), off);
      done += n;
      g += n;
    }
  }

  peek64(gpa: bigint): bigint {
    return readU64(this.peek(gpa, 8), 0);
  }

  poke64(gpa: bigint, v: bigint): void {
    const b = new Uint8Array(8);
    writeU64(b, 0, v);
    this.poke(gpa, b);
  }

  vmsa1Field(vcpu: number, name: VmsaU64Name): bigint {
    return this.peek64(this.layout.vmsa1[vcpu]! + BigInt(VMSA.offsetOf(name)));
  }

  setVmsa1Field(vcpu: number, name: VmsaU64Name, v: bigint): void {
    this.poke64(this.layout.vmsa1[vcpu]! + BigInt(VMSA.offsetOf(name)), v);
  }

  /** Whether the host could VMRUN vCPU `vcpu`'s VMPL1 context now. */
  runnable(vcpu: number): boolean {
    return this.entry(Number(this.layout.vmsa1[vcpu]!) / P).vmsa;
  }

  perms1(gpa: bigint): number {
    return this.entry(Number(gpa / BigInt(P))).perms1;
  }

  /**
   * A VMPL1 access by the guest on `vcpu`: succeeds, or records a VMPL #NPF in the VMPL1
   * VMSA (exit code, EXITINFO1/2, nRIP = RIP) and returns "npf".
   */
  guestAccess(vcpu: number, gpa: bigint, kind: "read" | "write" | "exec"): "ok" | "npf" | "not-runnable" {
    if (!this.runnable(vcpu)) return "not-runnable";
    const bit = kind === "read" ? RMP_PERM.READ : kind === "write" ? RMP_PERM.WRITE : RMP_PERM.EXEC_SUPER;
    if ((this.perms1(gpa) & bit) !== 0) return "ok";
    const info1 = NPF_EXITINFO1.P | NPF_EXITINFO1.RMP | NPF_EXITINFO1.ENC | NPF_EXITINFO1.FINAL | NPF_EXITINFO1.VMPL | (kind === "write" ? NPF_EXITINFO1.W : 0n) | (kind === "exec" ? NPF_EXITINFO1.FETCH : 0n);
    this.setVmsa1Field(vcpu, "guest_exit_code", BigInt(SVM_EXIT.NPF));
    this.setVmsa1Field(vcpu, "guest_exit_info_1", info1);
    this.setVmsa1Field(vcpu, "guest_exit_info_2", gpa);
    this.setVmsa1Field(vcpu, "guest_nrip", this.vmsa1Field(vcpu, "rip"));
    return "npf";
  }

  /** The guest retires one instruction on `vcpu` (RIP += len); TF → #DB intercept recorded. */
  guestStep(vcpu: number, len = 3n): "ok" | "db" | "not-runnable" {
    if (!this.runnable(vcpu)) return "not-runnable";
    this.setVmsa1Field(vcpu, "rip", this.vmsa1Field(vcpu, "rip") + len);
    if ((this.vmsa1Field(vcpu, "rflags") & RFLAGS.TF) !== 0n) {
      this.setVmsa1Field(vcpu, "guest_exit_code", BigInt(SVM_EXIT.EXCP_DB));
      this.setVmsa1Field(vcpu, "guest_nrip", this.vmsa1Field(vcpu, "rip"));
      return "db";
    }
    return "ok";
  }

  /** Any other exit of vCPU `vcpu`'s guest context, as hardware records it (VMGEXIT, HLT, a non-VMPL #NPF, …). */
  guestExit(vcpu: number, code: bigint, info1 = 0n, info2 = 0n): void {
    this.setVmsa1Field(vcpu, "guest_exit_code", code);
    this.setVmsa1Field(vcpu, "guest_exit_info_1", info1);
    this.setVmsa1Field(vcpu, "guest_exit_info_2", info2);
    this.setVmsa1Field(vcpu, "guest_nrip", this.vmsa1Field(vcpu, "rip"));
  }

  /** A Cpu for VMPL0 on `vcpu` (bound to its VMPL0 VMSA page). */
  cpu(vcpu: number): FakeCpu {
    return new FakeCpu(this, vcpu);
  }
}

function npf(gpa: bigint, access: "read" | "write", reason: string): CpuFault {
  return new CpuFault("npf", { vector: SVM_EXIT.NPF, errorCode: NPF_EXITINFO1.RMP, gpa: gpa as Gpa, access, vmpl: 0, reason });
}

export class FakeCpu implements Cpu {
  readonly vcpu: number;
  readonly vmpl = 0;
  readonly vmsaGpa: Gpa;
  readonly cBit: number;
  readonly #m: FakeMachine;

  constructor(m: FakeMachine, vcpu: number) {
    this.#m = m;
    this.vcpu = vcpu;
    this.vmsaGpa = m.layout.vmsa0[vcpu]!;
    this.cBit = m.cBit;
  }

  getReg(name: VmsaU64Name): bigint {
    return this.#m.peek64(this.vmsaGpa + BigInt(VMSA.offsetOf(name)));
  }
  setReg(name: VmsaU64Name, value: bigint): void {
    this.#m.poke64(this.vmsaGpa + BigInt(VMSA.offsetOf(name)), value);
  }
  getSegment(name: SegmentName): Segment {
    const b = this.#m.peek(this.vmsaGpa + BigInt(VMSA.offsetOf(`${name}_selector`)), 16);
    const dv = new DataView(b.buffer);
    return { selector: dv.getUint16(0, true), attrib: dv.getUint16(2, true), limit: dv.getUint32(4, true), base: dv.getBigUint64(8, true) };
  }
  setSegment(): void {
    throw new Error("not modelled");
  }
  get cpl(): number {
    return 0;
  }
  setCpl(): void {}
  readVirt(): Uint8Array {
    throw new Error("the agent never reads virtually");
  }
  writeVirt(): void {
    throw new Error("the agent never writes virtually");
  }
  fetch(): Uint8Array {
    throw new Error("not modelled");
  }

  #check(gpa: bigint, len: number, shared: boolean, access: "read" | "write"): void {
    if (gpa < 0n || gpa + BigInt(len) > this.#m.layout.memoryBytes) throw npf(gpa, access, "outside memory");
    for (let a = gpa & ~0xfffn; a < gpa + BigInt(len); a += 0x1000n) {
      const e = this.#m.entry(Number(a / 4096n));
      if (shared ? e.assigned : !e.assigned) throw npf(a, access, shared ? "shared access to an assigned page" : "private access to an unassigned page");
      if (!shared && !e.validated) {
        throw new CpuFault("vc", { vector: 29, errorCode: 0x404n, gpa: a as Gpa, access, vmpl: 0, reason: "not validated" });
      }
    }
  }

  readPhys(gpa: Gpa, len: number, opts?: { shared?: boolean }): Uint8Array {
    this.#check(gpa, len, opts?.shared === true, "read");
    this.#m.ops.reads++;
    this.#m.accessLog?.push({ gpa, len, shared: opts?.shared === true, write: false });
    return this.#m.peek(gpa, len);
  }
  writePhys(gpa: Gpa, data: Uint8Array, opts?: { shared?: boolean }): void {
    this.#check(gpa, data.length, opts?.shared === true, "write");
    this.#m.ops.writes++;
    this.#m.accessLog?.push({ gpa, len: data.length, shared: opts?.shared === true, write: true });
    this.#m.poke(gpa, data);
  }

  readPhysInto(gpa: Gpa, dst: Uint8Array, dstOffset: number, len: number, opts?: { shared?: boolean }): void {
    if (dstOffset < 0 || dstOffset + len > dst.length) throw new RangeError("destination range");
    dst.set(this.readPhys(gpa, len, opts), dstOffset);
  }
  writePhysFrom(gpa: Gpa, src: Uint8Array, srcOffset: number, len: number, opts?: { shared?: boolean }): void {
    this.writePhys(gpa, src.subarray(srcOffset, srcOffset + len), opts);
  }

  pvalidate(gpa: Gpa, _size: 0 | 1, validate: boolean): PvalidateResult {
    this.#m.ops.pvalidate++;
    const e = this.#m.rmp.get(Number(gpa / 4096n));
    if (e === undefined || !e.assigned) throw npf(gpa, "write", "PVALIDATE of an unassigned page");
    if (e.validated === validate) return { rc: 0, noUpdate: true };
    e.validated = validate;
    return { rc: 0, noUpdate: false };
  }

  rmpadjust(gpa: Gpa, _size: 0 | 1, targetVmpl: number, perms: number, vmsa: boolean): number {
    this.#m.ops.rmpadjust++;
    if (targetVmpl !== 1) return targetVmpl <= 0 ? RMP_RESULT.FAIL_PERMISSION : RMP_RESULT.SUCCESS;
    if (perms < 0 || perms > 0x1f) return RMP_RESULT.FAIL_INPUT;
    const e = this.#m.rmp.get(Number(gpa / 4096n));
    if (e === undefined || !e.assigned) throw npf(gpa, "write", "RMPADJUST of an unassigned page");
    if (!e.validated) throw new CpuFault("vc", { vector: 29, errorCode: 0x404n, gpa, access: "write", vmpl: 0, reason: "not validated" });
    e.perms1 = perms;
    e.vmsa = vmsa;
    return RMP_RESULT.SUCCESS;
  }

  rdmsr(msr: number): bigint {
    if (msr === MSR_GHCB) return this.#m.ghcbMsr.get(this.vcpu) ?? 0n;
    throw new Error(`rdmsr 0x${msr.toString(16)}`);
  }
  wrmsr(msr: number, value: bigint): void {
    if (msr === MSR_GHCB) this.#m.ghcbMsr.set(this.vcpu, value);
    else throw new Error(`wrmsr 0x${msr.toString(16)}`);
  }
  rdtsc(): bigint {
    return this.#m.nowNs;
  }
}

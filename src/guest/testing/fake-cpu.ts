/**
 * A small stand-in for the platform, for the guest's unit tests: guest memory as a Map of
 * 4 KiB pages, a VMSA per vCPU (the real layout), a 4-level page walker (large pages, NX,
 * U/S, R/W with CR0.WP, C-bit masked), and "traps": GPAs whose accesses raise #NPF, so
 * restartability can be tested. Every access is logged. Not the platform: no RMP, no
 * encryption. (The real machine is exercised in the integration test.)
 */
import type { Cpu, PvalidateResult, Segment, SegmentName, StepResult, VcpuProgram } from "../../platform/index.js";
import { CpuFault } from "../../platform/index.js";
import type { Gpa } from "../../shared/base/index.js";
import { CR0_PG, CR0_WP, EFER_NXE, PTE, VMSA, pteAddressMask } from "../../shared/spec/index.js";
import type { VmsaU64Name } from "../../shared/spec/index.js";

const PAGE = 4096;

export interface AccessLog {
  readonly cpu: number;
  readonly kind: "read" | "write" | "fetch" | "rphys" | "wphys";
  readonly va: bigint;
  readonly gpa: bigint;
  readonly len: number;
  readonly cpl: number;
  readonly cr3: bigint;
}

export class FakeMemory {
  readonly pages = new Map<number, Uint8Array>();
  readonly bytes: bigint;
  constructor(bytes: bigint) {
    this.bytes = bytes;
  }
  read(pa: bigint, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let a = Number(pa);
    let o = 0;
    while (o < len) {
      const pfn = Math.floor(a / PAGE);
      const po = a % PAGE;
      const n = Math.min(PAGE - po, len - o);
      const p = this.pages.get(pfn);
      if (p !== undefined) out.set(p.subarray(po, po + n), o);
      o += n;
      a += n;
    }
    return out;
  }
  write(pa: bigint, data: Uint8Array): void {
    let a = Number(pa);
    let o = 0;
    while (o < data.length) {
      const pfn = Math.floor(a / PAGE);
      const po = a % PAGE;
      const n = Math.min(PAGE - po, data.length - o);
      let p = this.pages.get(pfn);
      if (p === undefined) {
        p = new Uint8Array(PAGE);
        this.pages.set(pfn, p);
      }
      p.set(data.subarray(o, o + n), po);
      o += n;
      a += n;
    }
  }
  u64(pa: bigint): bigint {
    const b = this.read(pa, 8);
    return new DataView(b.buffer).getBigUint64(0, true);
  }
  /** A copy of every page (for before/after comparisons). */
  snapshot(): Map<number, Uint8Array> {
    const m = new Map<number, Uint8Array>();
    for (const [k, v] of this.pages) m.set(k, v.slice());
    return m;
  }
}

/** The byte ranges that differ between two snapshots: [pa, length]. */
export function diffMemory(a: Map<number, Uint8Array>, b: Map<number, Uint8Array>): { pa: bigint; len: number }[] {
  const out: { pa: bigint; len: number }[] = [];
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort((x, y) => x - y);
  const zero = new Uint8Array(PAGE);
  for (const pfn of keys) {
    const x = a.get(pfn) ?? zero;
    const y = b.get(pfn) ?? zero;
    let i = 0;
    while (i < PAGE) {
      if (x[i] === y[i]) {
        i++;
        continue;
      }
      const s = i;
      while (i < PAGE && x[i] !== y[i]) i++;
      out.push({ pa: BigInt(pfn * PAGE + s), len: i - s });
    }
  }
  return out;
}

const fieldOff = (name: string): number => VMSA.offsetOf(name as Parameters<typeof VMSA.offsetOf>[0]);

export class FakeCpu implements Cpu {
  readonly vcpu: number;
  readonly vmpl = 1;
  readonly vmsaGpa: Gpa;
  readonly cBit: number;
  readonly vmsa = new Uint8Array(PAGE);
  readonly #dv = new DataView(this.vmsa.buffer);
  readonly #m: FakeMachine;
  ghcbMsr = 0n;

  constructor(m: FakeMachine, vcpu: number, cBit: number) {
    this.#m = m;
    this.vcpu = vcpu;
    this.cBit = cBit;
    this.vmsaGpa = BigInt(0x7f000000 + vcpu * PAGE) as Gpa;
    this.vmsa[fieldOff("vmpl")] = 1;
  }

  getReg(name: VmsaU64Name): bigint {
    return this.#dv.getBigUint64(fieldOff(name), true);
  }
  setReg(name: VmsaU64Name, value: bigint): void {
    this.#dv.setBigUint64(fieldOff(name), BigInt.asUintN(64, value), true);
  }
  getSegment(name: SegmentName): Segment {
    const o = fieldOff(`${name}_selector`);
    return { selector: this.#dv.getUint16(o, true), attrib: this.#dv.getUint16(o + 2, true), limit: this.#dv.getUint32(o + 4, true), base: this.#dv.getBigUint64(o + 8, true) };
  }
  setSegment(name: SegmentName, s: Segment): void {
    const o = fieldOff(`${name}_selector`);
    this.#dv.setUint16(o, s.selector, true);
    this.#dv.setUint16(o + 2, s.attrib, true);
    this.#dv.setUint32(o + 4, s.limit, true);
    this.#dv.setBigUint64(o + 8, BigInt.asUintN(64, s.base), true);
  }
  get cpl(): number {
    return this.vmsa[fieldOff("cpl")]!;
  }
  setCpl(cpl: number): void {
    this.vmsa[fieldOff("cpl")] = cpl;
  }

  /** VA → GPA through the VMSA's CR3 (or identity with paging off). */
  translate(va: bigint, kind: "read" | "write" | "fetch"): bigint {
    const cr0 = this.getReg("cr0");
    if ((cr0 & CR0_PG) === 0n) return va;
    const mask = pteAddressMask(this.cBit);
    const user = this.cpl === 3;
    const nxe = (this.getReg("efer") & EFER_NXE) !== 0n;
    let table = this.getReg("cr3") & mask;
    let us = true;
    let rw = true;
    let nx = false;
    for (let level = 4; level >= 1; level--) {
      const idx = (va >> BigInt(12 + 9 * (level - 1))) & 0x1ffn;
      const e = this.#m.mem.u64(table + idx * 8n);
      if ((e & PTE.P) === 0n) throw this.#pf(va, kind, `not present at level ${level}`);
      us &&= (e & PTE.US) !== 0n;
      rw &&= (e & PTE.RW) !== 0n;
      nx ||= (e & PTE.NX) !== 0n;
      const large = level > 1 && level < 4 && (e & PTE.PS) !== 0n;
      if (level === 1 || large) {
        if (user && !us) throw this.#pf(va, kind, "user access to supervisor page");
        if (kind === "fetch" && nxe && nx) throw this.#pf(va, kind, "fetch from NX page");
        if (kind === "write" && !rw && (user || (cr0 & CR0_WP) !== 0n)) throw this.#pf(va, kind, "write to read-only page");
        const size = 1n << BigInt(12 + 9 * (level - 1));
        return (e & mask & ~(size - 1n)) + (va & (size - 1n));
      }
      table = e & mask;
    }
    throw this.#pf(va, kind, "walk ended");
  }

  #pf(va: bigint, kind: "read" | "write" | "fetch", reason: string): CpuFault {
    return new CpuFault("pf", { vector: 14, errorCode: 0n, va, access: kind === "fetch" ? (this.cpl === 3 ? "exec-user" : "exec-super") : kind, vmpl: 1, reason });
  }

  #access(kind: "read" | "write" | "fetch", va: bigint, len: number): bigint[] {
    const gpas: bigint[] = [];
    let v = va;
    let left = len;
    while (left > 0) {
      const n = Math.min(left, PAGE - Number(v & 0xfffn));
      const g = this.translate(v, kind);
      this.#m.checkTrap(g, kind);
      gpas.push(g);
      left -= n;
      v += BigInt(n);
    }
    return gpas;
  }

  readVirt(va: bigint, len: number): Uint8Array {
    const g = this.#access("read", va, len);
    this.#m.note({ cpu: this.vcpu, kind: "read", va, gpa: g[0]!, len, cpl: this.cpl, cr3: this.getReg("cr3") });
    return this.#gather(va, len, "read");
  }
  fetch(va: bigint, len = 1): Uint8Array {
    const g = this.#access("fetch", va, len);
    this.#m.note({ cpu: this.vcpu, kind: "fetch", va, gpa: g[0]!, len, cpl: this.cpl, cr3: this.getReg("cr3") });
    return this.#gather(va, len, "fetch");
  }
  writeVirt(va: bigint, data: Uint8Array): void {
    const g = this.#access("write", va, data.length);
    this.#m.note({ cpu: this.vcpu, kind: "write", va, gpa: g[0]!, len: data.length, cpl: this.cpl, cr3: this.getReg("cr3") });
    let v = va;
    let o = 0;
    while (o < data.length) {
      const n = Math.min(data.length - o, PAGE - Number(v & 0xfffn));
      this.#m.mem.write(this.translate(v, "write"), data.subarray(o, o + n));
      o += n;
      v += BigInt(n);
    }
  }
  #gather(va: bigint, len: number, kind: "read" | "fetch"): Uint8Array {
    const out = new Uint8Array(len);
    let v = va;
    let o = 0;
    while (o < len) {
      const n = Math.min(len - o, PAGE - Number(v & 0xfffn));
      out.set(this.#m.mem.read(this.translate(v, kind), n), o);
      o += n;
      v += BigInt(n);
    }
    return out;
  }
  readPhys(g: Gpa, len: number): Uint8Array {
    this.#m.checkTrap(g, "read");
    this.#m.note({ cpu: this.vcpu, kind: "rphys", va: g, gpa: g, len, cpl: this.cpl, cr3: this.getReg("cr3") });
    return this.#m.mem.read(g, len);
  }
  writePhys(g: Gpa, data: Uint8Array): void {
    this.#m.checkTrap(g, "write");
    this.#m.note({ cpu: this.vcpu, kind: "wphys", va: g, gpa: g, len: data.length, cpl: this.cpl, cr3: this.getReg("cr3") });
    this.#m.mem.write(g, data);
  }
  readPhysInto(g: Gpa, dst: Uint8Array, dstOffset: number, len: number): void {
    dst.set(this.readPhys(g, len), dstOffset);
  }
  writePhysFrom(g: Gpa, src: Uint8Array, srcOffset: number, len: number): void {
    this.writePhys(g, src.subarray(srcOffset, srcOffset + len));
  }
  /** Length declared for the current instruction (0: none); a #NPF exit sets guest_nrip = RIP + it, as the platform does. */
  insnLen = 0;
  setInstructionLength(len: number): void {
    if (!Number.isInteger(len) || len < 1 || len > 15) throw new Error(`bad instruction length ${len}`);
    this.insnLen = len;
  }
  pvalidate(): PvalidateResult {
    return { rc: 0, noUpdate: false };
  }
  rmpadjust(): number {
    return 2;
  }
  rdmsr(msr: number): bigint {
    if (msr === 0xc001_0130) return this.ghcbMsr;
    const f = MSR_FIELDS.get(msr);
    if (f === undefined) throw new CpuFault("gp", { vector: 13, errorCode: 0n, access: "read", vmpl: 1, reason: `rdmsr 0x${msr.toString(16)}` });
    return this.getReg(f);
  }
  wrmsr(msr: number, value: bigint): void {
    if (msr === 0xc001_0130) {
      this.ghcbMsr = value;
      return;
    }
    const f = MSR_FIELDS.get(msr);
    if (f === undefined) throw new CpuFault("gp", { vector: 13, errorCode: 0n, access: "write", vmpl: 1, reason: `wrmsr 0x${msr.toString(16)}` });
    this.setReg(f, value);
  }
  rdtsc(): bigint {
    return 0n;
  }
}

const MSR_FIELDS = new Map<number, VmsaU64Name>([
  [0xc000_0080, "efer"],
  [0xc000_0081, "star"],
  [0xc000_0082, "lstar"],
  [0xc000_0083, "cstar"],
  [0xc000_0084, "sfmask"],
  [0xc000_0101, "gs_base"],
  [0xc000_0102, "kernel_gs_base"],
]);

export interface StepOutcome {
  readonly steps: number;
  readonly npf: number;
  readonly exceptions: number;
  readonly hlts: number;
  readonly vmgexits: number;
}

/** A machine of FakeCpus sharing one FakeMemory, driven round-robin. */
export class FakeMachine {
  readonly mem: FakeMemory;
  readonly cpus: FakeCpu[] = [];
  readonly log: AccessLog[] = [];
  /** Guest-physical pages (pfn) whose accesses raise #NPF while armed. */
  readonly traps = new Map<number, { kinds: Set<string>; hits: number }>();
  logEnabled = true;

  constructor(memoryBytes: bigint, vcpus: number, cBit = 51) {
    this.mem = new FakeMemory(memoryBytes);
    for (let i = 0; i < vcpus; i++) this.cpus.push(new FakeCpu(this, i, cBit));
  }

  note(a: AccessLog): void {
    if (this.logEnabled) this.log.push(a);
  }

  checkTrap(gpa: bigint, kind: string): void {
    const t = this.traps.get(Number(gpa >> 12n));
    if (t === undefined || !t.kinds.has(kind)) return;
    t.hits++;
    throw new CpuFault("npf", { vector: 0x400, errorCode: (1n << 36n) | 1n, gpa: gpa as Gpa, access: kind === "fetch" ? "exec-super" : (kind as "read" | "write"), vmpl: 1, reason: "test trap" });
  }

  /** Runs `n` steps on one vCPU as VMRUN would (faults delivered, exits counted). */
  run(program: VcpuProgram, vcpu: number, n: number): StepOutcome {
    const cpu = this.cpus[vcpu]!;
    let npf = 0;
    let exceptions = 0;
    let hlts = 0;
    let vmgexits = 0;
    let steps = 0;
    for (let i = 0; i < n; i++) {
      let r: StepResult;
      cpu.insnLen = 0;
      try {
        r = program.step(cpu);
      } catch (e) {
        if (!(e instanceof CpuFault)) throw e;
        if (e.code === "npf") {
          npf++;
          cpu.setReg("guest_nrip", cpu.getReg("rip") + BigInt(cpu.insnLen));
          continue;
        }
        exceptions++;
        if (program.exception?.(cpu, e) !== true) throw e;
        continue;
      }
      steps++;
      if (r.kind === "hlt") hlts++;
      if (r.kind === "vmgexit") vmgexits++;
    }
    return { steps, npf, exceptions, hlts, vmgexits };
  }

  /** Steps every vCPU `slice` instructions in turn, `rounds` times. */
  roundRobin(program: VcpuProgram, rounds: number, slice: number): void {
    for (let r = 0; r < rounds; r++) for (let c = 0; c < this.cpus.length; c++) this.run(program, c, slice);
  }

  /** Boots: vCPU 0 until the guest reports it booted, then one step per AP. */
  boot(program: VcpuProgram & { readonly booted: boolean }, max = 10_000_000): number {
    let n = 0;
    const saved = this.logEnabled;
    this.logEnabled = false;
    while (!program.booted && n < max) {
      this.run(program, 0, 1);
      n++;
    }
    this.logEnabled = saved;
    return n;
  }
}

/**
 * The guest kernel as a VcpuProgram at VMPL1. One instruction per `step`:
 *  - boot (vCPU 0): the model builds the kernel's memory, then writes it page by page
 *    with paging off (identity, private: cpu.writePhys), then each vCPU programs its
 *    long-mode state (CR0/CR3/CR4/EFER, CS/SS, GS base = its per-CPU area, IDTR = the
 *    cpu_entry_area IDT alias, GDTR/TR, LSTAR/STAR/CSTAR/SFMASK/KERNEL_GS_BASE);
 *  - then the workload's instruction stream (workload/workload.ts).
 * Restartable: an instruction that faults has changed nothing and runs again. If the RIP
 * in the VMSA is not the pending instruction's (someone moved it, e.g. an agent "skip"),
 * the pending instruction is dropped. A guest exception (#PF/#GP/#VC) is handled by the
 * kernel's fixup: the instruction is skipped and the fault recorded.
 */
import type { Cpu, StepResult, VcpuProgram } from "../platform/index.js";
import { CpuFault } from "../platform/index.js";
import { gpa, invariant, SeededRng } from "../shared/base/index.js";
import type { SevenLayout } from "../shared/spec/index.js";
import {
  ATTR_KERNEL_CS,
  ATTR_KERNEL_DS,
  ATTR_TSS,
  DEFAULT_PAT,
  EFER_SVME,
  GDT_ENTRY_TSS_SEL,
  KERNEL_CS,
  KERNEL_DS,
  LINUX_CR0,
  LINUX_CR4,
  LINUX_EFER,
  LINUX_SFMASK,
  LINUX_STAR,
  MSR_CSTAR,
  MSR_KERNEL_GS_BASE,
  MSR_LSTAR,
  MSR_STAR,
  MSR_SYSCALL_MASK,
  RFLAGS_KERNEL,
} from "./arch.js";
import { GuestError } from "./errors.js";
import { KernelTypes, kernelInfoFromProfile, type KernelProfileView } from "./kernel-info.js";
import { buildKernel, type BootBuild } from "./kernel/boot.js";
import { CPU_ENTRY_AREA_RO_IDT, placeKernel } from "./layout/placement.js";
import { BYTES_PER_PROCESS, Kernel } from "./model/kernel.js";
import type { Profile } from "../shared/kernel/index.js";
import { VcpuCtx, type InsnRecord } from "./workload/context.js";
import { Workload } from "./workload/workload.js";
import { hltInsn, insnLength, type Insn } from "./workload/insn.js";
import { groundTruth, type GroundTruth } from "./ground-truth.js";
import { parseRootkitSpecs, rootkitOps, type RootkitRequest, type ScenarioRecord } from "./rootkits/registry.js";

export const DEFAULT_PROCESSES = 100;
export const MIN_PROCESSES = 64;
export const MAX_PROCESSES = 10000;

export interface GuestOptions {
  readonly seed: string | number | bigint;
  readonly layout: SevenLayout;
  /** The kernel profile (profiles/debian-6.1.0-56-amd64.isf.json.gz), or a view of one. */
  readonly profile: Profile | KernelProfileView;
  /** KASLR on (default) or the nokaslr placement. */
  readonly kaslr?: boolean;
  /** Processes (thread-group leaders) in the task list at boot: 64 … 10 000 (default 100). */
  readonly processes?: number;
  /** Run the workload after boot (default true); false: the vCPUs idle (HLT). */
  readonly workload?: boolean;
  /** Rootkit and attack scenarios, applied right after boot (`--rootkit NAME[=ARG]`). */
  readonly rootkits?: readonly (RootkitRequest | string)[];
  /** Record every retired instruction (tests; unbounded). */
  readonly trace?: boolean;
}

type Phase = "reset" | "flush" | "running";

export interface GuestStats {
  readonly retired: number;
  readonly skipped: number;
  readonly faults: number;
  readonly bootPagesWritten: number;
  readonly syscalls: number;
  readonly forks: number;
  readonly exits: number;
  readonly switches: number;
  readonly liveProcesses: number;
  readonly guestPagesInUse: number;
}

export class GuestKernel implements VcpuProgram {
  readonly options: Required<Omit<GuestOptions, "rootkits" | "trace" | "profile">> & { readonly rootkits: readonly RootkitRequest[] };
  readonly #types: KernelTypes;
  #phase: Phase = "reset";
  #kernel: Kernel | undefined;
  #boot: BootBuild | undefined;
  #workload: Workload | undefined;
  #frames: number[] = [];
  #flushed = 0;
  readonly #vcpus: VcpuCtx[] = [];
  readonly #trace: InsnRecord[] | undefined;
  readonly scenarios: ScenarioRecord[] = [];

  constructor(o: GuestOptions) {
    const processes = o.processes ?? DEFAULT_PROCESSES;
    if (!Number.isInteger(processes) || processes < MIN_PROCESSES || processes > MAX_PROCESSES) {
      throw new GuestError("BAD_OPTION", `process count must be ${MIN_PROCESSES}..${MAX_PROCESSES} (got ${processes})`, { processes });
    }
    const view: KernelProfileView = "offsetOf" in o.profile && "memberSize" in o.profile && !("userType" in o.profile) ? o.profile : kernelInfoFromProfile(o.profile as Profile);
    this.#types = new KernelTypes(view);
    const rootkits = parseRootkitSpecs(o.rootkits ?? []);
    this.options = {
      seed: o.seed,
      layout: o.layout,
      kaslr: o.kaslr ?? true,
      processes,
      workload: o.workload ?? true,
      rootkits,
    };
    // Fail early (before launch) if the kernel cannot be placed.
    placeKernel({
      seed: String(o.seed),
      kaslr: this.options.kaslr,
      textSym: this.#types.sym("_text"),
      endSym: this.#types.sym("_end"),
      guestRamEnd: o.layout.guestRamEnd,
      reserveBytes: BigInt(processes) * BYTES_PER_PROCESS + 8n * 1024n * 1024n + BigInt(o.layout.vcpus) * 512n * 1024n,
    });
    for (let c = 0; c < o.layout.vcpus; c++) this.#vcpus.push(new VcpuCtx(c, new SeededRng(String(o.seed)).fork(`guest/vcpu/${c}`)));
    this.#trace = o.trace === true ? [] : undefined;
  }

  /** Builds the boot image (done by the first step if not called). */
  prepare(cBit: number): void {
    if (this.#kernel !== undefined) return;
    const k = new Kernel(
      { seed: String(this.options.seed), kaslr: this.options.kaslr, processes: this.options.processes, layout: this.options.layout, cBit },
      this.#types,
    );
    this.#boot = buildKernel(k);
    this.#kernel = k;
    this.#workload = new Workload(k, this.#boot.hooks, { enabled: this.options.workload, target: this.options.processes });
    for (const r of this.options.rootkits) this.#queueScenario(r);
    this.#frames = k.image.frames();
    this.#phase = "flush";
  }

  get kernel(): Kernel {
    if (this.#kernel === undefined) throw new GuestError("NOT_BOOTED", "the guest has not booted yet");
    return this.#kernel;
  }

  get workload(): Workload {
    if (this.#workload === undefined) throw new GuestError("NOT_BOOTED", "the guest has not booted yet");
    return this.#workload;
  }

  get booted(): boolean {
    return this.#phase === "running";
  }

  /** Queues a rootkit or attack scenario (runs on vCPU 0 at its next time slice). */
  activate(spec: RootkitRequest | string): void {
    const [r] = parseRootkitSpecs([spec]);
    if (this.#kernel === undefined) {
      (this.options.rootkits as RootkitRequest[]).push(r!);
      return;
    }
    this.#queueScenario(r!);
  }

  #queueScenario(r: RootkitRequest): void {
    const rec: ScenarioRecord = { name: r.name, ...(r.arg !== undefined ? { arg: r.arg } : {}), status: "pending", outcomes: [] };
    this.scenarios.push(rec);
    for (const op of rootkitOps(this.kernel, this.workload, r, rec)) this.workload.admin.push(op);
  }

  /** True when no scenario is pending and no process is being created or torn down. */
  quiescent(): boolean {
    const w = this.#workload;
    return w !== undefined && w.admin.length === 0 && w.inflight.size === 0 && w.lockOwner === null && w.outstanding === 0 && this.scenarios.every((s) => s.status !== "pending");
  }

  get trace(): readonly InsnRecord[] {
    return this.#trace ?? [];
  }

  // ------------------------------------------------------------------ VcpuProgram

  step(cpu: Cpu): StepResult {
    if (this.#phase !== "running") return this.#bootStep(cpu);
    const v = this.#vcpus[cpu.vcpu];
    invariant(v !== undefined, "no such vCPU", { vcpu: cpu.vcpu });
    if (!v.started) {
      this.#enterLongMode(cpu, v);
      return { kind: "next" };
    }
    let insn = v.pending ?? this.#advance(v);
    if (cpu.getReg("rip") !== insn.rip) {
      // Someone moved RIP (the agent's "skip"): the pending instruction does not run.
      v.skipped++;
      insn.onDrop?.();
      insn = this.#advance(v);
      cpu.setReg("rip", insn.rip);
      return { kind: "next" };
    }
    const cpl = cpu.cpl;
    // Decode assists: a #NPF of this instruction tells VMPL0 where the next one starts.
    cpu.setInstructionLength?.(insnLength(insn));
    const r = insn.exec(cpu);
    this.#retire(cpu, v, insn, cpl);
    return { kind: r ?? "next" };
  }

  exception(cpu: Cpu, fault: CpuFault): boolean {
    if (this.#phase !== "running") return false;
    const v = this.#vcpus[cpu.vcpu];
    if (v === undefined || !v.started) return false;
    // The kernel's exception fixup: skip the faulting instruction, remember why.
    v.noteFault(fault);
    v.pending?.onDrop?.();
    const next = this.#advance(v);
    cpu.setReg("rip", next.rip);
    return true;
  }

  #retire(cpu: Cpu, v: VcpuCtx, insn: Insn, cpl: number): void {
    v.retired++;
    const k = this.#kernel!;
    k.clockNs += 250n;
    if (this.#trace !== undefined) {
      this.#trace.push({ cpu: v.cpu, rip: insn.rip, kind: insn.kind, what: insn.what, cpl, ...(insn.va !== undefined ? { va: insn.va } : {}) });
    }
    const next = this.#advance(v);
    cpu.setReg("rip", next.rip);
  }

  /** Drops the pending instruction and takes the next one from the vCPU's stream. */
  #advance(v: VcpuCtx): Insn {
    if (v.gen === undefined) v.gen = this.workload.main(v);
    const r = v.gen.next();
    invariant(r.done !== true, "the workload stream ended");
    v.pending = r.value;
    return r.value;
  }

  // ------------------------------------------------------------------ boot

  #bootStep(cpu: Cpu): StepResult {
    if (cpu.vcpu !== 0) return { kind: "next" }; // APs wait for the boot CPU
    if (this.#phase === "reset") {
      this.prepare(cpu.cBit);
      return { kind: "next" };
    }
    const k = this.#kernel!;
    if (this.#flushed < this.#frames.length) {
      const pfn = this.#frames[this.#flushed]!;
      const page = k.image.page(pfn);
      cpu.writePhys(gpa(BigInt(pfn) * 4096n), page);
      k.image.take(pfn);
      this.#flushed++;
      return { kind: "next" };
    }
    this.#phase = "running";
    return { kind: "next" };
  }

  /** start_kernel / start_secondary: long mode on the kernel's page tables. */
  #enterLongMode(cpu: Cpu, v: VcpuCtx): void {
    const k = this.#kernel!;
    const t = k.t;
    const a = k.addr;
    const percpu = k.perCpuBase[v.cpu]!;
    const efer = (cpu.getReg("efer") & EFER_SVME) | LINUX_EFER;
    cpu.setReg("cr3", k.kpt.cr3);
    cpu.setReg("cr4", LINUX_CR4);
    cpu.setReg("efer", efer);
    cpu.setReg("cr0", LINUX_CR0);
    cpu.setSegment("cs", { selector: KERNEL_CS, attrib: ATTR_KERNEL_CS, limit: 0xffffffff, base: 0n });
    for (const s of ["ss", "ds", "es"] as const) cpu.setSegment(s, { selector: s === "ss" ? KERNEL_DS : 0, attrib: s === "ss" ? ATTR_KERNEL_DS : 0, limit: s === "ss" ? 0xffffffff : 0, base: 0n });
    cpu.setSegment("fs", { selector: 0, attrib: 0, limit: 0, base: 0n });
    cpu.setSegment("gs", { selector: 0, attrib: 0, limit: 0, base: percpu });
    cpu.setSegment("gdtr", { selector: 0, attrib: 0, limit: 0x7f, base: k.percpu(v.cpu, t.sym("gdt_page")) });
    cpu.setSegment("idtr", { selector: 0, attrib: 0, limit: 0xfff, base: CPU_ENTRY_AREA_RO_IDT });
    cpu.setSegment("tr", { selector: GDT_ENTRY_TSS_SEL, attrib: ATTR_TSS, limit: 0x4087, base: k.percpu(v.cpu, t.sym("cpu_tss_rw")) });
    cpu.setCpl(0);
    cpu.wrmsr(MSR_STAR, LINUX_STAR);
    cpu.wrmsr(MSR_LSTAR, a.ksym("entry_SYSCALL_64"));
    cpu.wrmsr(MSR_CSTAR, a.kaddr(t.symbolOrUndefined("entry_SYSCALL_compat") ?? t.sym("entry_SYSCALL_64")));
    cpu.wrmsr(MSR_SYSCALL_MASK, LINUX_SFMASK);
    cpu.wrmsr(MSR_KERNEL_GS_BASE, 0n);
    cpu.setReg("g_pat", DEFAULT_PAT);
    cpu.setReg("rflags", RFLAGS_KERNEL);
    cpu.setReg("rsp", percpu + (t.symbolOrUndefined("irq_stack_backing_store") ?? 0n) + 0x3ff8n);
    v.started = true;
    const first = this.#advance(v);
    cpu.setReg("rip", first.rip);
  }

  // ------------------------------------------------------------------ ground truth

  groundTruth(): GroundTruth {
    return groundTruth(this);
  }

  stats(): GuestStats {
    const k = this.#kernel;
    const w = this.#workload;
    return {
      retired: this.#vcpus.reduce((a, v) => a + v.retired, 0),
      skipped: this.#vcpus.reduce((a, v) => a + v.skipped, 0),
      faults: this.#vcpus.reduce((a, v) => a + v.faults, 0),
      bootPagesWritten: this.#flushed,
      syscalls: w?.stats.syscalls ?? 0,
      forks: w?.stats.forks ?? 0,
      exits: w?.stats.exits ?? 0,
      switches: w?.stats.switches ?? 0,
      liveProcesses: w?.liveCount() ?? 0,
      guestPagesInUse: k?.pages.usedPages ?? 0,
    };
  }

  vcpuContext(cpu: number): VcpuCtx | undefined {
    return this.#vcpus[cpu];
  }
}

export function createGuest(o: GuestOptions): GuestKernel {
  return new GuestKernel(o);
}

export { hltInsn };

/**
 * The VMPL0 agent as a VcpuProgram. Each `step` is one small unit of work (an
 * "instruction"); the agent keeps where it is per vCPU, so a VMRUN that ends on the host's
 * instruction budget continues where it stopped. One VMRUN of the service loop:
 *
 *   enter  → finish what the last VMGEXIT asked (a guest request, the page-state change),
 *            account the time the host kept VMPL0 waiting
 *   boot   → (until booted) boot.ts, one unit per step
 *   faults → end the sessions closed since the last run (TLS callbacks only queue that),
 *            believe forwarded faults only from the VMPL1 VMSAs' exit fields (core.ts)
 *   rx     → NIC RX records into the connections' TLS sockets, one record per step
 *   work   → one queued request of one session per step (bounded per VMRUN); a request
 *            that released a guest context goes straight to tx (the host runs it sooner)
 *   tick   → end the sessions closed by this run's work, heartbeats
 *   tx     → ciphertext into the NIC TX ring, one record per step
 *   exit   → a queued attestation: GUEST_REQUEST VMGEXIT; otherwise SEVEN_NAE_YIELD with
 *            MORE_WORK (attestations queued) / TX_PENDING / HOLDING and a wake-up delay;
 *            NIC work still to do raises the NIC's WANT_RUN instead (the NIC's vCPU runs)
 */
import { randomBytes } from "node:crypto";
import type { Gpa } from "../../shared/base/index.js";
import { PAGE_SIZE, SeededRng } from "../../shared/base/index.js";
import {
  AGENT_YIELD,
  GHCB_PROTOCOL_VERSION_SNP,
  GHCB_SHARED_BUFFER_OFFSET,
  GHCB_PSC_OP,
  MSR_GHCB,
  NAE_EXIT,
  SEVEN_NAE_YIELD,
  SEVEN_RUN_REASON,
  ghcbGet,
  ghcbInvalidate,
  ghcbSet,
} from "../../shared/spec/index.js";
import type { SevenLayout } from "../../shared/spec/index.js";
import { CpuFault } from "../../platform/index.js";
import type { Cpu, StepResult, VcpuProgram } from "../../platform/index.js";
import type { AgentConfig } from "../config.js";
import { BootError } from "../errors.js";
import { AGENT_VERSION } from "../image.js";
import { VmiCore } from "../service/core.js";
import { DEFAULT_HEARTBEAT_NS } from "../service/session-v1.js";
import { Vmpl0Backend } from "../vmpl0-backend.js";
import { Attestation } from "./attestation.js";
import type { PendingGreq } from "./attestation.js";
import { Boot } from "./boot.js";
import type { BootProducts } from "./boot.js";
import { NicDriver } from "./nic.js";
import { NicService, shared } from "./nic-service.js";

export { MAX_QUEUED_REPORTS } from "./attestation.js";

export interface AgentOptions {
  /** Entropy for the TLS key (the composition root may pass a seeded stream; default: node crypto). */
  readonly entropy?: ((n: number) => Uint8Array) | SeededRng;
  /** Pushed heartbeat period of v1 sessions, agent ns (default 1 s; 0: none). */
  readonly heartbeatIntervalNs?: bigint;
  /** Most RX records plus requests handled in one VMRUN (default 64). */
  readonly workPerRun?: number;
}

export interface AgentIntrospection {
  readonly phase: "boot" | "running" | "failed";
  readonly bootError: BootError | undefined;
  readonly config: AgentConfig | undefined;
  readonly layout: SevenLayout | undefined;
  /** The service core (tests inspect traps, counters, run state). */
  readonly core: VmiCore | undefined;
  readonly tlsSpki: Uint8Array | undefined;
  readonly tlsCertDer: Uint8Array | undefined;
  readonly connections: number;
  readonly sessions: readonly { readonly conn: number; readonly protocol: "v1" | "v0" }[];
  readonly nic: NicDriver["stats"];
  readonly attestation: { readonly disabled: boolean; readonly completed: number; readonly failed: number; readonly certificates: boolean };
  readonly notes: Readonly<Record<string, number>>;
  readonly runs: number;
  readonly steps: number;
}

export interface Agent {
  readonly program: VcpuProgram;
  readonly introspect: AgentIntrospection;
}

type Phase = "enter" | "boot" | "faults" | "rx" | "work" | "tick" | "tx" | "exit";

type LastExit = { readonly kind: "yield" } | { readonly kind: "greq"; readonly req: PendingGreq } | { readonly kind: "psc" } | undefined;

interface VcpuLoop {
  phase: Phase;
  last: LastExit;
  work: number;
  hint: bigint;
}

/** While this vCPU's guest context is held, ask to be woken this often (the host marks it held). */
export const HOLD_POLL_NS = 5_000_000n;

export function createAgent(opts: AgentOptions = {}): Agent {
  return new AgentRuntime(opts).agent;
}

const NEXT: StepResult = { kind: "next" };

class AgentRuntime {
  readonly agent: Agent;
  readonly #heartbeatNs: bigint;
  readonly #workPerRun: number;
  readonly #boot: Boot;
  readonly #loops = new Map<number, VcpuLoop>();
  readonly #notes: Record<string, number> = {};
  #nic: NicService | undefined;
  #products: BootProducts | undefined;
  #backend: Vmpl0Backend | undefined;
  #core: VmiCore | undefined;
  #attestation: Attestation | undefined;
  #bootError: BootError | undefined;
  #askedAt: bigint | undefined;
  #nextDue: bigint | undefined;
  #runs = 0;
  #steps = 0;

  constructor(opts: AgentOptions) {
    const e = opts.entropy;
    const entropy = e === undefined ? (n: number) => new Uint8Array(randomBytes(n)) : e instanceof SeededRng ? (n: number) => e.bytes(n) : e;
    this.#heartbeatNs = opts.heartbeatIntervalNs ?? DEFAULT_HEARTBEAT_NS;
    this.#workPerRun = Math.max(1, opts.workPerRun ?? 64);
    this.#boot = new Boot({
      entropy,
      attachNic: (cpu, layout) => {
        const driver = new NicDriver(layout.nic);
        this.#note(`nic-${driver.attach(shared(cpu))}`);
        this.#nic = new NicService(driver, (w) => this.#note(w));
      },
    });
    this.agent = { program: { step: (cpu) => this.step(cpu) }, introspect: this.#introspection() };
  }

  #introspection(): AgentIntrospection {
    const self = this;
    return {
      get phase() {
        return self.#bootError ? "failed" : self.#core ? "running" : "boot";
      },
      get bootError() {
        return self.#bootError;
      },
      get config() {
        return self.#boot.config;
      },
      get layout() {
        return self.#boot.layout;
      },
      get core() {
        return self.#core;
      },
      get tlsSpki() {
        return self.#products?.tls.spki;
      },
      get tlsCertDer() {
        return self.#products?.tls.certDer;
      },
      get connections() {
        return self.#nic?.connections.length ?? 0;
      },
      get sessions() {
        return (self.#nic?.connections ?? []).filter((c) => c.session && !c.session.closed).map((c) => ({ conn: c.id, protocol: c.session!.protocol }));
      },
      get nic() {
        return self.#nic?.driver.stats ?? { rxRecords: 0, rxBytes: 0, txRecords: 0, txBytes: 0, errors: 0 };
      },
      get attestation() {
        const a = self.#attestation;
        return { disabled: a?.disabled ?? true, completed: a?.completed ?? 0, failed: a?.failed ?? 0, certificates: a?.certificates ?? false };
      },
      get notes() {
        return { ...self.#notes };
      },
      get runs() {
        return self.#runs;
      },
      get steps() {
        return self.#steps;
      },
    };
  }

  #note(what: string): void {
    this.#notes[what] = (this.#notes[what] ?? 0) + 1;
  }

  #loop(vcpu: number): VcpuLoop {
    let l = this.#loops.get(vcpu);
    if (l === undefined) this.#loops.set(vcpu, (l = { phase: "enter", last: undefined, work: 0, hint: 0n }));
    return l;
  }

  step(cpu: Cpu): StepResult {
    this.#steps++;
    const l = this.#loop(cpu.vcpu);
    this.#backend?.bind(cpu);
    try {
      return this.#step(cpu, l);
    } catch (e) {
      if (e instanceof CpuFault) throw e; // the platform turns it into an exit; the step re-executes
      if (e instanceof BootError) {
        this.#bootError = e;
        this.#note("boot-failed");
        l.phase = "exit";
        return NEXT;
      }
      throw e;
    } finally {
      this.#backend?.bind(undefined);
    }
  }

  #step(cpu: Cpu, l: VcpuLoop): StepResult {
    const nic = this.#nic;
    switch (l.phase) {
      case "enter":
        return this.#enter(cpu, l);
      case "boot":
        return this.#bootStep(cpu, l);
      case "faults":
        nic?.reap();
        this.#core!.checkFaults({
          vcpu: cpu.vcpu,
          npf: (l.hint & SEVEN_RUN_REASON.NPF_FORWARD) !== 0n,
          db: (l.hint & SEVEN_RUN_REASON.DB_FORWARD) !== 0n,
        });
        l.phase = "rx";
        return NEXT;
      case "rx":
        if (l.work >= this.#workPerRun || nic === undefined || !nic.rxStep(cpu)) l.phase = "work";
        else l.work++;
        return NEXT;
      case "work": {
        const released = this.#core!.run.released;
        if (l.work >= this.#workPerRun || nic === undefined || !nic.workStep()) l.phase = "tick";
        else if (this.#core!.run.released !== released) {
          // The request released a guest context (an answered event, a resume): its TX and
          // yield now, so that the host runs that context at once; further requests and the
          // periodic duties are the next run's (the NIC's WANT_RUN says so).
          l.work++;
          l.phase = "tx";
        } else l.work++;
        return NEXT;
      }
      case "tick":
        nic?.reap();
        this.#nextDue = nic?.tick(cpu.rdtsc());
        l.phase = "tx";
        return NEXT;
      case "tx":
        if (nic === undefined || !nic.txStep(cpu)) l.phase = "exit";
        return NEXT;
      case "exit":
        return this.#exit(cpu, l);
    }
  }

  // ------------------------------------------------------------------ enter / exit

  #enter(cpu: Cpu, l: VcpuLoop): StepResult {
    this.#runs++;
    l.work = 0;
    const g = this.#ghcbGpa(cpu);
    const last = l.last;
    l.last = undefined;
    l.hint = 0n;
    if (g !== undefined) {
      const page = cpu.readPhys(g, PAGE_SIZE, { shared: true });
      const info1 = ghcbGet(page, "sw_exit_info_1") ?? 0n;
      const info2 = ghcbGet(page, "sw_exit_info_2") ?? 0n;
      if (last?.kind === "greq") {
        if (this.#attestation!.complete(cpu, last.req, info2) === "retry") {
          this.#note("greq-retry-without-certs");
          return this.#vmgexitGuestRequest(cpu, l, last.req);
        }
      } else if (last?.kind === "psc") {
        this.#boot.pscDone(cpu, info1 === 0n, pscUsable);
        this.#afterBoot(cpu);
      } else {
        l.hint = info2;
      }
    }
    const now = cpu.rdtsc();
    if (this.#askedAt !== undefined) {
      if (now > this.#askedAt && this.#core) this.#core.counters.vmpl0StarvedNs += now - this.#askedAt;
      this.#askedAt = undefined;
    }
    if (this.#bootError) l.phase = "exit";
    else l.phase = this.#core ? "faults" : "boot";
    return NEXT;
  }

  #ghcbGpa(cpu: Cpu): Gpa | undefined {
    return this.#boot.layout?.agentGhcb[cpu.vcpu];
  }

  /** A fresh GHCB page image (invalidated, protocol version set). */
  #ghcb(cpu: Cpu, g: Gpa): Uint8Array {
    const page = cpu.readPhys(g, PAGE_SIZE, { shared: true });
    ghcbInvalidate(page);
    page[0xffa] = GHCB_PROTOCOL_VERSION_SNP & 0xff;
    page[0xffb] = GHCB_PROTOCOL_VERSION_SNP >> 8;
    page.fill(0, 0xffc, 0x1000);
    return page;
  }

  #vmgexit(cpu: Cpu, g: Gpa, page: Uint8Array): StepResult {
    cpu.writePhys(g, page, { shared: true });
    cpu.wrmsr(MSR_GHCB, g);
    return { kind: "vmgexit" };
  }

  #vmgexitGuestRequest(cpu: Cpu, l: VcpuLoop, req: PendingGreq): StepResult {
    const g = this.#ghcbGpa(cpu)!;
    const page = this.#ghcb(cpu, g);
    this.#attestation!.issue(cpu, page, req);
    l.last = { kind: "greq", req };
    l.phase = "enter";
    return this.#vmgexit(cpu, g, page);
  }

  #exit(cpu: Cpu, l: VcpuLoop): StepResult {
    l.phase = "enter";
    const g = this.#ghcbGpa(cpu);
    // Not even located (boot failed at the start): nothing to say to the host.
    if (g === undefined) return { kind: "hlt" };
    const req = this.#bootError ? undefined : this.#attestation?.next();
    if (req !== undefined) return this.#vmgexitGuestRequest(cpu, l, req);
    const page = this.#ghcb(cpu, g);
    const { flags, delay, wantRun } = this.#yieldFlags(cpu);
    ghcbSet(page, "sw_exit_code", BigInt(SEVEN_NAE_YIELD));
    ghcbSet(page, "sw_exit_info_1", flags);
    ghcbSet(page, "sw_exit_info_2", delay);
    const now = cpu.rdtsc();
    this.#askedAt = (flags & AGENT_YIELD.MORE_WORK) !== 0n || wantRun ? now : delay > 0n ? now + delay : undefined;
    l.last = { kind: "yield" };
    return this.#vmgexit(cpu, g, page);
  }

  /** The yield's flags and wake-up delay; `wantRun`: the NIC's WANT_RUN is raised. */
  #yieldFlags(cpu: Cpu): { flags: bigint; delay: bigint; wantRun: boolean } {
    if (this.#bootError) return { flags: 0n, delay: 0n, wantRun: false };
    if (!this.#core) return { flags: AGENT_YIELD.MORE_WORK, delay: 0n, wantRun: false };
    let flags = 0n;
    let delay = 0n;
    // NIC work (requests, RX records, TLS output still to come, sessions to end) is the
    // NIC's: yieldState raises the NIC's WANT_RUN, on which the host runs VMPL0 on the NIC's
    // vCPU only. MORE_WORK asks for this vCPU: a queued attestation (its guest request goes
    // out from whichever vCPU runs), so no vCPU runs VMPL0 for nothing.
    const nic = this.#nic?.yieldState(cpu) ?? { more: false, txPending: false };
    if ((this.#attestation?.queued ?? 0) > 0) flags |= AGENT_YIELD.MORE_WORK;
    if (nic.txPending) flags |= AGENT_YIELD.TX_PENDING;
    const now = cpu.rdtsc();
    const due = this.#nextDue;
    if (due !== undefined) delay = due > now ? due - now : 1n;
    if (this.#core.isStopped(cpu.vcpu)) flags |= AGENT_YIELD.HOLDING;
    // Held contexts, and a single step (whose end may be an exit the host does not
    // forward, or none at all), are watched from hardware state: poll.
    if ((flags & AGENT_YIELD.HOLDING) !== 0n || this.#core.stepping !== undefined) {
      if (delay === 0n || delay > HOLD_POLL_NS) delay = HOLD_POLL_NS;
    }
    return { flags, delay, wantRun: nic.more };
  }

  // ------------------------------------------------------------------ boot

  #bootStep(cpu: Cpu, l: VcpuLoop): StepResult {
    if (this.#boot.waiting) {
      l.phase = "exit";
      return NEXT;
    }
    const r = this.#boot.step(cpu);
    if (r.kind === "psc") {
      const g = this.#ghcbGpa(cpu)!;
      const page = this.#ghcb(cpu, g);
      const desc = new DataView(page.buffer, page.byteOffset + GHCB_SHARED_BUFFER_OFFSET, 8 + 8 * r.pages.length);
      desc.setUint16(0, 0, true);
      desc.setUint16(2, r.pages.length - 1, true);
      r.pages.forEach((p, i) => desc.setBigUint64(8 + 8 * i, (p & ~0xfffn) | (BigInt(GHCB_PSC_OP.SHARED) << 52n), true));
      ghcbSet(page, "sw_exit_code", BigInt(NAE_EXIT.PSC));
      ghcbSet(page, "sw_exit_info_1", 0n);
      ghcbSet(page, "sw_exit_info_2", 0n);
      ghcbSet(page, "sw_scratch", g + BigInt(GHCB_SHARED_BUFFER_OFFSET));
      l.last = { kind: "psc" };
      l.phase = "enter";
      return this.#vmgexit(cpu, g, page);
    }
    if (r.kind === "done") {
      this.#afterBoot(cpu);
      l.phase = "faults";
    }
    return NEXT;
  }

  #afterBoot(cpu: Cpu): void {
    if (this.#core || this.#boot.stage !== "done") return;
    const r = this.#boot.step(cpu);
    if (r.kind !== "done") return;
    const p = r.products;
    this.#products = p;
    this.#attestation = new Attestation(p.vmpck0, p.layout, p.certBuffer);
    p.vmpck0.fill(0);
    this.#backend = new Vmpl0Backend(p.layout, cpu.cBit);
    this.#backend.bind(cpu);
    this.#core = new VmiCore(this.#backend, {
      limits: p.config.limits,
      agentVersion: AGENT_VERSION,
      legacyV0Allowed: p.config.legacyV0,
      attestation: this.#attestation.provider,
    });
    this.#nic?.setContext({
      tls: { keyPem: p.tls.keyPem, certPem: p.tls.certPem },
      config: p.config,
      core: this.#core,
      serverSpki: p.tls.spki,
      heartbeatIntervalNs: this.#heartbeatNs,
      note: (what) => this.#note(what),
    });
    this.#note(p.certBuffer ? "cert-buffer" : "no-cert-buffer");
  }
}

/** After the page-state change: the pages must really be shared now (a C=0 read succeeds). */
function pscUsable(cpu: Cpu, g: Gpa): boolean {
  try {
    cpu.readPhys(g, 8, { shared: true });
    return true;
  } catch (e) {
    if (e instanceof CpuFault) return false;
    throw e;
  }
}

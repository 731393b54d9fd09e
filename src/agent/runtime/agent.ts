/**
 * The VMPL0 agent as a VcpuProgram. Each `step` is one small unit of work (an
 * "instruction"); the agent keeps where it is per vCPU, so a VMRUN that ends on the host's
 * instruction budget continues where it stopped. One VMRUN of the service loop:
 *
 *   enter  → finish what the last VMGEXIT asked (a guest request, the page-state change),
 *            account the time the host kept VMPL0 waiting
 *   boot   → (until booted) boot.ts, one unit per step
 *   faults → believe forwarded faults only from the VMPL1 VMSAs' exit fields (core.ts)
 *   rx     → NIC RX records into the connections' TLS sockets, one record per step
 *   work   → one queued request of one session per step (bounded per VMRUN)
 *   tick   → heartbeats
 *   tx     → ciphertext into the NIC TX ring, one record per step
 *   exit   → a queued attestation: GUEST_REQUEST VMGEXIT; otherwise SEVEN_NAE_YIELD with
 *            MORE_WORK / TX_PENDING / HOLDING and a wake-up delay
 */
import { randomBytes } from "node:crypto";
import type { Gpa } from "../../shared/base/index.js";
import { isSevenError, PAGE_SIZE, SeededRng } from "../../shared/base/index.js";
import {
  AGENT_YIELD,
  GHCB_PROTOCOL_VERSION_SNP,
  GHCB_SHARED_BUFFER_OFFSET,
  GHCB_PSC_OP,
  GUEST_REQUEST_VMM_ERR,
  MSR_GHCB,
  NAE_EXIT,
  NIC_AGENT_FLAGS,
  NIC_MAX_CONNS,
  NIC_MAX_RECORD,
  NIC_RECORD_KIND,
  SEVEN_NAE_YIELD,
  SEVEN_RUN_REASON,
  decodeGuestRequestResult,
  ghcbGet,
  ghcbInvalidate,
  ghcbSet,
  parseCertTable,
} from "../../shared/spec/index.js";
import type { SevenLayout } from "../../shared/spec/index.js";
import { CpuFault } from "../../platform/index.js";
import type { Cpu, StepResult, VcpuProgram } from "../../platform/index.js";
import type { AgentConfig } from "../config.js";
import { BootError } from "../errors.js";
import { AGENT_VERSION } from "../image.js";
import { VmiCore } from "../service/core.js";
import type { ReportOutcome, ReportProvider } from "../service/core.js";
import { DEFAULT_HEARTBEAT_NS } from "../service/session-v1.js";
import { Vmpl0Backend } from "../vmpl0-backend.js";
import { Boot } from "./boot.js";
import type { BootProducts } from "./boot.js";
import { NicConnection } from "./connection.js";
import type { ConnectionContext, ConnectionNote } from "./connection.js";
import { GuestChannel } from "./guest-request.js";
import type { SealedRequest } from "./guest-request.js";
import { NicDriver, NicError } from "./nic.js";
import type { SharedMem } from "./nic.js";

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

interface PendingGreq {
  readonly sealed: SealedRequest;
  readonly done: (r: ReportOutcome) => void;
  ext: boolean;
}

type LastExit = { readonly kind: "yield" } | { readonly kind: "greq"; readonly req: PendingGreq } | { readonly kind: "psc" } | undefined;

interface VcpuLoop {
  phase: Phase;
  last: LastExit;
  work: number;
  hint: bigint;
}

/** Most attestations queued at once. */
export const MAX_QUEUED_REPORTS = 8;
/** While this vCPU's guest context is held, ask to be woken this often (the host marks it held). */
export const HOLD_POLL_NS = 5_000_000n;
/** Certificates larger than this in the host's table are ignored. */
const MAX_CERT_BYTES = 16 << 10;

export function createAgent(opts: AgentOptions = {}): Agent {
  return new AgentRuntime(opts).agent;
}

class AgentRuntime {
  readonly agent: Agent;
  readonly #entropy: (n: number) => Uint8Array;
  readonly #heartbeatNs: bigint;
  readonly #workPerRun: number;
  readonly #boot: Boot;
  readonly #loops = new Map<number, VcpuLoop>();
  readonly #conns = new Map<number, NicConnection>();
  readonly #reports: { reportData: Uint8Array; done: (r: ReportOutcome) => void }[] = [];
  readonly #notes: Record<string, number> = {};
  #nic: NicDriver | undefined;
  #products: BootProducts | undefined;
  #backend: Vmpl0Backend | undefined;
  #core: VmiCore | undefined;
  #channel: GuestChannel | undefined;
  #connCtx: ConnectionContext | undefined;
  #bootError: BootError | undefined;
  #greqInFlight: PendingGreq | undefined;
  #askedAt: bigint | undefined;
  #nextDue: bigint | undefined;
  #failedReports = 0;
  #runs = 0;
  #steps = 0;
  #rr = 0;

  constructor(opts: AgentOptions) {
    const e = opts.entropy;
    this.#entropy = e === undefined ? (n) => new Uint8Array(randomBytes(n)) : e instanceof SeededRng ? (n) => e.bytes(n) : e;
    this.#heartbeatNs = opts.heartbeatIntervalNs ?? DEFAULT_HEARTBEAT_NS;
    this.#workPerRun = Math.max(1, opts.workPerRun ?? 64);
    this.#boot = new Boot({
      entropy: this.#entropy,
      attachNic: (cpu, layout) => {
        this.#nic = new NicDriver(layout.nic);
        this.#note(`nic-${this.#nic.attach(shared(cpu))}`);
      },
    });
    const self = this;
    const introspect: AgentIntrospection = {
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
        return self.#conns.size;
      },
      get sessions() {
        return [...self.#conns.values()].filter((c) => c.session && !c.session.closed).map((c) => ({ conn: c.id, protocol: c.session!.protocol }));
      },
      get nic() {
        return self.#nic?.stats ?? { rxRecords: 0, rxBytes: 0, txRecords: 0, txBytes: 0, errors: 0 };
      },
      get attestation() {
        return {
          disabled: self.#channel?.disabled ?? true,
          completed: self.#channel?.completed ?? 0,
          failed: self.#failedReports,
          certificates: self.#products?.certBuffer !== undefined,
        };
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
    this.agent = { program: { step: (cpu) => this.step(cpu) }, introspect };
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
        return { kind: "next" };
      }
      throw e;
    } finally {
      this.#backend?.bind(undefined);
    }
  }

  #step(cpu: Cpu, l: VcpuLoop): StepResult {
    switch (l.phase) {
      case "enter":
        return this.#enter(cpu, l);
      case "boot":
        return this.#bootStep(cpu, l);
      case "faults":
        this.#core!.checkFaults({
          vcpu: cpu.vcpu,
          npf: (l.hint & SEVEN_RUN_REASON.NPF_FORWARD) !== 0n,
          db: (l.hint & SEVEN_RUN_REASON.DB_FORWARD) !== 0n,
        });
        l.phase = "rx";
        return NEXT;
      case "rx":
        if (l.work >= this.#workPerRun || !this.#rxStep(cpu)) l.phase = "work";
        else l.work++;
        return NEXT;
      case "work":
        if (l.work >= this.#workPerRun || !this.#workStep()) l.phase = "tick";
        else l.work++;
        return NEXT;
      case "tick":
        this.#tick(cpu);
        l.phase = "tx";
        return NEXT;
      case "tx":
        if (!this.#txStep(cpu)) l.phase = "exit";
        return NEXT;
      case "exit":
        return this.#exit(cpu, l);
    }
  }

  // ------------------------------------------------------------------ enter / exit

  #enter(cpu: Cpu, l: VcpuLoop): StepResult {
    this.#runs++;
    l.work = 0;
    const ghcbGpa = this.#ghcbGpa(cpu);
    const last = l.last;
    l.last = undefined;
    l.hint = 0n;
    if (ghcbGpa !== undefined) {
      const page = cpu.readPhys(ghcbGpa, PAGE_SIZE, { shared: true });
      const info1 = ghcbGet(page, "sw_exit_info_1") ?? 0n;
      const info2 = ghcbGet(page, "sw_exit_info_2") ?? 0n;
      if (last?.kind === "greq") {
        const r = this.#greqResult(cpu, last.req, info2);
        if (r !== undefined) return r;
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

  #exit(cpu: Cpu, l: VcpuLoop): StepResult {
    l.phase = "enter";
    const g = this.#ghcbGpa(cpu);
    if (g === undefined) {
      // Not even located (boot failed at the start): nothing to say to the host.
      return { kind: "hlt" };
    }
    const page = cpu.readPhys(g, PAGE_SIZE, { shared: true });
    ghcbInvalidate(page);
    writeGhcbHeader(page);
    const start = this.#bootError ? undefined : this.#nextGuestRequest();
    if (start !== undefined) {
      this.#setGuestRequest(page, start);
      cpu.writePhys(this.#products!.layout.msgRequest, start.sealed.page, { shared: true });
      l.last = { kind: "greq", req: start };
    } else {
      const { flags, delay } = this.#yieldFlags(cpu);
      ghcbSet(page, "sw_exit_code", BigInt(SEVEN_NAE_YIELD));
      ghcbSet(page, "sw_exit_info_1", flags);
      ghcbSet(page, "sw_exit_info_2", delay);
      const now = cpu.rdtsc();
      this.#askedAt = (flags & AGENT_YIELD.MORE_WORK) !== 0n ? now : delay > 0n ? now + delay : undefined;
      l.last = { kind: "yield" };
    }
    cpu.writePhys(g, page, { shared: true });
    cpu.wrmsr(MSR_GHCB, g);
    return { kind: "vmgexit" };
  }

  #yieldFlags(cpu: Cpu): { flags: bigint; delay: bigint } {
    let flags = 0n;
    let delay = 0n;
    const nic = this.#nic;
    if (this.#bootError) return { flags, delay };
    if (!this.#core) {
      flags |= AGENT_YIELD.MORE_WORK;
      return { flags, delay };
    }
    const mem = shared(cpu);
    let more = this.#reports.length > 0 || [...this.#conns.values()].some((c) => (c.serviceable && c.session!.hasWork) || c.closing || c.tlsBusy || c.takeHandshakeActivity());
    let txPending = false;
    if (nic) {
      try {
        if (nic.rxPending(mem) > 0) more = true;
        txPending = nic.txUnconsumed(mem) > 0 || [...this.#conns.values()].some((c) => c.txBytes > 0 || c.wantsClose);
        nic.setAgentFlags(mem, (txPending ? NIC_AGENT_FLAGS.TX_PENDING : 0) | (more ? NIC_AGENT_FLAGS.WANT_RUN : 0));
      } catch (e) {
        if (!(e instanceof NicError)) throw e;
        this.#nicFault(mem);
        more = true;
      }
    }
    if (more) flags |= AGENT_YIELD.MORE_WORK;
    if (txPending) flags |= AGENT_YIELD.TX_PENDING;
    const now = cpu.rdtsc();
    const due = this.#nextDue;
    if (due !== undefined) delay = due > now ? due - now : 1n;
    if (this.#core.isStopped(cpu.vcpu)) {
      flags |= AGENT_YIELD.HOLDING;
      if (delay === 0n || delay > HOLD_POLL_NS) delay = HOLD_POLL_NS;
    }
    return { flags, delay };
  }

  /** Periodic duties of the sessions (pushed heartbeats); remembers the next due time. */
  #tick(cpu: Cpu): void {
    const now = cpu.rdtsc();
    let due: bigint | undefined;
    for (const c of this.#conns.values()) {
      const t = c.session?.tick(now);
      if (t !== undefined && (due === undefined || t < due)) due = t;
    }
    this.#nextDue = due;
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
      const page = cpu.readPhys(g, PAGE_SIZE, { shared: true });
      ghcbInvalidate(page);
      writeGhcbHeader(page);
      const desc = new DataView(page.buffer, page.byteOffset + GHCB_SHARED_BUFFER_OFFSET, 8 + 8 * r.pages.length);
      desc.setUint16(0, 0, true);
      desc.setUint16(2, r.pages.length - 1, true);
      r.pages.forEach((p, i) => desc.setBigUint64(8 + 8 * i, (p & ~0xfffn) | (BigInt(GHCB_PSC_OP.SHARED) << 52n), true));
      ghcbSet(page, "sw_exit_code", BigInt(NAE_EXIT.PSC));
      ghcbSet(page, "sw_exit_info_1", 0n);
      ghcbSet(page, "sw_exit_info_2", 0n);
      ghcbSet(page, "sw_scratch", g + BigInt(GHCB_SHARED_BUFFER_OFFSET));
      cpu.writePhys(g, page, { shared: true });
      cpu.wrmsr(MSR_GHCB, g);
      l.last = { kind: "psc" };
      l.phase = "enter";
      return { kind: "vmgexit" };
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
    this.#channel = new GuestChannel(p.vmpck0);
    p.vmpck0.fill(0);
    this.#backend = new Vmpl0Backend(p.layout, cpu.cBit);
    this.#backend.bind(cpu);
    const provider: ReportProvider = {
      request: (reportData, done) => {
        if (this.#reports.length >= MAX_QUEUED_REPORTS) return false;
        this.#reports.push({ reportData, done });
        return true;
      },
    };
    this.#core = new VmiCore(this.#backend, { limits: p.config.limits, agentVersion: AGENT_VERSION, legacyV0Allowed: p.config.legacyV0, attestation: provider });
    this.#connCtx = {
      tls: { keyPem: p.tls.keyPem, certPem: p.tls.certPem },
      config: p.config,
      core: this.#core,
      serverSpki: p.tls.spki,
      heartbeatIntervalNs: this.#heartbeatNs,
      note: (what: ConnectionNote) => this.#note(what),
    };
    this.#note(p.certBuffer ? "cert-buffer" : "no-cert-buffer");
  }

  // ------------------------------------------------------------------ NIC

  /** One RX record; false when there is none. */
  #rxStep(cpu: Cpu): boolean {
    const nic = this.#nic;
    if (!nic || !this.#connCtx) return false;
    const mem = shared(cpu);
    let rec;
    try {
      rec = nic.nextRx(mem);
    } catch (e) {
      if (!(e instanceof NicError)) throw e;
      this.#nicFault(mem);
      return false;
    }
    if (rec === undefined) return false;
    const c = this.#conns.get(rec.conn);
    switch (rec.kind) {
      case NIC_RECORD_KIND.OPEN:
        if (c !== undefined || this.#conns.size >= 2 * NIC_MAX_CONNS) {
          this.#note("nic-bad-open");
          if (c !== undefined) c.close();
          return true;
        }
        {
          const conn = new NicConnection(rec.conn, this.#connCtx);
          this.#conns.set(rec.conn, conn);
          if (this.#conns.size > NIC_MAX_CONNS) conn.close();
        }
        return true;
      case NIC_RECORD_KIND.DATA:
        if (c === undefined) this.#note("nic-data-unknown-conn");
        else c.feed(rec.payload);
        return true;
      default:
        if (c === undefined) return true;
        c.hostClose();
        if (c.closeSent) this.#conns.delete(c.id);
        return true;
    }
  }

  #nicFault(mem: SharedMem): void {
    this.#note("nic-fault");
    for (const c of this.#conns.values()) c.hostClose();
    this.#conns.clear();
    this.#nic?.recover(mem);
  }

  /** One TX record; false when nothing more can be written now. */
  #txStep(cpu: Cpu): boolean {
    const nic = this.#nic;
    if (!nic) return false;
    const mem = shared(cpu);
    let free: number;
    try {
      free = nic.txFree(mem);
    } catch (e) {
      if (!(e instanceof NicError)) throw e;
      this.#nicFault(mem);
      return false;
    }
    for (const c of this.#conns.values()) {
      if (c.txBytes > 0) {
        if (free <= 12) return false;
        const chunk = c.takeTx(Math.min(NIC_MAX_RECORD, free - 12))!;
        nic.putTx(mem, c.id, NIC_RECORD_KIND.DATA, chunk, free);
        return true;
      }
      if (c.wantsClose) {
        if (free < 12) return false;
        nic.putTx(mem, c.id, NIC_RECORD_KIND.CLOSE, new Uint8Array(0), free);
        c.closeSent = true;
        if (c.hostClosed) this.#conns.delete(c.id);
        return true;
      }
    }
    return false;
  }

  // ------------------------------------------------------------------ requests

  /** One request of one session (round robin); false when no session has work. */
  #workStep(): boolean {
    const conns = [...this.#conns.values()];
    for (let k = 0; k < conns.length; k++) {
      const c = conns[(this.#rr + k) % conns.length]!;
      if (c.serviceable && c.session!.hasWork) {
        this.#rr = (this.#rr + k + 1) % Math.max(1, conns.length);
        try {
          c.session!.step();
        } catch (e) {
          if (e instanceof CpuFault) throw e;
          if (!isSevenError(e)) this.#note("session-internal-error");
          c.close();
        }
        return true;
      }
    }
    return false;
  }

  // ------------------------------------------------------------------ guest requests

  #nextGuestRequest(): PendingGreq | undefined {
    const ch = this.#channel;
    if (ch === undefined || this.#greqInFlight !== undefined || this.#reports.length === 0) return undefined;
    if (ch.disabled) {
      for (const r of this.#reports.splice(0)) {
        this.#failedReports++;
        r.done({ ok: false, reason: "attestation is disabled (VMPCK0 withdrawn after a failed exchange)" });
      }
      return undefined;
    }
    const next = this.#reports.shift()!;
    const sealed = ch.sealReportRequest(next.reportData);
    this.#greqInFlight = { sealed, done: next.done, ext: this.#products?.certBuffer !== undefined };
    return this.#greqInFlight;
  }

  #setGuestRequest(page: Uint8Array, req: PendingGreq): void {
    const l = this.#products!.layout;
    const cb = this.#products!.certBuffer;
    ghcbSet(page, "sw_exit_code", BigInt(req.ext && cb ? NAE_EXIT.EXT_GUEST_REQUEST : NAE_EXIT.GUEST_REQUEST));
    ghcbSet(page, "sw_exit_info_1", l.msgRequest);
    ghcbSet(page, "sw_exit_info_2", l.msgResponse);
    if (req.ext && cb) {
      ghcbSet(page, "rax", cb.gpa);
      ghcbSet(page, "rbx", BigInt(cb.pages));
    }
  }

  /** The host is back from our guest request. Returns a StepResult to re-issue it, else undefined. */
  #greqResult(cpu: Cpu, req: PendingGreq, info2: bigint): StepResult | undefined {
    const { vmmError, fwError } = decodeGuestRequestResult(info2);
    const l = this.#products!.layout;
    if (req.ext && vmmError === GUEST_REQUEST_VMM_ERR.INVALID_LEN && fwError === 0) {
      // Our certificate buffer is too small: send the very same message without it (same
      // sequence number and bytes: the firmware has not seen it, so no IV is reused).
      req.ext = false;
      const g = this.#ghcbGpa(cpu)!;
      const page = cpu.readPhys(g, PAGE_SIZE, { shared: true });
      ghcbInvalidate(page);
      writeGhcbHeader(page);
      this.#setGuestRequest(page, req);
      cpu.writePhys(l.msgRequest, req.sealed.page, { shared: true });
      cpu.writePhys(g, page, { shared: true });
      cpu.wrmsr(MSR_GHCB, g);
      this.#loop(cpu.vcpu).last = { kind: "greq", req };
      this.#note("greq-retry-without-certs");
      return { kind: "vmgexit" };
    }
    this.#greqInFlight = undefined;
    const ch = this.#channel!;
    let outcome: ReportOutcome;
    if (vmmError !== 0 || fwError !== 0) {
      ch.abandon();
      outcome = { ok: false, reason: `the secure processor answered with an error (vmm ${vmmError}, firmware 0x${fwError.toString(16)})` };
    } else {
      try {
        const report = ch.openReportResponse(cpu.readPhys(l.msgResponse, PAGE_SIZE, { shared: true }));
        const certs = req.ext ? this.#readCerts(cpu) : { vcek: undefined, chain: [] };
        outcome = { ok: true, report, vcek: certs.vcek, chain: certs.chain };
      } catch (e) {
        if (!isSevenError(e) && !(e instanceof RangeError)) throw e;
        outcome = { ok: false, reason: "the guest request's response did not verify" };
      }
    }
    if (!outcome.ok) {
      this.#failedReports++;
      this.#note("attestation-failed");
    }
    req.done(outcome);
    return undefined;
  }

  /** Certificates from the host's table (untrusted, passed through for the owner to verify). */
  #readCerts(cpu: Cpu): { vcek: Uint8Array | undefined; chain: Uint8Array[] } {
    const cb = this.#products!.certBuffer!;
    try {
      const entries = parseCertTable(cpu.readPhys(cb.gpa, cb.pages * PAGE_SIZE, { shared: true }));
      const pick = (n: string) => entries.find((e) => e.name === n && e.data.length > 0 && e.data.length <= MAX_CERT_BYTES)?.data;
      const vcek = pick("vcek") ?? pick("vlek");
      const chain = [pick("ask"), pick("ark")].filter((x): x is Uint8Array => x !== undefined);
      return { vcek, chain };
    } catch (e) {
      if (e instanceof CpuFault || isSevenError(e)) return { vcek: undefined, chain: [] };
      throw e;
    }
  }
}

const NEXT: StepResult = { kind: "next" };

function shared(cpu: Cpu): SharedMem {
  return {
    read: (gpa, len) => cpu.readPhys(gpa, len, { shared: true }),
    write: (gpa, data) => cpu.writePhys(gpa, data, { shared: true }),
  };
}

function writeGhcbHeader(page: Uint8Array): void {
  page[0xffa] = GHCB_PROTOCOL_VERSION_SNP & 0xff;
  page[0xffb] = GHCB_PROTOCOL_VERSION_SNP >> 8;
  page.fill(0, 0xffc, 0x1000);
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

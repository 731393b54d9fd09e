/**
 * VMPL-aware vCPU scheduling (DESIGN.md "The host"). Every round, for each vCPU:
 *  1. if the agent has work on it — boot, NIC data (the NIC's vCPU), a forwarded
 *     VMPL-permission #NPF or #DB, its timer, MORE_WORK, a guest's run-at-VMPL0 call, or
 *     it was preempted mid-turn — its VMPL0 VMSA is run, with the reasons written as a
 *     hint into the agent's GHCB (sw_exit_info_2), until it yields (SEVEN_NAE_YIELD);
 *  2. then its VMPL1 context gets a time slice (VMRUN with an instruction budget) and its
 *     exit is handled: #NPF with the VMPL bit → forwarded; #DB → forwarded; VMGEXIT → the
 *     GHCB handler; HLT → idle until a timer tick; VMEXIT_INVALID → the context is paused
 *     (its VMSA bit is clear): not tried again until the RMP shows the bit set after the
 *     agent ran, or on a retry timer;
 *     SHUTDOWN → that vCPU's guest is dead.
 * A forwarded fault or a run-at-VMPL0 call runs VMPL0 on that vCPU right after the exit, as
 * a hypervisor switching VMPLs on one vCPU would (not after the other vCPUs' slices).
 * A context the agent held (HOLDING) is released as soon as its VMSA's RMP VMSA bit, clear
 * when the hold began, is set again (the agent resumed it from another vCPU: the event was
 * answered); a paused one is tried again only once that bit is set, or on its retry timer.
 *
 * The agent releasing a held context (an answered event) makes that context's slice run at
 * once, as an IPI would ("kick"), ahead of the socket writes of the same turn.
 *
 * Latency: while anything waits on the agent or the network — a VMPL1 context held or
 * paused by the agent (an open event, a single step), agent work, relayed bytes in flight,
 * or NIC traffic in the last `lingerMs` — VMPL1 slices are short (`latencyBudget`) and the
 * loop also yields to the event loop between two vCPUs' turns; NIC data found there runs
 * VMPL0 on the NIC's vCPU at once, as an interrupt would. Otherwise slices are long and the
 * guest keeps its throughput. The loop yields to the Node event loop between rounds
 * (one turn, behind the callbacks the round queued, when something ran; otherwise it sleeps until the next timer or a wake-up
 * from the NIC, which is immediate). The relay's socket writes of a turn go out together
 * (`NicRelay.flush`) before the next slice.
 * When every VMPL1 context is paused, held or dead, `onAllPaused` is called once (again
 * after one runs).
 *
 * Adversary switches that act on scheduling live here too: starve or delay VMPL0, forge
 * #NPF forwards, inject interrupts, VMRUN paused contexts anyway, read/write private memory.
 */
import { writeU64 } from "../shared/base/index.js";
import type { Clock, Gpa, SeededRng } from "../shared/base/index.js";
import { AGENT_YIELD, GHCB, GHCB_VALID_BITMAP_OFFSET, NPF_EXITINFO1, SEVEN_RUN_REASON, SVM_EXIT, ghcbValidBit } from "../shared/spec/index.js";
import type { SevenLayout } from "../shared/spec/index.js";
import { VMEXIT_HLT, VMEXIT_INTR, VMEXIT_INVALID, VMEXIT_SHUTDOWN } from "../platform/index.js";
import type { HypervisorPort, VmExit } from "../platform/index.js";
import type { AdversaryConfig } from "./adversary/config.js";
import { readPrivate, writePrivate } from "./adversary/memory.js";
import type { PrivateReadObservation } from "./adversary/memory.js";
import { HostError } from "./errors.js";
import type { GhcbHandler } from "./ghcb-handler.js";
import type { NicRelay } from "./nic/relay.js";
import type { Counters, HostLog } from "./observe.js";

export type GuestState = "runnable" | "halted" | "paused" | "held" | "dead";

interface VcpuState {
  guest: GuestState;
  /** When a halted or paused context is tried again (clock ms). */
  guestRetryAt: number;
  agentBooted: boolean;
  agentDead: boolean;
  /** SEVEN_RUN_REASON bits waiting to be delivered. */
  agentReasons: bigint;
  agentWakeAt: number | undefined;
  agentMoreWork: boolean;
  /** Preempted mid-turn (budget ran out): continue next round. */
  agentInTurn: boolean;
  /**
   * The last VMPL0 exit ended a turn (a yield): the next VMRUN enters afresh and reads the
   * run reasons from its GHCB. False while a turn is unfinished (preempted, or a request
   * such as GUEST_REQUEST whose result sits in the GHCB): reasons then wait.
   */
  agentFresh: boolean;
  /** The guest asked to run VMPL0 (run-at-VMPL). */
  guestCall: boolean;
  /** Since when the agent has had work (for delay-vmpl0). */
  agentNeedSince: number | undefined;
  /** Stopped by the host itself (the --no-sev baseline's pause, KVMi-style). */
  hostStopped: boolean;
  /** The RMP VMSA bit of the VMPL1 VMSA when the agent said HOLDING (see #recheckStopped). */
  heldBit: boolean;
}

export interface SchedulerOptions {
  readonly hv: HypervisorPort;
  readonly layout: SevenLayout;
  readonly clock: Clock;
  /** Whether a VMPL0 agent runs (false for --no-sev). */
  readonly agent: boolean;
  readonly ghcb: GhcbHandler;
  readonly nic?: NicRelay;
  /** The vCPU whose VMPL0 serves the NIC (default 0). */
  readonly nicVcpu?: number;
  readonly adversary: AdversaryConfig;
  readonly rng: SeededRng;
  readonly counters: Counters;
  readonly log: HostLog;
  /** VMPL1 instructions per time slice (default 4000; with `sliceMs`, the largest budget). */
  readonly guestBudget?: number;
  /**
   * Size VMPL1 slices by host CPU time instead (like a preemption timer): the budget follows
   * the measured instructions per millisecond so that a slice takes about this long. Off by
   * default (fixed budgets keep the interleaving of vCPUs deterministic).
   */
  readonly sliceMs?: number;
  /**
   * VMPL1 instructions per slice while something waits on the agent or the network (held or
   * paused contexts, agent work, relayed bytes in flight, recent NIC traffic); default 4
   * (about 20 µs of the guest model: the loop looks at the network that often).
   */
  readonly latencyBudget?: number;
  /** How long slices stay short after the last relayed bytes (ms, default 10; 0: not at all). */
  readonly lingerMs?: number;
  /** VMPL0 instructions per VMRUN (default 100000). */
  readonly agentBudget?: number;
  /** How long a paused context waits before it is tried again without the agent running (ms, default 50). */
  readonly pausedRetryMs?: number;
  /** How long a halted context sleeps (ms, default 1). */
  readonly haltMs?: number;
  /** Known plaintext at the default read-private GPA (the agent image's first bytes). */
  readonly knownPlaintext?: Uint8Array;
  readonly onAllPaused?: () => void;
  /** The world ends: a terminate request, or an error in a round. */
  readonly onStop?: (reason: StopReason) => void;
}

export type StopReason =
  | { readonly kind: "stopped" }
  | { readonly kind: "terminate"; readonly vcpu: number; readonly vmpl: number; readonly reasonSet: number; readonly reason: number }
  | { readonly kind: "error"; readonly error: unknown };

/** How many VMRUNs one agent turn may take in one round (guest requests inside a turn). */
const MAX_AGENT_VMRUNS_PER_ROUND = 16;
const IDLE_MAX_MS = 100;
const DEFAULT_LATENCY_BUDGET = 4;
const DEFAULT_LINGER_MS = 10;

export class Scheduler {
  readonly #o: SchedulerOptions;
  readonly #v: VcpuState[];
  readonly #guestBudget: number;
  readonly #sliceMs: number | undefined;
  /** Measured VMPL1 instructions per host millisecond (sliceMs mode). */
  #rate = 0;
  readonly #latencyBudget: number;
  readonly #lingerMs: number;
  /** The NIC's activity count last seen, and when it last changed (clock ms). */
  #nicActivity = 0;
  #nicActiveAt = Number.NEGATIVE_INFINITY;
  readonly #agentBudget: number;
  readonly #nicVcpu: number;
  readonly #startedAt: number;
  #allPaused = false;
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #stopReason: StopReason | undefined;
  #round = 0;
  /** Set by inject-interrupt vmpl=1 for the current round. */
  #storm = false;
  /** Set by inject-interrupt vmpl=0 when it picked the NIC's vCPU. */
  #spuriousNic = false;
  /** Contexts the agent released from another vCPU, not run since (see #kick). */
  readonly #released = new Set<number>();
  #kicking = false;
  lastPrivateRead: PrivateReadObservation | undefined;

  constructor(o: SchedulerOptions) {
    this.#o = o;
    this.#guestBudget = positive(o.guestBudget ?? 4000, "guestBudget");
    if (o.sliceMs !== undefined && !(o.sliceMs > 0)) throw new HostError("BAD_OPTION", `sliceMs must be positive (got ${o.sliceMs})`);
    this.#sliceMs = o.sliceMs;
    this.#latencyBudget = positive(o.latencyBudget ?? DEFAULT_LATENCY_BUDGET, "latencyBudget");
    if (o.lingerMs !== undefined && !(o.lingerMs >= 0)) throw new HostError("BAD_OPTION", `lingerMs must not be negative (got ${o.lingerMs})`);
    this.#lingerMs = o.lingerMs ?? DEFAULT_LINGER_MS;
    this.#agentBudget = positive(o.agentBudget ?? 100_000, "agentBudget");
    this.#nicVcpu = o.nicVcpu ?? 0;
    if (!Number.isInteger(this.#nicVcpu) || this.#nicVcpu < 0 || this.#nicVcpu >= o.layout.vcpus) {
      throw new HostError("BAD_OPTION", `NIC vCPU ${this.#nicVcpu} does not exist`, { nicVcpu: this.#nicVcpu });
    }
    this.#startedAt = o.clock.now();
    this.#v = Array.from({ length: o.layout.vcpus }, () => ({
      guest: "runnable" as GuestState,
      guestRetryAt: 0,
      agentBooted: !o.agent,
      agentDead: !o.agent,
      agentReasons: 0n,
      agentWakeAt: undefined,
      agentMoreWork: false,
      agentInTurn: false,
      agentFresh: true,
      guestCall: false,
      agentNeedSince: undefined,
      hostStopped: false,
      heldBit: false,
    }));
  }

  /** The state of each vCPU's VMPL1 context ("held" also when the host itself stopped it). */
  guestStates(): GuestState[] {
    return this.#v.map((s) => (s.hostStopped && s.guest !== "dead" ? "held" : s.guest));
  }

  /**
   * The host's own run control (the non-confidential baseline pauses vCPUs by not
   * scheduling them, as KVM does for KVMi). It cannot pause a CVM: that is the agent's.
   */
  setGuestRunnable(vcpu: number, runnable: boolean): void {
    const s = this.#v[vcpu];
    if (s === undefined) throw new HostError("BAD_OPTION", `no vCPU ${vcpu}`, { vcpu });
    s.hostStopped = !runnable;
    if (runnable) this.#allPausedRearm();
    else this.#checkAllPaused();
  }

  agentBooted(vcpu: number): boolean {
    return this.#v[vcpu]?.agentBooted ?? false;
  }

  get rounds(): number {
    return this.#round;
  }

  get stopReason(): StopReason | undefined {
    return this.#stopReason;
  }

  // ------------------------------------------------------------------ the loop

  start(): void {
    if (this.#running) return;
    if (this.#stopReason !== undefined && this.#stopReason.kind !== "stopped") throw new HostError("BAD_STATE", "the scheduler has ended");
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Stops after the current round; resolves when the loop has exited. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#stopReason ??= { kind: "stopped" };
    this.wake();
    await this.#loop;
    this.#loop = undefined;
  }

  /** Wakes an idle loop (new NIC data, a drained socket, ...). */
  wake(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  async #run(): Promise<void> {
    while (this.#running) {
      let busy = false;
      try {
        const now = this.#roundBegin();
        for (let v = 0; v < this.#v.length && this.#running; v++) {
          // While something waits on the agent or the network, the event loop also gets in
          // between two vCPUs' turns (socket data, the agent's TLS write completions).
          if (v > 0 && this.#waiting(now) && this.#hasTurn(v, this.#o.clock.now())) {
            await eventLoopTurn();
            if (!this.#running) break;
            busy = this.#nicInterrupt(this.#o.clock.now()) || busy;
            if (this.#ended()) break;
          }
          busy = this.#roundVcpu(v, v === 0 ? now : this.#o.clock.now()) || busy;
          if (this.#ended()) break;
        }
        this.#roundEnd();
      } catch (e) {
        this.#end({ kind: "error", error: e });
        break;
      }
      if (!this.#running) break;
      if (busy) await eventLoopTurn();
      else await this.#idle();
    }
  }

  #idle(): Promise<void> {
    const now = this.#o.clock.now();
    let until = now + IDLE_MAX_MS;
    for (const s of this.#v) {
      if (s.agentWakeAt !== undefined) until = Math.min(until, s.agentWakeAt);
      if (s.guest === "halted" || s.guest === "paused") until = Math.min(until, s.guestRetryAt);
      if (s.agentNeedSince !== undefined && this.#o.adversary.delayVmpl0 !== undefined) until = Math.min(until, s.agentNeedSince + this.#o.adversary.delayVmpl0.ms);
    }
    const ms = Math.max(0, Math.min(IDLE_MAX_MS, until - now));
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  #ended(): boolean {
    return this.#stopReason !== undefined && this.#stopReason.kind !== "stopped";
  }

  #end(reason: StopReason): void {
    this.#running = false;
    this.#stopReason = reason;
    if (reason.kind === "error") this.#o.log.event("scheduler.error", `the scheduler stopped: ${reason.error instanceof Error ? reason.error.message : String(reason.error)}`);
    this.#o.onStop?.(reason);
  }

  // ------------------------------------------------------------------ one round

  /** Runs one round synchronously; returns whether any context ran. */
  round(): boolean {
    const now = this.#roundBegin();
    let busy = false;
    for (let v = 0; v < this.#v.length; v++) {
      busy = this.#roundVcpu(v, now) || busy;
      if (this.#ended()) break;
    }
    this.#roundEnd();
    return busy;
  }

  /** The start of a round: the adversary's turn, the NIC pumped, its work noted. */
  #roundBegin(): number {
    const o = this.#o;
    const now = o.clock.now();
    this.#round++;
    o.counters.inc("scheduler.rounds");
    this.#adversaryRound();
    o.nic?.pump();
    if (o.nic !== undefined && o.agent && o.nic.agentWork()) this.#v[this.#nicVcpu]!.agentReasons |= SEVEN_RUN_REASON.NIC;
    if (o.nic !== undefined && o.nic.activity !== this.#nicActivity) {
      this.#nicActivity = o.nic.activity;
      this.#nicActiveAt = now;
    }
    return now;
  }

  /** One vCPU's part of a round: VMPL0 if the agent has work, then a VMPL1 slice. */
  #roundVcpu(v: number, now: number): boolean {
    const s = this.#v[v]!;
    let busy = false;
    if (!s.agentDead) {
      if (s.agentWakeAt !== undefined && now >= s.agentWakeAt) {
        s.agentWakeAt = undefined;
        s.agentReasons |= SEVEN_RUN_REASON.TIMER;
      }
      busy = this.#serveAgent(v, s, now);
      if (this.#ended()) return busy;
      busy = this.#kick(v, now) || busy;
      if (this.#ended()) return busy;
    }
    busy = this.#guestTurn(v, s, now) || busy;
    this.#o.nic?.flush();
    return busy;
  }

  /**
   * A VMPL1 slice if the context may run; a fault it forwards goes to VMPL0 right away.
   * What the agent sent goes to the sockets first — unless the agent has just released this
   * context (an answered event: its single step), which then runs before the writes (they
   * can wait one instruction).
   */
  #guestTurn(v: number, s: VcpuState, now: number): boolean {
    const released = this.#released.delete(v);
    if (!this.#guestRunnable(s, now)) return false;
    if (!released) this.#o.nic?.flush();
    let busy = this.#guestSlice(v, s, now);
    if (this.#ended()) return busy;
    // The exit forwarded a fault or asked for VMPL0: switch to VMPL0 on this vCPU now.
    if (!s.agentDead && (s.guestCall || (s.agentReasons & FORWARDS) !== 0n)) {
      busy = this.#serveAgent(v, s, now) || busy;
      if (!this.#ended()) busy = this.#kick(v, now) || busy;
    }
    return busy;
  }

  /**
   * Contexts the agent on vCPU `v` released on other vCPUs (the answer to an event, a
   * single step to take) run now, as an IPI would make them, not after the rest of the round.
   */
  #kick(v: number, now: number): boolean {
    if (this.#kicking) return false; // not nested: the rest run in their own turns
    this.#kicking = true;
    let busy = false;
    try {
      for (const u of [...this.#released]) {
        if (u === v) continue;
        const t = this.#v[u]!;
        if (t.agentReasons !== 0n || t.guestCall) continue; // its VMPL0 comes first, in its turn
        this.#o.counters.inc("scheduler.kicks");
        busy = this.#guestTurn(u, t, now) || busy;
        if (this.#ended()) break;
      }
    } finally {
      this.#kicking = false;
    }
    return busy;
  }

  /**
   * Between two vCPUs' turns (after the event loop ran): bytes that arrived for the agent
   * run VMPL0 on the NIC's vCPU now, as an interrupt would, not after the rest of the round.
   */
  #nicInterrupt(now: number): boolean {
    const o = this.#o;
    if (o.nic === undefined || !o.agent) return false;
    o.nic.pump();
    if (o.nic.activity !== this.#nicActivity) {
      this.#nicActivity = o.nic.activity;
      this.#nicActiveAt = now;
    }
    if (!o.nic.agentWork()) return false;
    const s = this.#v[this.#nicVcpu]!;
    if (s.agentDead) return false;
    s.agentReasons |= SEVEN_RUN_REASON.NIC;
    o.counters.inc("scheduler.nic-interrupts");
    let busy = this.#serveAgent(this.#nicVcpu, s, now);
    if (this.#ended()) return busy;
    busy = this.#kick(this.#nicVcpu, now) || busy;
    // The NIC's own context, if the agent just released it, returns to VMPL1 as after an interrupt.
    if (!this.#ended() && this.#released.has(this.#nicVcpu)) busy = this.#guestTurn(this.#nicVcpu, s, now) || busy;
    o.nic.flush();
    return busy;
  }

  #roundEnd(): void {
    this.#storm = false;
    if (!this.#ended()) this.#checkAllPaused();
    this.#o.nic?.flush();
  }

  /** Runs VMPL0 on `v` if the agent has work and the adversary lets it; true if it ran. */
  #serveAgent(v: number, s: VcpuState, now: number): boolean {
    if (!this.#agentNeeded(s)) {
      s.agentNeedSince = undefined;
      return false;
    }
    s.agentNeedSince ??= now;
    if (!this.#vmpl0Allowed(s, now)) return false;
    const held = s.guest === "held";
    this.#agentTurn(v, s, now);
    if (held && s.guest === "runnable") this.#released.add(v);
    return true;
  }

  /** Whether vCPU `v` has anything to run in its turn now. */
  #hasTurn(v: number, now: number): boolean {
    const s = this.#v[v]!;
    if (!s.agentDead && (this.#agentNeeded(s) || (s.agentWakeAt !== undefined && now >= s.agentWakeAt))) return true;
    return this.#guestRunnable(s, now);
  }

  #agentNeeded(s: VcpuState): boolean {
    return !s.agentBooted || s.agentReasons !== 0n || s.agentMoreWork || s.agentInTurn || s.guestCall;
  }

  #vmpl0Allowed(s: VcpuState, now: number): boolean {
    const adv = this.#o.adversary;
    if (adv.starveVmpl0 !== undefined && s.agentBooted && now - this.#startedAt >= adv.starveVmpl0.afterMs) {
      this.#o.counters.inc("adversary.starve-vmpl0");
      return false;
    }
    if (adv.delayVmpl0 !== undefined && s.agentBooted && now - (s.agentNeedSince ?? now) < adv.delayVmpl0.ms) {
      this.#o.counters.inc("adversary.delay-vmpl0");
      return false;
    }
    return true;
  }

  #guestRunnable(s: VcpuState, now: number): boolean {
    if (!s.agentBooted || s.guestCall || s.hostStopped) return false;
    switch (s.guest) {
      case "runnable":
        return true;
      case "halted":
      case "paused":
        return now >= s.guestRetryAt;
      default:
        return false;
    }
  }

  // ------------------------------------------------------------------ VMPL0

  #agentTurn(v: number, s: VcpuState, now: number): void {
    const o = this.#o;
    const onNic = v === this.#nicVcpu && o.nic !== undefined;
    if (s.agentMoreWork) o.counters.inc("agent.runs.more-work");
    if (s.agentFresh) {
      const reasons = (s.agentBooted ? 0n : SEVEN_RUN_REASON.BOOT) | s.agentReasons;
      for (const [bit, name] of REASON_NAMES) if ((reasons & bit) !== 0n) o.counters.inc(`agent.runs.${name}`);
      s.agentReasons = 0n;
      this.#hint(v, reasons);
      if (onNic) o.nic!.beforeAgentRun((reasons & SEVEN_RUN_REASON.NIC) !== 0n && this.#spuriousNic);
      this.#spuriousNic = false;
    } else {
      o.counters.inc("agent.runs.continued");
    }
    s.agentMoreWork = false;
    s.guestCall = false;
    s.agentNeedSince = undefined;
    s.agentInTurn = false;
    for (let i = 0; i < MAX_AGENT_VMRUNS_PER_ROUND; i++) {
      const exit = o.hv.vmrun(v, o.layout.vmsa0[v]!, this.#agentBudget);
      o.counters.inc("vmrun.vmpl0");
      o.counters.inc(`exit.vmpl0.${exitName(exit.code)}`);
      if (!this.#agentExit(v, s, exit, now)) break;
      if (i === MAX_AGENT_VMRUNS_PER_ROUND - 1) s.agentInTurn = true;
    }
    if (onNic) o.nic!.afterAgentRun();
    this.#recheckStopped();
  }

  /**
   * After VMPL0 ran: the agent may have resumed contexts, on this vCPU or another. The RMP
   * (which the host may read) says so: a paused context whose VMSA bit is set again is
   * tried now (else it waits for its retry timer: no VMRUN that hardware would refuse), and
   * a held one whose bit was clear when the agent said HOLDING and is set now was released
   * (an answered event, the step of another vCPU done) — without waiting for VMPL0 to run on
   * that vCPU to say so.
   */
  #recheckStopped(): void {
    for (let u = 0; u < this.#v.length; u++) {
      const t = this.#v[u]!;
      if (t.guest === "paused") {
        if (this.#vmsaBit(u)) t.guestRetryAt = 0;
      } else if (t.guest === "held" && !t.heldBit && this.#vmsaBit(u)) {
        t.guest = "runnable";
        this.#o.counters.inc("scheduler.released");
        this.#released.add(u);
      }
    }
  }

  /** The RMP VMSA bit of vCPU `v`'s VMPL1 VMSA (true without SEV: nothing to read). */
  #vmsaBit(v: number): boolean {
    const hv = this.#o.hv;
    return !hv.sev || hv.rmpRead(this.#o.layout.vmsa1[v]!).vmsa;
  }

  /** Handles one VMPL0 exit; returns true to VMRUN VMPL0 again in this turn. */
  #agentExit(v: number, s: VcpuState, exit: VmExit, now: number): boolean {
    const o = this.#o;
    switch (exit.code) {
      case SVM_EXIT.VMGEXIT: {
        const r = o.ghcb.handle(v, 0, o.layout.vmsa0[v]!, exit);
        switch (r.kind) {
          case "yield":
            s.agentFresh = true;
            s.agentMoreWork = (r.flags & AGENT_YIELD.MORE_WORK) !== 0n;
            // Booted: the first yield that asks for nothing more (the agent yields MORE_WORK while it boots).
            if (!s.agentMoreWork) s.agentBooted = true;
            if ((r.flags & AGENT_YIELD.TX_PENDING) !== 0n) o.nic?.pump();
            this.#hold(v, s, (r.flags & AGENT_YIELD.HOLDING) !== 0n);
            s.agentWakeAt = r.delayNs > 0n ? now + Number(r.delayNs) / 1e6 : undefined;
            return false;
          case "run-vmpl":
            if (r.vmpl === 0) {
              s.agentFresh = false;
              return true;
            }
            s.agentFresh = true;
            s.agentBooted = true;
            this.#hold(v, s, false);
            return false;
          case "terminate":
            this.#terminate(v, 0, r.reasonSet, r.reason);
            return false;
          default:
            s.agentFresh = false;
            return true;
        }
      }
      case VMEXIT_INTR:
        s.agentFresh = false;
        s.agentInTurn = true;
        return false;
      case VMEXIT_HLT:
        s.agentFresh = true;
        s.agentBooted = true;
        return false;
      case VMEXIT_SHUTDOWN:
      case VMEXIT_INVALID:
        s.agentDead = true;
        o.log.event("agent.dead", `vCPU ${v}: the agent's VMSA ${exit.code === VMEXIT_INVALID ? "is not runnable" : "shut down"}`, { vcpu: v, code: exit.code });
        if (!s.agentBooted) s.agentBooted = true;
        return false;
      default:
        o.counters.inc("agent.unexpected-exit");
        o.log.event("agent.unexpected-exit", `vCPU ${v}: VMPL0 exit 0x${exit.code.toString(16)}`, { vcpu: v, code: exit.code, info1: exit.info1, info2: exit.info2 });
        return false;
    }
  }

  #hold(v: number, s: VcpuState, holding: boolean): void {
    if (holding) {
      if (s.guest === "dead") return;
      s.guest = "held";
      s.heldBit = this.#vmsaBit(v);
    } else if (s.guest === "held") {
      s.guest = "runnable";
    }
  }

  /**
   * Writes the run reasons into the agent's GHCB (sw_exit_info_2, and its valid bit): a
   * hint, never trusted. Only those bytes are touched (not a read and write of the page).
   */
  #hint(v: number, reasons: bigint): void {
    const g = this.#o.layout.agentGhcb[v]!;
    const value = new Uint8Array(8);
    writeU64(value, 0, reasons);
    this.#o.hv.write((g + BigInt(HINT_OFFSET)) as Gpa, value);
    const bitmapByte = (g + BigInt(HINT_VALID_BYTE)) as Gpa;
    const b = this.#o.hv.read(bitmapByte, 1);
    b[0] = b[0]! | HINT_VALID_MASK;
    this.#o.hv.write(bitmapByte, b);
  }

  // ------------------------------------------------------------------ VMPL1

  /** One time slice of a VMPL1 context; returns whether it retired anything. */
  #guestSlice(v: number, s: VcpuState, now: number): boolean {
    const o = this.#o;
    const budget = this.#storm ? 1 : this.#sliceBudget(now);
    const t0 = this.#sliceMs !== undefined ? performance.now() : 0;
    const exit = o.hv.vmrun(v, o.layout.vmsa1[v]!, budget);
    if (this.#sliceMs !== undefined && exit.retired >= 16 && budget > this.#latencyBudget) {
      const rate = exit.retired / Math.max(0.01, performance.now() - t0);
      this.#rate = this.#rate === 0 ? rate : 0.8 * this.#rate + 0.2 * rate;
    }
    o.counters.inc("vmrun.vmpl1");
    o.counters.inc(`exit.vmpl1.${exitName(exit.code)}`);
    if (exit.code === VMEXIT_INVALID) {
      if (s.guest !== "paused") o.log.event("vcpu.paused", `vCPU ${v}: VMRUN of the VMPL1 VMSA refused (paused)`, { vcpu: v });
      s.guest = "paused";
      s.guestRetryAt = now + (o.pausedRetryMs ?? 50);
      return false;
    }
    if (s.guest === "paused" || s.guest === "halted") s.guest = "runnable";
    this.#allPausedRearm();
    o.counters.inc("guest.retired", exit.retired);
    switch (exit.code) {
      case VMEXIT_INTR:
        break;
      case VMEXIT_HLT:
        s.guest = "halted";
        s.guestRetryAt = now + (o.haltMs ?? 1);
        break;
      case SVM_EXIT.NPF:
        if ((exit.info1 & NPF_EXITINFO1.VMPL) !== 0n && o.agent) {
          o.counters.inc("npf.forwarded");
          s.agentReasons |= SEVEN_RUN_REASON.NPF_FORWARD;
        } else {
          o.counters.inc("npf.other");
          if (o.counters.get("npf.other") <= 20) {
            o.log.event("npf.other", `vCPU ${v}: #NPF at GPA 0x${exit.info2.toString(16)} (EXITINFO1 0x${exit.info1.toString(16)})`, { vcpu: v, gpa: exit.info2, info1: exit.info1 });
          }
        }
        break;
      case SVM_EXIT.EXCP_DB:
        if (o.agent) {
          o.counters.inc("db.forwarded");
          s.agentReasons |= SEVEN_RUN_REASON.DB_FORWARD;
        }
        break;
      case SVM_EXIT.VMGEXIT: {
        const r = o.ghcb.handle(v, 1, o.layout.vmsa1[v]!, exit);
        if (r.kind === "run-vmpl" && r.vmpl === 0 && o.agent) s.guestCall = true;
        else if (r.kind === "terminate") this.#terminate(v, 1, r.reasonSet, r.reason);
        break;
      }
      case VMEXIT_SHUTDOWN:
        s.guest = "dead";
        o.log.event("vcpu.shutdown", `vCPU ${v}: the VMPL1 context shut down (triple fault)`, { vcpu: v });
        break;
      default:
        o.counters.inc("guest.unexpected-exit");
    }
    return exit.retired > 0;
  }

  #sliceBudget(now: number): number {
    const full = this.#sliceMs === undefined || this.#rate === 0 ? this.#guestBudget : Math.max(64, Math.min(this.#guestBudget, Math.round(this.#rate * this.#sliceMs)));
    if (full > this.#latencyBudget && this.#waiting(now)) {
      this.#o.counters.inc("scheduler.short-slices");
      return this.#latencyBudget;
    }
    return full;
  }

  /**
   * Whether something waits on the agent or the network: a context the agent holds or
   * paused (an open event, a step), agent work not done yet, relayed bytes in flight, or
   * NIC traffic within `lingerMs`.
   */
  #waiting(now: number): boolean {
    const o = this.#o;
    if (!o.agent) return false;
    for (const s of this.#v) {
      if (s.guest === "held" || s.guest === "paused") return true;
      if (!s.agentDead && this.#agentNeeded(s)) return true;
    }
    if (now - this.#nicActiveAt < this.#lingerMs) return true;
    return o.nic?.inFlight() ?? false;
  }

  #terminate(vcpu: number, vmpl: number, reasonSet: number, reason: number): void {
    this.#o.log.event("vm.terminate", `vCPU ${vcpu} VMPL${vmpl} asked to terminate the VM (reason set ${reasonSet}, reason ${reason})`, { vcpu, vmpl, reasonSet, reason });
    this.#end({ kind: "terminate", vcpu, vmpl, reasonSet, reason });
  }

  #checkAllPaused(): void {
    const states = this.guestStates();
    const stopped = states.every((g) => g === "paused" || g === "held" || g === "dead");
    const some = states.some((g) => g === "paused" || g === "held");
    if (stopped && some && !this.#allPaused) {
      this.#allPaused = true;
      this.#o.counters.inc("scheduler.all-paused");
      this.#o.onAllPaused?.();
    }
  }

  #allPausedRearm(): void {
    this.#allPaused = false;
  }

  // ------------------------------------------------------------------ adversary

  #adversaryRound(): void {
    const o = this.#o;
    const adv = o.adversary;
    const r = this.#round;
    const l = o.layout;
    if (adv.readPrivate !== undefined && r % adv.readPrivate.every === 1 % adv.readPrivate.every) {
      const g = adv.readPrivate.gpa ?? l.image;
      this.lastPrivateRead = readPrivate(o.hv, g, o.counters, o.log, adv.readPrivate.gpa === undefined ? o.knownPlaintext : undefined);
    }
    if (adv.writePrivate !== undefined && r % adv.writePrivate.every === 1 % adv.writePrivate.every) {
      writePrivate(o.hv, adv.writePrivate.gpa ?? l.config, o.counters, o.log);
    }
    if (!o.agent) return;
    if (adv.forgeNpf !== undefined && r % adv.forgeNpf.every === 0) {
      const v = Math.min(adv.forgeNpf.vcpu ?? 0, this.#v.length - 1);
      this.#v[v]!.agentReasons |= SEVEN_RUN_REASON.NPF_FORWARD;
      o.counters.inc("adversary.forge-npf");
      o.log.event("adversary.forge-npf", `forged a #NPF forward on vCPU ${v} (nothing faulted)`, { vcpu: v });
    }
    if (adv.injectInterrupt !== undefined && r % adv.injectInterrupt.every === 0) {
      o.counters.inc("adversary.inject-interrupt");
      if (adv.injectInterrupt.vmpl === 0) {
        const v = o.rng.int(this.#v.length);
        this.#v[v]!.agentReasons |= SEVEN_RUN_REASON.NIC | SEVEN_RUN_REASON.TIMER;
        if (v === this.#nicVcpu) this.#spuriousNic = true;
      } else {
        this.#storm = true;
      }
    }
    if (adv.vmrunPaused !== undefined && r % adv.vmrunPaused.every === 0) {
      this.#v.forEach((s, v) => {
        if (s.guest !== "paused" && s.guest !== "held") return;
        const exit = o.hv.vmrun(v, l.vmsa1[v]!, this.#guestBudget);
        o.counters.inc("vmrun.vmpl1");
        if (exit.code === VMEXIT_INVALID) {
          o.counters.inc("adversary.vmrun-paused.refused");
        } else {
          // The hardware let it run: the context was not really paused (only held by a hint).
          o.counters.inc("adversary.vmrun-paused.entered");
          o.counters.inc("adversary.vmrun-paused.retired", exit.retired);
          o.log.event("adversary.vmrun-paused", `vCPU ${v}: VMRUN of a ${s.guest} VMPL1 context entered the guest (${exit.retired} instructions)`, { vcpu: v, retired: exit.retired });
        }
      });
    }
  }
}

/** Where the run-reason hint goes in the agent's GHCB: sw_exit_info_2 and its valid bit. */
const HINT_OFFSET = GHCB.offsetOf("sw_exit_info_2");
const HINT_VALID_BYTE = GHCB_VALID_BITMAP_OFFSET + (ghcbValidBit(HINT_OFFSET) >> 3);
const HINT_VALID_MASK = 1 << (ghcbValidBit(HINT_OFFSET) & 7);

/** Exits that VMPL0 must see: forwarded VMPL-permission #NPFs and single-step #DBs. */
const FORWARDS = SEVEN_RUN_REASON.NPF_FORWARD | SEVEN_RUN_REASON.DB_FORWARD;

const REASON_NAMES: readonly (readonly [bigint, string])[] = [
  [SEVEN_RUN_REASON.BOOT, "boot"],
  [SEVEN_RUN_REASON.NIC, "nic"],
  [SEVEN_RUN_REASON.NPF_FORWARD, "npf"],
  [SEVEN_RUN_REASON.DB_FORWARD, "db"],
  [SEVEN_RUN_REASON.TIMER, "timer"],
];

export function exitName(code: number): string {
  switch (code) {
    case VMEXIT_INVALID:
      return "invalid";
    case VMEXIT_INTR:
      return "intr";
    case VMEXIT_HLT:
      return "hlt";
    case VMEXIT_SHUTDOWN:
      return "shutdown";
    case SVM_EXIT.NPF:
      return "npf";
    case SVM_EXIT.VMGEXIT:
      return "vmgexit";
    case SVM_EXIT.EXCP_DB:
      return "db";
    default:
      return `0x${code.toString(16)}`;
  }
}

/**
 * Yields one turn of the event loop, queued behind what the synchronous stretch before it
 * queued (process.nextTick first, then setImmediate): a completion that node finishes
 * through nextTick → setImmediate (a TLS write over a JS stream, such as the agent's) runs
 * in this turn rather than after the next stretch.
 */
function eventLoopTurn(): Promise<void> {
  return new Promise<void>((r) => process.nextTick(() => setImmediate(r)));
}

function positive(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 1) throw new HostError("BAD_OPTION", `${what} must be a positive integer (got ${n})`, { [what]: n });
  return n;
}


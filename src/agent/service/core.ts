/**
 * The VMI service core: state shared by every session of one agent (or of the baseline
 * server) — run state of the guest's vCPUs, armed traps, open events, the single-step
 * machinery and the counters — over a MachineBackend. Sessions (v1, v0) translate their
 * protocol into calls here; the runtime feeds it the faults the hardware recorded.
 *
 * Faults are believed only from hardware state: a VMPL1 VMSA whose guest_exit_code is #NPF
 * with the VMPL bit in EXITINFO1 and whose EXITINFO2 lies on an armed page. The exit code
 * is cleared once consumed, so a fault is handled once; anything else that the host said
 * it forwarded is counted (unmatched_faults) and ignored.
 *
 * Continue = restore the page's rights, hold every other vCPU, set RFLAGS.TF on the
 * faulting context, let it run; on its #DB intercept clear TF, re-arm, release. One vCPU
 * steps at a time (a queue). Accesses of the stepped instruction to other armed pages are
 * let through silently. Skip = RIP := guest_nrip when the hardware reported a next RIP
 * (decode assists);
 * otherwise, for a write, the instruction is stepped and the page's previous contents are
 * written back (the write is denied); for reads and fetches skip then fails.
 */
import { PAGE_MASK, PAGE_SIZE, readU64 } from "../../shared/base/index.js";
import { NPF_EXITINFO1, SVM_EXIT } from "../../shared/spec/index.js";
import type { MachineBackend, MachineFacts } from "../backend.js";
import type { AgentLimits } from "../config.js";
import { BackendAccessError, RequestError, Status } from "../errors.js";
import { MemoryOps } from "./memory.js";
import { fieldBytes, readField, registerSet, VMSA_REG } from "./registers.js";
import type { RegField } from "./registers.js";
import { RunState } from "./run-state.js";
import { Stepper, stepJob } from "./stepper.js";
import { ACCESS, ACCESS_ALL, TrapTable } from "./traps.js";
import type { Trap, Watch } from "./traps.js";
import type { v1 } from "../../shared/protocol/index.js";
import type { ArmSpec, CoreCounters, CoreOptions, MappingChange, SessionPort, TrapEvent } from "./types.js";
export type { ArmSpec, CoreCounters, CoreOptions, MappingChange, ReportOutcome, ReportProvider, SessionPort, TrapEvent } from "./types.js";

/** Most RIPs in one function trap's filter. */
export const MAX_RIP_FILTER = 64;
/** Most armed pages a single stepped instruction may touch. */
export const MAX_STEP_PAGES = 16;

/** SVM_EXIT_INTR (uapi/asm/svm.h): the VMRUN ended on the host's budget, nothing of the step retired. */
const EXIT_INTR = 0x60n;
const EXIT_OFF = VMSA_REG.guest_exit_info_1.offset;
const EXIT_LEN = VMSA_REG.guest_exit_code.offset + 8 - EXIT_OFF;
const RIP_F = VMSA_REG.rip;
const NRIP_F = VMSA_REG.guest_nrip;

interface OpenEvent {
  readonly event: TrapEvent;
  readonly port: SessionPort;
}

export class VmiCore {
  readonly backend: MachineBackend;
  readonly facts: MachineFacts;
  readonly limits: AgentLimits;
  readonly memory: MemoryOps;
  readonly options: CoreOptions;
  readonly counters: CoreCounters = { requests: 0n, events: 0n, unmatchedFaults: 0n, eventsDropped: 0n, silentSteps: 0n, stepsAborted: 0n, vmpl0StarvedNs: 0n };
  readonly run: RunState;
  readonly traps = new TrapTable();
  readonly #events = new Map<bigint, OpenEvent>();
  readonly #sessions = new Map<number, SessionPort>();
  /** Sessions holding a session-scoped pause. */
  readonly #pauseHolders = new Set<number>();
  /** A pause made with until_resumed: outlives its session, lifted by any resume. */
  #persistentPause = false;
  readonly #stepper: Stepper;
  #nextEvent = 1n;
  #nextSession = 1;
  /** vCPUs whose fault was consumed by a scan before the host's forward for it arrived. */
  readonly #consumedEarly = new Set<number>();

  constructor(backend: MachineBackend, options: CoreOptions) {
    this.backend = backend;
    this.facts = backend.facts;
    this.limits = options.limits;
    this.options = options;
    this.memory = new MemoryOps(backend);
    this.run = new RunState(backend.facts.vcpus, backend.control);
    this.#stepper = new Stepper(backend, this.run, (pg) => this.#applyRights(pg, false));
  }

  // ------------------------------------------------------------------ sessions

  newSessionId(): number {
    return this.#nextSession++;
  }

  addSession(p: SessionPort): void {
    this.#sessions.set(p.sessionId, p);
  }

  /** A session ended: its held vCPUs are released, its traps disarmed, its pause lifted. */
  endSession(p: SessionPort): void {
    if (!this.#sessions.delete(p.sessionId)) return;
    for (const t of this.traps.ownedBy(p.sessionId)) this.#removeTrap(t.id);
    for (const [id, e] of [...this.#events]) if (e.port === p) this.#continueEvent(id, e);
    if (this.#pauseHolders.delete(p.sessionId) && !this.paused) this.#setPaused(false);
    this.run.apply();
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  // ------------------------------------------------------------------ registers

  checkVcpu(vcpu: number): void {
    if (!Number.isInteger(vcpu) || vcpu < 0 || vcpu >= this.facts.vcpus) throw new RequestError(Status.NOT_FOUND, `no vCPU ${vcpu}`, { vcpu });
  }

  isStopped(vcpu: number): boolean {
    return this.run.isStopped(vcpu);
  }

  readVmsa(vcpu: number): Uint8Array {
    try {
      return this.backend.readVmsa(vcpu);
    } catch (e) {
      if (e instanceof BackendAccessError) throw new RequestError(Status.UNAVAILABLE, "registers unavailable", { vcpu });
      throw e;
    }
  }

  registers(vcpu: number): v1.RegisterSet {
    this.checkVcpu(vcpu);
    return registerSet(vcpu, this.readVmsa(vcpu), this.run.isStopped(vcpu));
  }

  readRegister(vcpu: number, f: RegField): bigint {
    this.checkVcpu(vcpu);
    return readField(this.readVmsa(vcpu), f);
  }

  /** Register writes need a stopped context (where the backend can stop contexts at all). */
  writeRegisters(vcpu: number, writes: readonly { field: RegField; value: bigint }[]): void {
    this.checkVcpu(vcpu);
    if (this.run.canControl && !this.run.isStopped(vcpu)) {
      throw new RequestError(Status.FAILED_PRECONDITION, "register writes need a stopped vCPU (pause first)", { vcpu });
    }
    try {
      for (const w of writes) this.backend.writeVmsa(vcpu, w.field.offset, fieldBytes(w.field, w.value));
    } catch (e) {
      if (e instanceof BackendAccessError) throw new RequestError(Status.UNAVAILABLE, "register write failed", { vcpu });
      throw e;
    }
  }

  // ------------------------------------------------------------------ pause

  #needControl(): void {
    if (!this.run.canControl) throw new RequestError(Status.UNIMPLEMENTED, "this backend cannot stop vCPUs");
  }

  /**
   * Pauses every guest context. Session-scoped (lifted when the session ends) unless
   * `untilResumed`, which lasts until a resume from any session.
   */
  pause(p: SessionPort, untilResumed = false): { stopped: number[]; alreadyStopped: number[] } {
    this.#needControl();
    const already = this.run.stoppedList();
    if (untilResumed) this.#persistentPause = true;
    else this.#pauseHolders.add(p.sessionId);
    this.#setPaused(true);
    this.run.apply();
    const stopped: number[] = [];
    for (let v = 0; v < this.facts.vcpus; v++) if (!already.includes(v)) stopped.push(v);
    return { stopped, alreadyStopped: already };
  }

  /** Lifts this session's pause and a persistent one; other sessions' pauses remain. */
  resume(p: SessionPort): { resumed: number[]; stillHeld: number[] } {
    this.#needControl();
    const before = this.run.stoppedList();
    this.#pauseHolders.delete(p.sessionId);
    this.#persistentPause = false;
    if (!this.paused) this.#setPaused(false);
    this.run.apply();
    const after = this.run.stoppedList();
    return { resumed: before.filter((v) => !after.includes(v)), stillHeld: after };
  }

  get paused(): boolean {
    return this.#pauseHolders.size > 0 || this.#persistentPause;
  }

  #setPaused(on: boolean): void {
    for (let v = 0; v < this.facts.vcpus; v++) this.run.set(v, "paused", on);
  }

  // ------------------------------------------------------------------ traps

  armTrap(p: SessionPort, spec: ArmSpec): Trap {
    const access = this.backend.access;
    if (access === undefined || !this.backend.faults) throw new RequestError(Status.UNIMPLEMENTED, "this backend cannot trap accesses");
    if (spec.access === 0 || (spec.access & ~ACCESS_ALL) !== 0) throw new RequestError(Status.INVALID_ARGUMENT, "access must be a non-empty set of READ, WRITE, EXECUTE", { access: spec.access });
    const page = spec.gpa & PAGE_MASK;
    if (!this.memory.inGuestRam(page, BigInt(PAGE_SIZE))) throw new RequestError(Status.OUT_OF_RANGE, "trap page outside guest RAM", { gpa: spec.gpa });
    if (this.facts.isSharedPage(page)) throw new RequestError(Status.OUT_OF_RANGE, "a shared page cannot be trapped", { gpa: spec.gpa });
    const filter = spec.ripFilter ?? [];
    if (filter.length > MAX_RIP_FILTER) throw new RequestError(Status.TOO_LARGE, `at most ${MAX_RIP_FILTER} RIPs per function trap`);
    if (filter.length > 0 && (spec.access & ACCESS.EXECUTE) === 0) throw new RequestError(Status.INVALID_ARGUMENT, "a RIP filter needs EXECUTE access");
    if (this.traps.size >= this.limits.maxTraps) throw new RequestError(Status.RESOURCE_EXHAUSTED, `at most ${this.limits.maxTraps} traps`);
    let watch: Watch | undefined;
    if (spec.watch !== undefined) {
      const w = this.memory.walk(spec.watch.dtb, spec.watch.va, spec.watch.levels);
      if (!w.ok) throw new RequestError(MemoryOps.walkStatus(w), "the trap's virtual address does not translate", { va: spec.watch.va });
      if ((w.gpa & PAGE_MASK) !== page) throw new RequestError(Status.FAILED_PRECONDITION, "the virtual address does not map to the trap's page", { va: spec.watch.va });
      watch = { ...spec.watch, va: spec.watch.va & PAGE_MASK, gpaPage: page, ptePages: this.#ptePages(w.steps) };
    }
    const trap = this.traps.add({ owner: p, page, access: spec.access, ripFilter: filter.length > 0 ? new Set(filter) : undefined, watch, tag: spec.tag });
    try {
      for (const pg of [page, ...(watch?.ptePages ?? [])]) this.#applyRights(pg, true);
    } catch (e) {
      if (!(e instanceof BackendAccessError)) throw e;
      this.#removeTrap(trap.id);
      throw new RequestError(Status.UNAVAILABLE, "the platform refused to protect the page", { gpa: spec.gpa });
    }
    return trap;
  }

  disarmTrap(p: SessionPort, id: bigint): void {
    const t = this.traps.get(id);
    if (t === undefined || t.owner.sessionId !== p.sessionId) throw new RequestError(Status.NOT_FOUND, `no trap ${id}`, { trapId: id });
    this.#removeTrap(id);
    this.run.apply();
  }

  #removeTrap(id: bigint): void {
    for (const pg of this.traps.remove(id)) this.#applyRights(pg, false);
    for (const [eid, e] of [...this.#events]) if (e.event.trap.id === id) this.#continueEvent(eid, e);
  }

  #ptePages(steps: readonly { entryGpa: bigint }[]): bigint[] {
    const out: bigint[] = [];
    for (const s of steps) {
      const pg = s.entryGpa & PAGE_MASK;
      if (this.memory.inGuestRam(pg, BigInt(PAGE_SIZE)) && !this.facts.isSharedPage(pg) && !out.includes(pg)) out.push(pg);
    }
    return out;
  }

  /** Puts the trap table's rights on `page` into the RMP (unless a step has it open). */
  #applyRights(page: bigint, strict: boolean): void {
    if (this.#stepper.isOpen(page)) return;
    const access = this.backend.access;
    if (access === undefined) return;
    try {
      access.setGuestRights(page, this.traps.rightsFor(page));
    } catch (e) {
      if (strict || !(e instanceof BackendAccessError)) throw e;
    }
  }

  // ------------------------------------------------------------------ events

  eventFor(p: SessionPort, id: bigint): TrapEvent | undefined {
    const e = this.#events.get(id);
    return e !== undefined && e.port === p ? e.event : undefined;
  }

  /** The open event of `p` on vCPU `vcpu`, if any (v0 answers by vCPU). */
  eventOnVcpu(p: SessionPort, vcpu: number): TrapEvent | undefined {
    for (const e of this.#events.values()) if (e.port === p && e.event.vcpu === vcpu) return e.event;
    return undefined;
  }

  respondEvent(p: SessionPort, id: bigint, action: "continue" | "skip" | "hold"): void {
    const e = this.#events.get(id);
    if (e === undefined || e.port !== p) throw new RequestError(Status.NOT_FOUND, `no open event ${id}`, { eventId: id });
    if (action === "hold") return;
    if (action === "continue") {
      this.#continueEvent(id, e);
      this.run.apply();
      return;
    }
    const v = e.event.vcpu;
    const vmsa = this.readVmsa(v);
    const rip = readField(vmsa, RIP_F);
    const nrip = readField(vmsa, NRIP_F);
    if (nrip !== 0n && nrip !== rip) {
      this.backend.writeVmsa(v, RIP_F.offset, fieldBytes(RIP_F, nrip));
      this.#events.delete(id);
      this.run.set(v, "event", false);
      this.run.apply();
      return;
    }
    if (e.event.access !== ACCESS.WRITE) {
      throw new RequestError(Status.FAILED_PRECONDITION, "the platform reported no next RIP; only writes can be skipped by undoing them", { eventId: id });
    }
    this.#events.delete(id);
    this.#stepper.queue(stepJob(v, e.event.trap.page, true));
    this.run.apply();
  }

  #continueEvent(id: bigint, e: OpenEvent): void {
    this.#events.delete(id);
    this.#stepper.queue(stepJob(e.event.vcpu, e.event.trap.page));
  }

  // ------------------------------------------------------------------ faults

  /**
   * Reads the exit fields of every guest context and consumes what is ours. `hint` is what
   * the host claimed (a forwarded #NPF/#DB for one vCPU); a claim with nothing behind it
   * in hardware state is counted as an unmatched fault.
   */
  checkFaults(hint?: { readonly vcpu: number; readonly npf: boolean; readonly db: boolean }): void {
    if (!this.backend.faults) return;
    let satisfied = false;
    for (let v = 0; v < this.facts.vcpus; v++) {
      const x = this.backend.readVmsa(v, EXIT_OFF, EXIT_LEN);
      const code = readU64(x, VMSA_REG.guest_exit_code.offset - EXIT_OFF);
      const stepping = this.#stepper.active?.vcpu === v;
      if (code === BigInt(SVM_EXIT.NPF)) {
        const info1 = readU64(x, 0);
        // Not a VMPL fault: the host's business; a step of this vCPU stays open (the instruction is retried).
        if ((info1 & NPF_EXITINFO1.VMPL) === 0n) continue;
        const gpa = readU64(x, VMSA_REG.guest_exit_info_2.offset - EXIT_OFF);
        this.#consume(v);
        // A stepped instruction that faults where the step cannot open a page never completes: end the step.
        if (!this.#onNpf(v, info1, gpa) && stepping) this.#endStep(false);
        // Matched or counted as unmatched there: either way the claim had hardware behind it.
        if (hint?.vcpu === v) satisfied = true;
        else this.#consumedEarly.add(v);
      } else if (stepping && code !== 0n && code !== EXIT_INTR) {
        // Any other exit of the stepped context ends its step: #DB (the instruction retired),
        // VMGEXIT and HLT (they retire and exit by themselves, without #DB), anything else
        // (the step cannot go on: ended, the instruction is tried again under the trap).
        this.#consume(v);
        const db = code === BigInt(SVM_EXIT.EXCP_DB);
        this.#endStep(db || code === BigInt(SVM_EXIT.VMGEXIT) || code === BigInt(SVM_EXIT.HLT));
        if (db) {
          if (hint?.vcpu === v) satisfied = true;
          else this.#consumedEarly.add(v);
        }
      }
    }
    if (this.#stepper.overdue(this.backend.now())) this.#endStep(false);
    if (hint !== undefined && (hint.npf || hint.db) && !satisfied) {
      // A forward of a fault an earlier scan already consumed is not a forgery.
      if (!this.#consumedEarly.delete(hint.vcpu)) this.counters.unmatchedFaults++;
    } else if (hint !== undefined && (hint.npf || hint.db)) {
      this.#consumedEarly.delete(hint.vcpu);
    }
    this.run.apply();
  }

  #consume(vcpu: number): void {
    this.backend.writeVmsa(vcpu, VMSA_REG.guest_exit_code.offset, new Uint8Array(8));
  }

  /** A VMPL #NPF of `vcpu` at `gpa`; true if it matched an armed page. */
  #onNpf(vcpu: number, info1: bigint, gpa: bigint): boolean {
    const page = gpa & PAGE_MASK;
    if (!this.traps.isArmedPage(page) || !this.memory.inGuestRam(page, BigInt(PAGE_SIZE))) {
      this.counters.unmatchedFaults++;
      return false;
    }
    const access = (info1 & NPF_EXITINFO1.FETCH) !== 0n ? ACCESS.EXECUTE : (info1 & NPF_EXITINFO1.W) !== 0n ? ACCESS.WRITE : ACCESS.READ;
    const active = this.#stepper.active;
    if (active !== undefined && active.vcpu === vcpu) {
      // The stepped instruction touches another armed page: let it through too.
      if (active.pages.size >= MAX_STEP_PAGES || active.pages.has(page)) {
        this.counters.unmatchedFaults++;
        return false;
      }
      this.#stepper.addPage(page, access === ACCESS.WRITE);
      return true;
    }
    if (this.#heldOrQueued(vcpu)) {
      this.counters.unmatchedFaults++;
      return false;
    }
    const vmsa = this.readVmsa(vcpu);
    const rip = readField(vmsa, RIP_F);
    const candidates = this.traps
      .onPage(page)
      .filter((t) => (t.access & access) !== 0 && (access !== ACCESS.EXECUTE || t.ripFilter === undefined || t.ripFilter.has(rip)));
    const trap = candidates.find((t) => this.#sessions.has(t.owner.sessionId));
    const port = trap !== undefined ? this.#sessions.get(trap.owner.sessionId) : undefined;
    if (trap === undefined || port === undefined || !port.acceptsEventFor(vcpu)) {
      if (trap !== undefined) this.counters.eventsDropped++;
      this.counters.silentSteps++;
      this.run.set(vcpu, "event", true);
      this.#stepper.queue(stepJob(vcpu, page));
      return true;
    }
    if (candidates.length > 1) this.counters.eventsDropped += BigInt(candidates.length - 1);
    // The hardware reports the GPA of a #NPF, never the virtual address. A fetch's is its
    // RIP. A data access may have gone through any mapping of the page (the kernel's direct
    // map, another process's), so the watched VA of the trap is not claimed for it.
    const gvaKnown = access === ACCESS.EXECUTE;
    const gva = gvaKnown ? rip : 0n;
    let registers: v1.RegisterSet | undefined;
    const event: TrapEvent = {
      eventId: this.#nextEvent++,
      trap,
      vcpu,
      access,
      gpa,
      gva,
      gvaKnown,
      vmsa,
      get registers() {
        return (registers ??= registerSet(vcpu, vmsa, true));
      },
      timeNs: this.backend.now(),
    };
    this.#events.set(event.eventId, { event, port });
    this.run.set(vcpu, "event", true);
    this.counters.events++;
    port.deliverEvent(event);
    return true;
  }

  #heldOrQueued(vcpu: number): boolean {
    if (this.#stepper.waiting(vcpu)) return true;
    for (const e of this.#events.values()) if (e.event.vcpu === vcpu) return true;
    return false;
  }

  /** vCPUs held at an open event or waiting for their step. */
  heldVcpus(): number[] {
    const s = new Set<number>();
    for (const e of this.#events.values()) s.add(e.event.vcpu);
    for (const j of this.#stepper.queued()) s.add(j.vcpu);
    return [...s].sort((a, b) => a - b);
  }

  get stepping(): number | undefined {
    return this.#stepper.active?.vcpu;
  }

  /**
   * The step is over — `retired`: the instruction ran (its #DB, or a VMGEXIT/HLT exit);
   * otherwise it never will (a fault the step cannot open, a timeout): counted, and the
   * instruction, if it did not run, faults again on the re-armed page. Either way: re-arm,
   * re-check watched tables, release, start the next step.
   */
  #endStep(retired: boolean): void {
    const job = this.#stepper.complete();
    if (job === undefined) return;
    if (!retired) this.counters.stepsAborted++;
    this.#recheckWatches([...job.pages], job.vcpu);
    this.#stepper.next();
    this.run.apply();
  }

  // ------------------------------------------------------------------ mapping watches

  /** After writes that may have changed page tables (the guest's, or the owner's). */
  afterWrites(gpas: readonly bigint[], vcpu = -1): void {
    const pages = [...new Set(gpas.map((g) => g & PAGE_MASK))].filter((p) => this.traps.isWatchPage(p));
    if (pages.length > 0) this.#recheckWatches(pages, vcpu);
  }

  #recheckWatches(pages: readonly bigint[], vcpu: number): void {
    const seen = new Set<bigint>();
    for (const pg of pages) {
      for (const t of this.traps.watchersOf(pg)) {
        if (seen.has(t.id) || t.watch === undefined) continue;
        seen.add(t.id);
        const w = t.watch;
        const r = this.memory.walk(w.dtb, w.va, w.levels);
        const now = r.ok ? r.gpa & PAGE_MASK : undefined;
        const newPages = r.steps.length > 0 ? this.#ptePages(r.steps) : w.ptePages;
        if (now !== w.gpaPage) {
          const old = w.gpaPage;
          w.gpaPage = now;
          const port = this.#sessions.get(t.owner.sessionId);
          port?.deliverMappingChanged({ trap: t, va: w.va, oldGpa: old ?? 0n, newGpa: now ?? 0n, present: now !== undefined, vcpu: Math.max(vcpu, 0) });
        }
        for (const p of this.traps.setWatchPages(t, newPages)) this.#applyRights(p, false);
      }
    }
  }

  // ------------------------------------------------------------------ reports

  heartbeat(): {
    agentTimeNs: bigint;
    requests: bigint;
    events: bigint;
    unmatchedFaults: bigint;
    vmpl0StarvedNs: bigint;
    trapsArmed: number;
    stoppedVcpus: number[];
    eventsDropped: bigint;
  } {
    return {
      agentTimeNs: this.backend.now(),
      requests: this.counters.requests,
      events: this.counters.events,
      unmatchedFaults: this.counters.unmatchedFaults,
      vmpl0StarvedNs: this.counters.vmpl0StarvedNs,
      trapsArmed: this.traps.size,
      stoppedVcpus: this.run.stoppedList(),
      eventsDropped: this.counters.eventsDropped,
    };
  }
}

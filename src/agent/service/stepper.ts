/**
 * Single-stepping a guest context over one instruction with a trapped page opened
 * (ARCHITECTURE.md "Traps"): one vCPU at a time, the others held. Start: hold every other
 * vCPU, give VMPL1 full rights on the job's pages, clear the context's exit code (so any
 * exit seen later is one of this step), set RFLAGS.TF on the context, release it.
 * Complete (on any exit of the stepped context that ends the instruction, seen in
 * hardware state — core.ts): clear TF, write back pages whose write is being denied, let
 * the trap table's rights apply again, release the others. A step whose exit never comes
 * is ended the same way after STEP_TIMEOUT_NS of agent time: the instruction, if it did
 * not run, faults again on the re-armed page (a new event), and nothing stays wedged.
 */
import { PAGE_SIZE } from "../../shared/base/index.js";
import { RFLAGS, RMP_PERM_RWX } from "../../shared/spec/index.js";
import type { MachineBackend } from "../backend.js";
import { BackendAccessError } from "../errors.js";
import { fieldBytes, readField, VMSA_REG } from "./registers.js";
import type { RunState } from "./run-state.js";

export interface StepJob {
  readonly vcpu: number;
  readonly pages: Set<bigint>;
  /** Page contents to restore after the step (skip of a write). */
  readonly undo: Map<bigint, Uint8Array> | undefined;
  tfSet: boolean;
  /** Agent time the step started (undefined while queued). */
  startedNs: bigint | undefined;
}

export function stepJob(vcpu: number, page: bigint, denyWrite = false): StepJob {
  return { vcpu, pages: new Set([page]), undo: denyWrite ? new Map() : undefined, tfSet: false, startedNs: undefined };
}

/** A step still open after this much agent time is ended (its context never ran, or never exited). */
export const STEP_TIMEOUT_NS = 100_000_000n;

const RFLAGS_F = VMSA_REG.rflags;
const EXIT_CODE_F = VMSA_REG.guest_exit_code;

export class Stepper {
  readonly #b: MachineBackend;
  readonly #run: RunState;
  /** Puts the trap table's rights back on a page (after the step). */
  readonly #rearm: (page: bigint) => void;
  readonly #queue: StepJob[] = [];
  #active: StepJob | undefined;

  constructor(b: MachineBackend, run: RunState, rearm: (page: bigint) => void) {
    this.#b = b;
    this.#run = run;
    this.#rearm = rearm;
  }

  get active(): StepJob | undefined {
    return this.#active;
  }

  /** Whether `page` is opened by the step in progress (its rights must not change now). */
  isOpen(page: bigint): boolean {
    return this.#active?.pages.has(page) ?? false;
  }

  waiting(vcpu: number): boolean {
    return this.#queue.some((j) => j.vcpu === vcpu);
  }

  queued(): readonly StepJob[] {
    return this.#queue;
  }

  /** Queues a job; its vCPU stays held until the job starts. */
  queue(job: StepJob): void {
    this.#run.set(job.vcpu, "event", true);
    this.#queue.push(job);
    this.#startNext();
  }

  /** Opens one more page for the instruction being stepped (it touched another armed page). */
  addPage(page: bigint, isWrite: boolean): void {
    const job = this.#active;
    if (job === undefined) return;
    if (job.undo !== undefined && isWrite) job.undo.set(page, this.#b.readPhys(page, PAGE_SIZE));
    job.pages.add(page);
    this.#open(page);
  }

  #startNext(): void {
    if (this.#active !== undefined) return;
    const job = this.#queue.shift();
    if (job === undefined) return;
    this.#active = job;
    const v = job.vcpu;
    for (let o = 0; o < this.#run.vcpus; o++) if (o !== v) this.#run.set(o, "stepHold", true);
    this.#run.set(v, "event", false);
    this.#run.setStepping(v, true);
    for (const pg of job.pages) {
      if (job.undo !== undefined) job.undo.set(pg, this.#b.readPhys(pg, PAGE_SIZE));
      this.#open(pg);
    }
    const rflags = readField(this.#b.readVmsa(v, RFLAGS_F.offset, 8), { offset: 0, size: 8 });
    if ((rflags & RFLAGS.TF) === 0n) {
      this.#b.writeVmsa(v, RFLAGS_F.offset, fieldBytes(RFLAGS_F, rflags | RFLAGS.TF));
      job.tfSet = true;
    }
    this.#b.writeVmsa(v, EXIT_CODE_F.offset, new Uint8Array(8));
    job.startedNs = this.#b.now();
    this.#run.apply();
  }

  /** Whether the step in progress has run out of time at agent time `nowNs`. */
  overdue(nowNs: bigint): boolean {
    const s = this.#active?.startedNs;
    return s !== undefined && nowNs - s > STEP_TIMEOUT_NS;
  }

  /** Gives VMPL1 full rights on `page` for the step (a page the guest made shared is left alone). */
  #open(page: bigint): void {
    try {
      this.#b.access?.setGuestRights(page, RMP_PERM_RWX);
    } catch (e) {
      if (!(e instanceof BackendAccessError)) throw e;
    }
  }

  /** The step is over (the instruction retired, or it never will): returns the finished job. */
  complete(): StepJob | undefined {
    const job = this.#active;
    if (job === undefined) return undefined;
    const v = job.vcpu;
    if (job.tfSet) {
      const rflags = readField(this.#b.readVmsa(v, RFLAGS_F.offset, 8), { offset: 0, size: 8 });
      this.#b.writeVmsa(v, RFLAGS_F.offset, fieldBytes(RFLAGS_F, rflags & ~RFLAGS.TF));
    }
    if (job.undo !== undefined) for (const [pg, bytes] of job.undo) this.#b.writePhys(pg, bytes);
    this.#active = undefined;
    for (const pg of job.pages) this.#rearm(pg);
    this.#run.setStepping(v, false);
    for (let o = 0; o < this.#run.vcpus; o++) this.#run.set(o, "stepHold", false);
    return job;
  }

  /** Starts the next queued job, if any (after `complete`). */
  next(): void {
    this.#startNext();
  }
}

/**
 * Why each guest (VMPL1) context is stopped, and the one place that turns those reasons
 * into the RMP VMSA bit (via the backend's RunControl). A context is runnable when it is
 * being single-stepped, or when nothing holds it: not paused by a session, not held at an
 * unanswered event, not held while another vCPU single-steps.
 */
import type { RunControl } from "../backend.js";

export type StopReason = "paused" | "event" | "stepHold";

export class RunState {
  readonly #control: RunControl | undefined;
  readonly #reasons: Set<StopReason>[];
  readonly #stepping: boolean[];
  /** What the RMP currently says (launch: every VMPL1 VMSA is runnable). */
  readonly #applied: boolean[];
  #released = 0;

  constructor(vcpus: number, control: RunControl | undefined) {
    this.#control = control;
    this.#reasons = Array.from({ length: vcpus }, () => new Set<StopReason>());
    this.#stepping = new Array<boolean>(vcpus).fill(false);
    this.#applied = new Array<boolean>(vcpus).fill(true);
  }

  get vcpus(): number {
    return this.#reasons.length;
  }

  get canControl(): boolean {
    return this.#control !== undefined;
  }

  set(vcpu: number, reason: StopReason, on: boolean): void {
    const r = this.#reasons[vcpu];
    if (r === undefined) return;
    if (on) r.add(reason);
    else r.delete(reason);
  }

  has(vcpu: number, reason: StopReason): boolean {
    return this.#reasons[vcpu]?.has(reason) ?? false;
  }

  setStepping(vcpu: number, on: boolean): void {
    if (vcpu >= 0 && vcpu < this.#stepping.length) this.#stepping[vcpu] = on;
  }

  isStepping(vcpu: number): boolean {
    return this.#stepping[vcpu] ?? false;
  }

  /** Whether the context should be runnable. */
  wantRunnable(vcpu: number): boolean {
    return (this.#stepping[vcpu] ?? false) || (this.#reasons[vcpu]?.size ?? 0) === 0;
  }

  /** Whether the context is stopped now (as applied to the RMP). */
  isStopped(vcpu: number): boolean {
    return !(this.#applied[vcpu] ?? true);
  }

  /** How many times `apply` has made a stopped context runnable (answered events, steps, resumes). */
  get released(): number {
    return this.#released;
  }

  stoppedList(): number[] {
    const out: number[] = [];
    for (let v = 0; v < this.#applied.length; v++) if (!this.#applied[v]) out.push(v);
    return out;
  }

  /** Brings the RMP in line with the reasons; returns the vCPUs whose state changed. */
  apply(): number[] {
    const changed: number[] = [];
    if (this.#control === undefined) return changed;
    for (let v = 0; v < this.#applied.length; v++) {
      const want = this.wantRunnable(v);
      if (want !== this.#applied[v]) {
        this.#control.setRunnable(v, want);
        this.#applied[v] = want;
        if (want) this.#released++;
        changed.push(v);
      }
    }
    return changed;
  }
}

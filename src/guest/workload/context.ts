/**
 * Per-vCPU state of the guest program: the instruction stream (a generator), what the
 * last instructions read, whether the CPU is in user or kernel mode, and the fault the
 * kernel's exception fixup just skipped.
 */
import type { CpuFault } from "../../platform/index.js";
import type { SeededRng } from "../../shared/base/index.js";
import type { Insn } from "./insn.js";

export type Gen = Generator<Insn, void, void>;

export interface InsnRecord {
  readonly cpu: number;
  readonly rip: bigint;
  readonly kind: Insn["kind"];
  readonly what: string;
  readonly va?: bigint;
  readonly cpl: number;
}

export class VcpuCtx {
  readonly cpu: number;
  readonly rng: SeededRng;
  mode: "kernel" | "user" = "kernel";
  /** Long-mode state programmed (boot_cpu_init / start_secondary). */
  started = false;
  gen: Gen | undefined;
  pending: Insn | undefined;
  /** Values read by instructions and used by later ones. */
  lstar = 0n;
  value = 0n;
  gate = 0n;
  /** The exception fixup skipped the previous instruction. */
  #fault: CpuFault | undefined;
  retired = 0;
  skipped = 0;
  faults = 0;
  /** User RIP of the current process (inside its first text page). */
  userRip = 0n;

  constructor(cpu: number, rng: SeededRng) {
    this.cpu = cpu;
    this.rng = rng;
  }

  noteFault(f: CpuFault): void {
    this.#fault = f;
    this.faults++;
  }

  /** The fault of the instruction just skipped, once (generators check after a yield). */
  takeFault(): CpuFault | undefined {
    const f = this.#fault;
    this.#fault = undefined;
    return f;
  }
}

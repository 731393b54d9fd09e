/**
 * Guest instructions. Each `Insn` is ONE x86 instruction of the modelled kernel or user
 * program: at most one memory access (a fetch, a read or a write through the Cpu, so
 * paging and the RMP check decide), followed by its register effects. `exec` performs the
 * access first: if it throws (CpuFault) nothing has changed and the instruction runs
 * again on the next step.
 */
import type { Cpu, StepResult } from "../../platform/index.js";
import { PAGE_SIZE } from "../../shared/base/index.js";
import type { KMem } from "../mem/kmem.js";

export type InsnKind = "fetch" | "read" | "write" | "reg" | "vmgexit" | "hlt" | "special";

export interface Insn {
  readonly rip: bigint;
  readonly kind: InsnKind;
  /** What it models, for traces and tests ("syscall", "read sys_call_table[39]", ...). */
  readonly what: string;
  /** The virtual address it accesses (fetch/read/write). */
  readonly va?: bigint;
  /**
   * Its length in bytes (1..15; INSN_LEN when absent), declared to the platform as it
   * starts (`Cpu.setInstructionLength`, the model of decode assists): a #NPF it raises
   * reports guest_nrip = rip + len, so VMPL0 can skip it.
   */
  readonly len?: number;
  exec(cpu: Cpu): StepResult["kind"] | void;
  /** Called when the instruction is dropped without running (skipped, or faulted and fixed up). */
  onDrop?(): void;
}

/** Instruction length the model assumes when it walks RIP forward inside a function. */
export const INSN_LEN = 4n;

/** The length `insn` declares to the platform. */
export function insnLength(insn: Insn): number {
  return insn.len ?? Number(INSN_LEN);
}

export function fetchInsn(rip: bigint, what: string, effect?: (cpu: Cpu) => void, len?: number): Insn {
  return {
    rip,
    kind: "fetch",
    what,
    va: rip,
    ...(len !== undefined ? { len } : {}),
    exec(cpu) {
      cpu.fetch(rip, Number(INSN_LEN));
      effect?.(cpu);
    },
  };
}

export function readInsn(rip: bigint, va: bigint, len: number, what: string, sink?: (bytes: Uint8Array, cpu: Cpu) => void): Insn {
  return {
    rip,
    kind: "read",
    what,
    va,
    exec(cpu) {
      const b = cpu.readVirt(va, len);
      sink?.(b, cpu);
    },
  };
}

export function writeInsn(rip: bigint, va: bigint, data: Uint8Array, what: string): Insn {
  return {
    rip,
    kind: "write",
    what,
    va,
    exec(cpu) {
      cpu.writeVirt(va, data);
    },
  };
}

export function regInsn(rip: bigint, what: string, effect: (cpu: Cpu) => void, len?: number): Insn {
  return { rip, kind: "reg", what, exec: effect, ...(len !== undefined ? { len } : {}) };
}

export function hltInsn(rip: bigint): Insn {
  return { rip, kind: "hlt", what: "hlt", len: 1, exec: () => "hlt" };
}

/**
 * A KMem that turns kernel writes into write instructions (one per page-contained chunk:
 * a `mov` for a field, a `rep movs` chunk for a whole object), with RIPs walking forward
 * from `rip`.
 */
export class InsnRecorder implements KMem {
  readonly insns: Insn[] = [];
  #rip: bigint;
  readonly #what: string;
  constructor(rip: bigint, what: string) {
    this.#rip = rip;
    this.#what = what;
  }
  write(va: bigint, data: Uint8Array): void {
    let off = 0;
    let v = va;
    while (off < data.length) {
      const po = Number(v & BigInt(PAGE_SIZE - 1));
      const n = Math.min(PAGE_SIZE - po, data.length - off);
      this.insns.push(writeInsn(this.#rip, v, data.slice(off, off + n), this.#what));
      this.#rip += INSN_LEN;
      off += n;
      v += BigInt(n);
    }
  }
  get rip(): bigint {
    return this.#rip;
  }
}

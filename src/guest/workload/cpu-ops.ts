/** Register-level helpers of the modelled kernel's entry/exit code. */
import type { Cpu } from "../../platform/index.js";
import type { SeededRng } from "../../shared/base/index.js";
import { ATTR_KERNEL_CS, ATTR_KERNEL_DS, KERNEL_CS, KERNEL_DS } from "../arch.js";
import type { Task } from "../model/types.js";
import type { Gen } from "./context.js";
import { INSN_LEN, type Insn } from "./insn.js";

// ------------------------------------------------------------------ helpers

export function* seq(...insns: Insn[]): Gen {
  yield* insns;
}

export function readU64(b: Uint8Array): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, true);
}

export function swapgs(cpu: Cpu): void {
  const gs = cpu.getSegment("gs");
  const kgs = cpu.getReg("kernel_gs_base");
  cpu.setReg("kernel_gs_base", gs.base);
  cpu.setSegment("gs", { ...gs, base: kgs });
}

export function enterKernelSegments(cpu: Cpu): void {
  cpu.setCpl(0);
  cpu.setSegment("cs", { selector: KERNEL_CS, attrib: ATTR_KERNEL_CS, limit: 0xffffffff, base: 0n });
  cpu.setSegment("ss", { selector: KERNEL_DS, attrib: ATTR_KERNEL_DS, limit: 0xffffffff, base: 0n });
}

/** A RIP inside the first (present) text page of the process's binary. */
export function userTextRip(task: Task, rng: SeededRng): bigint {
  const text = task.mm!.vmas.find((x) => x.name === "text")!;
  return text.start + BigInt(rng.int(0x3f0)) * INSN_LEN;
}


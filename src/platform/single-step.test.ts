/**
 * Single-step (RFLAGS.TF → #DB intercept exit) as the hardware does it: TF is latched when
 * an instruction starts, so the trap follows the instruction that began with TF set, even
 * if it cleared TF; VMGEXIT and HLT give their own exit and no #DB.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RFLAGS, SVM_EXIT, VMSA } from "../shared/spec/index.js";
import type { Cpu, StepResult, VcpuProgram } from "./api.js";
import { VMEXIT_HLT, VMEXIT_INTR } from "./api.js";
import { gpaOf, grant, testMachine, vmsaImage } from "./testing/world.js";

const VMSA1 = gpaOf(0x81000);
const DATA = 0x100000;
const NEXT: StepResult = { kind: "next" };
const TF = RFLAGS.TF;

type Insn = (cpu: Cpu) => StepResult | void;

/** Runs `insns` in order (RIP = 0x1000 + index), one per step; records which ran. */
class Program implements VcpuProgram {
  ran: number[] = [];
  constructor(private readonly insns: Insn[]) {}
  step(cpu: Cpu): StepResult {
    const i = Number(cpu.getReg("rip") - 0x1000n);
    const r = this.insns[i]?.(cpu) ?? NEXT;
    this.ran.push(i);
    cpu.setReg("rip", cpu.getReg("rip") + 1n);
    return r;
  }
  /** The kernel's fixup: skip the faulting instruction. */
  exception(cpu: Cpu): boolean {
    cpu.setReg("rip", cpu.getReg("rip") + 1n);
    return true;
  }
}

function world(insns: Insn[], rflags = 2n) {
  const w = testMachine();
  const hw = w.hw!;
  hw.writePage(VMSA1, vmsaImage({ vmpl: 1, rip: 0x1000n, cr0: 1n, rflags }));
  hw.rmpLaunchAssign(VMSA1, { vmplPerms: [0, 0, 0], vmsa: true });
  grant(w.rmp!, DATA, 1, 0);
  const prog = new Program(insns);
  w.machine.installProgram(1, prog);
  const rflagsNow = (): bigint => new DataView(hw.readPage(VMSA1).buffer).getBigUint64(VMSA.offsetOf("rflags"), true);
  return { hv: w.machine.hypervisor, prog, rflagsNow };
}

const clearTf: Insn = (cpu) => cpu.setReg("rflags", cpu.getReg("rflags") & ~TF);
const setTf: Insn = (cpu) => cpu.setReg("rflags", cpu.getReg("rflags") | TF);

describe("single-step: RFLAGS.TF is latched when the instruction starts", () => {
  it("an instruction that clears TF itself (SYSCALL through SFMASK, POPF) is followed by #DB", () => {
    const w = world([clearTf, () => NEXT, () => NEXT], 2n | TF);
    const e = w.hv.vmrun(0, VMSA1, 100);
    assert.equal(e.code, SVM_EXIT.EXCP_DB);
    assert.equal(e.retired, 1, "after exactly that instruction");
    assert.deepEqual(w.prog.ran, [0]);
    assert.equal(w.rflagsNow() & TF, 0n, "TF stays as the instruction left it");
    const next = w.hv.vmrun(0, VMSA1, 2);
    assert.equal(next.code, VMEXIT_INTR, "TF clear: no more traps");
    assert.deepEqual(w.prog.ran, [0, 1, 2]);
  });

  it("an instruction that sets TF is not followed by #DB; the next one is", () => {
    const w = world([() => NEXT, setTf, () => NEXT, () => NEXT]);
    const e = w.hv.vmrun(0, VMSA1, 100);
    assert.equal(e.code, SVM_EXIT.EXCP_DB);
    assert.equal(e.retired, 3);
    assert.deepEqual(w.prog.ran, [0, 1, 2], "the #DB follows the instruction after the one that set TF");
  });

  it("TF set and left set traps after every instruction", () => {
    const w = world([() => NEXT, () => NEXT, () => NEXT], 2n | TF);
    for (const i of [0, 1, 2]) {
      const e = w.hv.vmrun(0, VMSA1, 100);
      assert.deepEqual([e.code, e.retired], [SVM_EXIT.EXCP_DB, 1]);
      assert.equal(w.prog.ran.at(-1), i);
    }
  });

  it("the budget does not hide the #DB of the last instruction it allowed", () => {
    const w = world([clearTf], 2n | TF);
    assert.equal(w.hv.vmrun(0, VMSA1, 1).code, SVM_EXIT.EXCP_DB);
  });
});

describe("single-step of an instruction that exits by itself (documented: its exit, no #DB)", () => {
  it("VMGEXIT with TF: the VMGEXIT exit, no #DB now or pending; the next instruction traps as usual", () => {
    const w = world([() => ({ kind: "vmgexit" }), () => NEXT, () => NEXT], 2n | TF);
    const e = w.hv.vmrun(0, VMSA1, 100);
    assert.deepEqual([e.code, e.retired], [SVM_EXIT.VMGEXIT, 1]);
    const again = w.hv.vmrun(0, VMSA1, 100);
    assert.deepEqual([again.code, again.retired], [SVM_EXIT.EXCP_DB, 1], "one #DB, after the next instruction");
    assert.deepEqual(w.prog.ran, [0, 1]);
  });

  it("HLT with TF: the HLT exit, no #DB; the instruction after it traps as usual", () => {
    const w = world([() => ({ kind: "hlt" }), clearTf, () => NEXT], 2n | TF);
    const e = w.hv.vmrun(0, VMSA1, 100);
    assert.deepEqual([e.code, e.retired], [VMEXIT_HLT, 1]);
    const next = w.hv.vmrun(0, VMSA1, 100);
    assert.deepEqual([next.code, next.retired], [SVM_EXIT.EXCP_DB, 1], "the TF-clearing instruction after HLT still traps");
    assert.deepEqual(w.prog.ran, [0, 1]);
  });

  it("a step that faults retires nothing and gives no #DB: #NPF exits as #NPF; a handled exception continues", () => {
    const npfFirst = world([(cpu) => void cpu.readPhys(gpaOf(DATA), 1), () => NEXT], 2n | TF);
    const e = npfFirst.hv.vmrun(0, VMSA1, 100);
    assert.deepEqual([e.code, e.retired], [SVM_EXIT.NPF, 0]);
    const gp = world([(cpu) => void cpu.rdmsr(0xdead), () => NEXT], 2n | TF);
    const g = gp.hv.vmrun(0, VMSA1, 100);
    assert.equal(g.code, SVM_EXIT.EXCP_DB);
    assert.equal(g.retired, 1, "the #DB follows the next retired instruction, not the faulting one");
  });
});

/**
 * The model of decode assists: a program declares the length of the instruction it is
 * executing (Cpu.setInstructionLength); a #NPF that instruction raises reports
 * guest_nrip = RIP + length, so VMPL0 can skip it. Without a declaration guest_nrip = RIP.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SVM_EXIT, VMSA } from "../shared/spec/index.js";
import type { Cpu, StepResult, VcpuProgram } from "./api.js";
import { PlatformError } from "./fault.js";
import { gpaOf, grant, testMachine, vmsaImage } from "./testing/world.js";

const VMSA0 = gpaOf(0x80000);
const VMSA1 = gpaOf(0x81000);
const TRAPPED = 0x100000;
const OPEN = 0x101000;
const NEXT: StepResult = { kind: "next" };

type Insn = (cpu: Cpu) => StepResult | void;

/** Runs one scripted instruction per step; a retired one advances RIP by 3. */
class Program implements VcpuProgram {
  calls = 0;
  handler: Insn | undefined;
  constructor(private readonly insns: Insn[]) {}
  step(cpu: Cpu): StepResult {
    const r = this.insns[Math.min(this.calls++, this.insns.length - 1)]!(cpu) ?? NEXT;
    cpu.setReg("rip", cpu.getReg("rip") + 3n);
    return r;
  }
  exception(cpu: Cpu): boolean {
    this.handler?.(cpu);
    return true;
  }
}

function world(insns: Insn[], rip = 0x4000n) {
  const w = testMachine();
  const hw = w.hw!;
  hw.writePage(VMSA0, vmsaImage({ vmpl: 0, cr0: 1n }));
  hw.writePage(VMSA1, vmsaImage({ vmpl: 1, rip, cr0: 1n }));
  hw.rmpLaunchAssign(VMSA0, { vmplPerms: [0, 0, 0], vmsa: true });
  hw.rmpLaunchAssign(VMSA1, { vmplPerms: [0, 0, 0], vmsa: true });
  grant(w.rmp!, TRAPPED, 1, 0);
  grant(w.rmp!, OPEN, 1);
  const prog = new Program(insns);
  w.machine.installProgram(1, prog);
  const field = (name: "rip" | "guest_nrip" | "guest_exit_code"): bigint => new DataView(hw.readPage(VMSA1).buffer).getBigUint64(VMSA.offsetOf(name), true);
  return { hv: w.machine.hypervisor, machine: w.machine, prog, field };
}

const trappedRead: Insn = (cpu) => void cpu.readPhys(gpaOf(TRAPPED), 8);

describe("guest_nrip on #NPF", () => {
  it("is RIP + the declared length when the faulting instruction declared one", () => {
    const w = world([() => NEXT, (cpu) => {
      cpu.setInstructionLength?.(7);
      trappedRead(cpu);
    }]);
    const e = w.hv.vmrun(0, VMSA1, 10);
    assert.deepEqual([e.code, e.retired], [SVM_EXIT.NPF, 1]);
    assert.equal(w.field("rip"), 0x4003n, "the faulting instruction did not retire");
    assert.equal(w.field("guest_nrip"), 0x400an);
  });

  it("is RIP when the faulting instruction declared none, even if an earlier one did", () => {
    const w = world([(cpu) => cpu.setInstructionLength?.(5), trappedRead]);
    assert.equal(w.hv.vmrun(0, VMSA1, 10).code, SVM_EXIT.NPF);
    assert.equal(w.field("guest_nrip"), w.field("rip"));
    assert.equal(w.field("rip"), 0x4003n);
  });

  it("wraps modulo 2^64", () => {
    const w = world([(cpu) => {
      cpu.setInstructionLength?.(4);
      trappedRead(cpu);
    }], 0xffff_ffff_ffff_fffen);
    w.hv.vmrun(0, VMSA1, 1);
    assert.equal(w.field("guest_nrip"), 2n);
  });

  it("a declared length changes nothing on other exits (guest_nrip = RIP after the last retired instruction)", () => {
    const w = world([(cpu) => {
      cpu.setInstructionLength?.(9);
      return { kind: "vmgexit" };
    }]);
    assert.equal(w.hv.vmrun(0, VMSA1, 10).code, SVM_EXIT.VMGEXIT);
    assert.equal(w.field("guest_nrip"), 0x4003n);
  });

  it("the exception handler starts with no length: a #NPF it raises reports its own declaration or RIP", () => {
    const w = world([(cpu) => {
      cpu.setInstructionLength?.(6);
      cpu.rdmsr(0xdead);
    }]);
    w.prog.handler = trappedRead;
    assert.equal(w.hv.vmrun(0, VMSA1, 10).code, SVM_EXIT.NPF);
    assert.equal(w.field("guest_nrip"), 0x4000n);
    const v = world([(cpu) => {
      cpu.setInstructionLength?.(6);
      cpu.rdmsr(0xdead);
    }]);
    v.prog.handler = (cpu) => {
      cpu.setInstructionLength?.(2);
      trappedRead(cpu);
    };
    v.hv.vmrun(0, VMSA1, 10);
    assert.equal(v.field("guest_nrip"), 0x4002n);
  });

  it("VMPL0 can skip the instruction: RIP := guest_nrip, and VMPL1 goes on from there", () => {
    const seen: bigint[] = [];
    const w = world([(cpu) => {
      cpu.setInstructionLength?.(4);
      trappedRead(cpu);
    }, (cpu) => void seen.push(cpu.getReg("rip"))]);
    assert.equal(w.hv.vmrun(0, VMSA1, 10).code, SVM_EXIT.NPF);
    // The agent's skip: VMPL0 reads guest_nrip from the VMPL1 VMSA and writes it into RIP.
    w.machine.installProgram(0, {
      step(cpu) {
        const nrip = cpu.readPhys(gpaOf(VMSA1 + BigInt(VMSA.offsetOf("guest_nrip"))), 8);
        cpu.writePhys(gpaOf(VMSA1 + BigInt(VMSA.offsetOf("rip"))), nrip);
        return { kind: "vmgexit" };
      },
    });
    assert.equal(w.hv.vmrun(0, VMSA0, 1).code, SVM_EXIT.VMGEXIT);
    w.hv.vmrun(0, VMSA1, 1);
    assert.deepEqual(seen, [0x4004n], "the next instruction runs at guest_nrip; the trapped read never retired");
  });

  it("refuses lengths outside 1..15", () => {
    const bad: unknown[] = [];
    const w = world([(cpu) => {
      for (const len of [0, 16, 1.5, -1, Number.NaN]) {
        try {
          cpu.setInstructionLength?.(len);
        } catch (e) {
          bad.push(e instanceof PlatformError && e.code === "BAD_ARGUMENT");
        }
      }
      cpu.setInstructionLength?.(1);
      cpu.setInstructionLength?.(15);
      return { kind: "hlt" };
    }]);
    w.hv.vmrun(0, VMSA1, 1);
    assert.deepEqual(bad, [true, true, true, true, true]);
  });
});

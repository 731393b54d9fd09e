import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../shared/base/index.js";
import { NPF_EXITINFO1 as N, RFLAGS, RMP_PERM, RMP_RESULT, SVM_EXIT, VMSA } from "../shared/spec/index.js";
import type { Cpu, StepResult, VcpuProgram } from "./api.js";
import { VMEXIT_HLT, VMEXIT_INTR, VMEXIT_INVALID, VMEXIT_SHUTDOWN } from "./api.js";
import { CpuFault, PlatformError } from "./fault.js";
import { MSR } from "./msr.js";
import { gpaOf, grant, testMachine, vmsaImage } from "./testing/world.js";

const VMSA0 = gpaOf(0x80000);
const VMSA1 = gpaOf(0x81000);
const VMSA1B = gpaOf(0x82000);
const SECRET = 0x90000;
const GUEST = 0x100000;
const NEXT: StepResult = { kind: "next" };

type Step = (cpu: Cpu) => StepResult | undefined | void;

/** A program that runs `steps` in order (then repeats the last), advancing RIP by 1 per retired instruction. */
class Script implements VcpuProgram {
  calls = 0;
  faults: CpuFault[] = [];
  handle: ((cpu: Cpu, f: CpuFault) => boolean) | undefined;
  constructor(private readonly steps: Step[]) {}
  step(cpu: Cpu): StepResult {
    const s = this.steps[Math.min(this.calls, this.steps.length - 1)]!;
    this.calls++;
    const r = s(cpu) ?? NEXT;
    cpu.setReg("rip", cpu.getReg("rip") + 1n);
    return r;
  }
  exception(cpu: Cpu, f: CpuFault): boolean {
    this.faults.push(f);
    return this.handle?.(cpu, f) ?? false;
  }
}

function world(o: { clock?: ManualClock; rflags1?: bigint } = {}) {
  const w = testMachine(o.clock ? { clock: o.clock } : {});
  const hw = w.hw!;
  hw.writePage(VMSA0, vmsaImage({ vmpl: 0, rip: 0x1000n, cr0: 1n, efer: 0x1d00n, sev_features: 0x1n }));
  hw.writePage(VMSA1, vmsaImage({ vmpl: 1, rip: 0x2000n, cr0: 1n, rflags: o.rflags1 ?? 2n }));
  hw.writePage(VMSA1B, vmsaImage({ vmpl: 1, rip: 0x3000n, cr0: 1n }));
  for (const g of [VMSA0, VMSA1, VMSA1B]) hw.rmpLaunchAssign(g, { vmplPerms: [0, 0, 0], vmsa: true });
  grant(w.rmp!, SECRET, 1, 0);
  grant(w.rmp!, GUEST, 4);
  return { ...w, hv: w.machine.hypervisor, hw };
}

const u64At = (page: Uint8Array, field: Parameters<typeof VMSA.offsetOf>[0]): bigint =>
  new DataView(page.buffer, page.byteOffset).getBigUint64(VMSA.offsetOf(field), true);

describe("VMRUN needs a VMSA page (the pause is enforced by hardware)", () => {
  it("of a page without the VMSA bit → VMEXIT_INVALID, no instruction retired, VMSA untouched", () => {
    const w = world();
    const prog = new Script([() => NEXT]);
    w.machine.installProgram(1, prog);
    const fake = gpaOf(GUEST);
    w.hw.writePage(fake, vmsaImage({ vmpl: 1 }));
    const e = w.hv.vmrun(0, fake, 100);
    assert.deepEqual(e, { code: VMEXIT_INVALID, info1: 0n, info2: 0n, ghcbMsr: 0n, retired: 0 });
    assert.equal(prog.calls, 0);
    assert.equal(u64At(w.hw.readPage(fake), "guest_exit_code"), 0n);
    const shared = gpaOf(0x200000);
    w.hv.write(shared, vmsaImage({ vmpl: 1 }));
    assert.equal(w.hv.vmrun(0, shared, 100).code, VMEXIT_INVALID, "a hypervisor-owned page");
    assert.equal(prog.calls, 0);
    assert.equal(w.machine.stats().exits[VMEXIT_INVALID], 2);
    assert.deepEqual(w.machine.stats().retired[0], [0, 0, 0, 0]);
  });

  it("after VMPL0 clears the VMSA bit (RMPADJUST) the context cannot run; setting it again resumes it", () => {
    const w = world();
    const guest = new Script([() => NEXT]);
    w.machine.installProgram(1, guest);
    let vmsaBit = false;
    w.machine.installProgram(0, new Script([(cpu) => {
      assert.equal(cpu.rmpadjust(VMSA1, 0, 1, 0, vmsaBit), RMP_RESULT.SUCCESS);
      return { kind: "vmgexit" };
    }]));
    assert.equal(w.hv.vmrun(0, VMSA1, 3).retired, 3);
    assert.equal(w.hv.vmrun(0, VMSA0, 10).code, SVM_EXIT.VMGEXIT);
    assert.equal(w.hv.rmpRead(VMSA1).vmsa, false);
    const paused = w.hv.vmrun(0, VMSA1, 50);
    assert.equal(paused.code, VMEXIT_INVALID);
    assert.equal(guest.calls, 3, "no guest step while paused");
    vmsaBit = true;
    w.hv.vmrun(0, VMSA0, 10);
    assert.equal(w.hv.vmrun(0, VMSA1, 2).retired, 2);
  });

  it("a VMPL1 guest cannot re-arm its own VMSA (the bit is VMPL0's)", () => {
    const w = world();
    w.machine.installProgram(0, new Script([(cpu) => void cpu.rmpadjust(VMSA1B, 0, 1, RMP_PERM.READ, false)]));
    w.hv.vmrun(0, VMSA0, 1);
    assert.equal(w.hv.rmpRead(VMSA1B).vmsa, false);
    w.machine.installProgram(1, new Script([(cpu) => {
      const rc = cpu.rmpadjust(VMSA1B, 0, 2, RMP_PERM.READ, true);
      assert.equal(rc, RMP_RESULT.SUCCESS);
      return { kind: "hlt" };
    }]));
    w.hv.vmrun(0, VMSA1, 5);
    assert.equal(w.hv.rmpRead(VMSA1B).vmsa, false);
  });

  it("after RMPUPDATE by the host the page is no VMSA any more", () => {
    const w = world();
    w.machine.installProgram(1, new Script([() => NEXT]));
    w.hv.rmpUpdate(VMSA1, { assigned: true });
    assert.equal(w.hv.vmrun(0, VMSA1, 5).code, VMEXIT_INVALID);
  });

  it("a VMSA already running on another vCPU cannot be entered", () => {
    const w = world();
    let inner: number | undefined;
    w.machine.installProgram(1, new Script([() => {
      inner = w.hv.vmrun(1, VMSA1, 5).code;
      return { kind: "hlt" };
    }]));
    w.hv.vmrun(0, VMSA1, 5);
    assert.equal(inner, VMEXIT_INVALID);
  });
});

describe("exits", () => {
  it("#NPF: exit 0x400 with EXITINFO1/2, not retired, written into the VMSA with guest_nrip = RIP", () => {
    const w = world();
    const prog = new Script([() => NEXT, (cpu) => void cpu.readPhys(gpaOf(SECRET + 0x10), 8)]);
    w.machine.installProgram(1, prog);
    const e = w.hv.vmrun(0, VMSA1, 10);
    const bits = N.P | N.FINAL | N.RMP | N.ENC | N.VMPL;
    assert.deepEqual({ ...e, ghcbMsr: 0n }, { code: SVM_EXIT.NPF, info1: bits, info2: BigInt(SECRET + 0x10), ghcbMsr: 0n, retired: 1 });
    const page = w.hw.readPage(VMSA1);
    assert.equal(u64At(page, "guest_exit_code"), 0x400n);
    assert.equal(u64At(page, "guest_exit_info_1"), bits);
    assert.equal(u64At(page, "guest_exit_info_2"), BigInt(SECRET + 0x10));
    assert.equal(u64At(page, "rip"), 0x2001n, "the faulting instruction did not retire");
    assert.equal(u64At(page, "guest_nrip"), 0x2001n);
    assert.deepEqual(w.machine.stats().retired[0], [0, 1, 0, 0]);
    assert.equal(w.hv.read(VMSA1, 8).length, 8);
  });

  it("VMGEXIT: exit 0x403 with the GHCB MSR of that VMSA", () => {
    const w = world();
    w.machine.installProgram(1, new Script([(cpu) => cpu.wrmsr(MSR.GHCB, 0x10012n), () => ({ kind: "vmgexit" })]));
    const e = w.hv.vmrun(0, VMSA1, 10);
    assert.deepEqual(e, { code: SVM_EXIT.VMGEXIT, info1: 0n, info2: 0n, ghcbMsr: 0x10012n, retired: 2 });
    const page = w.hw.readPage(VMSA1);
    assert.equal(u64At(page, "guest_exit_code"), 0x403n);
    assert.equal(u64At(page, "guest_nrip"), 0x2002n);
  });

  it("HLT → 0x78; budget exhausted → INTR after exactly `budget` instructions; budget 0 runs nothing", () => {
    const w = world();
    const prog = new Script([() => NEXT, () => NEXT, () => ({ kind: "hlt" })]);
    w.machine.installProgram(1, prog);
    assert.deepEqual(w.hv.vmrun(0, VMSA1, 2), { code: VMEXIT_INTR, info1: 0n, info2: 0n, ghcbMsr: 0n, retired: 2 });
    assert.equal(u64At(w.hw.readPage(VMSA1), "guest_exit_code"), BigInt(VMEXIT_INTR));
    assert.equal(w.hv.vmrun(0, VMSA1, 10).code, VMEXIT_HLT);
    assert.equal(w.hv.vmrun(0, VMSA1, 0).retired, 0);
    assert.equal(prog.calls, 3);
    assert.deepEqual(w.machine.stats().exits, { [VMEXIT_INTR]: 2, [VMEXIT_HLT]: 1 });
  });

  it("RFLAGS.TF → #DB intercept exit after exactly one instruction", () => {
    const w = world({ rflags1: 2n | RFLAGS.TF });
    const prog = new Script([() => NEXT]);
    w.machine.installProgram(1, prog);
    const e = w.hv.vmrun(0, VMSA1, 1000);
    assert.equal(e.code, SVM_EXIT.EXCP_DB);
    assert.equal(e.retired, 1);
    assert.equal(prog.calls, 1);
    assert.equal(u64At(w.hw.readPage(VMSA1), "guest_exit_code"), BigInt(SVM_EXIT.EXCP_DB));
  });


  it("guest exceptions go to program.exception (CR2 written for #PF); handled → continue, unhandled → SHUTDOWN", () => {
    const w = world();
    const va = 0x7000_0000n;
    const prog = new Script([
      (cpu) => {
        cpu.setReg("cr3", BigInt(GUEST) | (1n << 51n));
        cpu.setReg("cr0", (1n << 31n) | 1n);
        cpu.setReg("cr4", 1n << 5n);
      },
      (cpu) => void cpu.readVirt(va, 1),
      (cpu) => void cpu.readVirt(va, 1),
      () => ({ kind: "hlt" }),
    ]);
    prog.handle = (_cpu, f) => f.code === "pf" && prog.faults.length === 1;
    w.machine.installProgram(1, prog);
    assert.equal(w.hv.vmrun(0, VMSA1, 10).code, VMEXIT_SHUTDOWN, "second #PF is not handled");
    assert.equal(prog.faults.length, 2);
    assert.equal(prog.faults[0]!.code, "pf");
    assert.equal(u64At(w.hw.readPage(VMSA1), "cr2"), va);
    assert.equal(u64At(w.hw.readPage(VMSA1), "guest_exit_code"), BigInt(VMEXIT_SHUTDOWN));
  });

  it("a #NPF raised inside the exception handler exits to the host", () => {
    const w = world();
    const prog = new Script([(cpu) => void cpu.rdmsr(0x1234)]);
    prog.handle = (cpu) => {
      cpu.readPhys(gpaOf(SECRET), 1);
      return true;
    };
    w.machine.installProgram(1, prog);
    const e = w.hv.vmrun(0, VMSA1, 10);
    assert.equal(e.code, SVM_EXIT.NPF);
    assert.equal(prog.faults[0]!.code, "gp");
  });
});

describe("the Cpu", () => {
  it("reads and writes registers as the VMSA page's bytes", () => {
    const w = world();
    let seen = 0n;
    w.machine.installProgram(1, new Script([(cpu) => {
      seen = cpu.getReg("rip");
      cpu.setReg("rax", 0x1122334455667788n);
      cpu.setReg("r15", -1n);
      cpu.setSegment("cs", { selector: 0x10, attrib: 0x29b, limit: 0xffffffff, base: 0n });
      cpu.setCpl(3);
      assert.equal(cpu.vmpl, 1);
      assert.equal(cpu.vcpu, 0);
      assert.equal(cpu.vmsaGpa, VMSA1);
      assert.equal(cpu.cBit, 51);
      return { kind: "hlt" };
    }]));
    w.hv.vmrun(0, VMSA1, 5);
    assert.equal(seen, 0x2000n);
    const f = VMSA.parse(w.hw.readPage(VMSA1), 0, { strict: false });
    assert.equal(f.rax, 0x1122334455667788n);
    assert.equal(f.r15, (1n << 64n) - 1n);
    assert.equal(f.cs_selector, 0x10);
    assert.equal(f.cs_attrib, 0x29b);
    assert.equal(f.cpl, 3);
    assert.notDeepEqual(w.hv.read(VMSA1, 0x200).slice(0x1f8, 0x200), new Uint8Array([0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]), "the host sees ciphertext");
  });

  it("is revoked when its VMRUN ends", () => {
    const w = world();
    let kept: Cpu | undefined;
    w.machine.installProgram(1, new Script([(cpu) => {
      kept = cpu;
      return { kind: "hlt" };
    }]));
    w.hv.vmrun(0, VMSA1, 5);
    assert.throws(() => kept!.getReg("rax"), (e: unknown) => e instanceof PlatformError && e.code === "BAD_VCPU");
    assert.throws(() => kept!.readPhys(gpaOf(GUEST), 1), PlatformError);
  });

  it("keeps the GHCB MSR per VMSA page; maps VMSA-backed MSRs; SEV_STATUS from SEV_FEATURES; #GP otherwise", () => {
    const w = world();
    const got: Record<string, bigint> = {};
    w.machine.installProgram(1, new Script([(cpu) => {
      got[`ghcb@${cpu.vmsaGpa}`] = cpu.rdmsr(MSR.GHCB);
      cpu.wrmsr(MSR.GHCB, cpu.vmsaGpa === VMSA1 ? 0x111000n : 0x222000n);
      return { kind: "hlt" };
    }]));
    w.machine.installProgram(0, new Script([(cpu) => {
      got.efer = cpu.rdmsr(MSR.EFER);
      got.sevStatus = cpu.rdmsr(MSR.SEV_STATUS);
      cpu.wrmsr(MSR.LSTAR, 0xffffffff81000000n);
      cpu.wrmsr(MSR.TSC_AUX, 7n);
      got.tscAux = cpu.rdmsr(MSR.TSC_AUX);
      assert.throws(() => cpu.rdmsr(0xdead), (e: unknown) => e instanceof CpuFault && e.code === "gp");
      assert.throws(() => cpu.wrmsr(MSR.SEV_STATUS, 0n), (e: unknown) => e instanceof CpuFault && e.code === "gp");
      return { kind: "hlt" };
    }]));
    assert.equal(w.hv.vmrun(0, VMSA1, 5).ghcbMsr, 0x111000n);
    assert.equal(w.hv.vmrun(1, VMSA1B, 5).ghcbMsr, 0x222000n);
    w.hv.vmrun(0, VMSA1, 5);
    assert.equal(got[`ghcb@${VMSA1}`], 0x111000n, "VMSA1 kept its own value");
    w.hv.vmrun(0, VMSA0, 5);
    assert.equal(got.efer, 0x1d00n);
    assert.equal(got.sevStatus, 0b111n, "SEV | SEV-ES | SNP (SEV_FEATURES.SNPActive << 2)");
    assert.equal(got.tscAux, 7n);
    assert.equal(u64At(w.hw.readPage(VMSA0), "lstar"), 0xffffffff81000000n);
  });

  it("reads the TSC from the injected clock", () => {
    const clock = new ManualClock(1_700_000_000_000);
    const w = world({ clock });
    const seen: bigint[] = [];
    w.machine.installProgram(1, new Script([(cpu) => void seen.push(cpu.rdtsc(), cpu.rdmsr(MSR.TSC)), () => ({ kind: "hlt" })]));
    w.hv.vmrun(0, VMSA1, 1);
    clock.advance(1.5);
    w.hv.vmrun(0, VMSA1, 1);
    assert.deepEqual(seen.slice(0, 2), [1_700_000_000_000_000_000n, 1_700_000_000_000_000_000n]);
    assert.equal(seen.length, 2);
    w.machine.installProgram(1, new Script([(cpu) => void seen.push(cpu.rdtsc())]));
    w.hv.vmrun(0, VMSA1, 1);
    assert.equal(seen[2]! - seen[0]!, 1_500_000n);
  });

  it("runs PVALIDATE as VMPL0 and refuses it (FAIL_PERMISSION) at VMPL1", () => {
    const w = world();
    w.hv.rmpUpdate(gpaOf(0x300000), { assigned: true });
    const rcs: number[] = [];
    w.machine.installProgram(1, new Script([(cpu) => void rcs.push(cpu.pvalidate(gpaOf(0x300000), 0, true).rc), () => ({ kind: "hlt" })]));
    w.machine.installProgram(0, new Script([(cpu) => void rcs.push(cpu.pvalidate(gpaOf(0x300000), 0, true).rc), () => ({ kind: "hlt" })]));
    w.hv.vmrun(0, VMSA1, 5);
    w.hv.vmrun(0, VMSA0, 5);
    assert.deepEqual(rcs, [RMP_RESULT.FAIL_PERMISSION, RMP_RESULT.SUCCESS]);
    assert.equal(w.hv.rmpRead(gpaOf(0x300000)).validated, true);
  });
});

describe("VMRUN misuse", () => {
  it("counts retired instructions per vCPU and VMPL", () => {
    const w = world();
    w.machine.installProgram(1, new Script([() => NEXT]));
    w.machine.installProgram(0, new Script([() => NEXT]));
    w.hv.vmrun(0, VMSA1, 5);
    w.hv.vmrun(1, VMSA0, 3);
    w.hv.vmrun(1, VMSA1B, 2);
    assert.deepEqual(w.machine.stats().retired, [[0, 5, 0, 0], [3, 2, 0, 0]]);
    assert.equal(w.machine.stats().vmruns, 3);
  });

  it("rejects a bad vCPU, a running vCPU, a missing program, a GPA outside memory", () => {
    const w = world();
    assert.throws(() => w.hv.vmrun(2, VMSA1, 1), (e: unknown) => e instanceof PlatformError && e.code === "BAD_VCPU");
    assert.throws(() => w.hv.vmrun(0, VMSA1, 1), (e: unknown) => e instanceof PlatformError && e.code === "BAD_ARGUMENT");
    assert.throws(() => w.hv.vmrun(0, gpaOf(1n << 40n), 1), (e: unknown) => e instanceof PlatformError && e.code === "BAD_GPA");
    let nested: unknown;
    w.machine.installProgram(1, new Script([() => {
      try {
        w.hv.vmrun(0, VMSA1B, 1);
      } catch (e) {
        nested = e;
      }
      return { kind: "hlt" };
    }]));
    w.hv.vmrun(0, VMSA1, 5);
    assert.ok(nested instanceof PlatformError && nested.code === "BAD_VCPU");
    assert.equal(w.hv.vmrun(0, VMSA1, 1).retired, 1, "the vCPU is free again");
  });

  it("lets an error that is not a CpuFault out, and frees the vCPU", () => {
    const w = world();
    w.machine.installProgram(1, new Script([() => {
      throw new Error("program bug");
    }]));
    assert.throws(() => w.hv.vmrun(0, VMSA1, 5), /program bug/);
    w.machine.installProgram(1, new Script([() => ({ kind: "hlt" })]));
    assert.equal(w.hv.vmrun(0, VMSA1, 5).code, VMEXIT_HLT);
  });
});

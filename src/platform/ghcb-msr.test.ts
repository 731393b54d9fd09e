import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { deserialize, serialize } from "node:v8";
import {
  GHCB_CPUID_REG,
  GHCB_MSR,
  GHCB_PSC_OP,
  MSR_GHCB,
  SVM_EXIT,
  decodeCpuidReq,
  decodeCpuidResp,
  decodePscReq,
  decodePscResp,
  decodeSevInfoResp,
  encodeCpuidReq,
  encodeCpuidResp,
  encodePscReq,
  encodePscResp,
  encodeSevInfoResp,
  ghcbMsrInfo,
} from "../shared/spec/index.js";
import type { Gpa } from "../shared/base/index.js";
import type { Cpu, HypervisorPort, StepResult } from "./api.js";
import { VMEXIT_HLT } from "./api.js";
import { PlatformError } from "./fault.js";
import type { MachineSnapshot } from "./machine-snapshot.js";
import { gpaOf, grant, testMachine, vmsaImage } from "./testing/world.js";

const VMSA1 = gpaOf(0x81000);
const VMSA1B = gpaOf(0x82000);
const DATA = 0x100000;
const isCode = (code: string) => (e: unknown) => e instanceof PlatformError && e.code === code;

function world(o: { sev?: boolean } = {}) {
  const w = testMachine({ seed: "ghcb-msr", sev: o.sev ?? true });
  const hv = w.machine.hypervisor;
  if (w.hw !== undefined) {
    w.hw.writePage(VMSA1, vmsaImage({ vmpl: 1, rip: 0x1000n, cr0: 1n, sev_features: 1n }));
    w.hw.writePage(VMSA1B, vmsaImage({ vmpl: 1, rip: 0x2000n, cr0: 1n, sev_features: 1n }));
    for (const g of [VMSA1, VMSA1B]) w.hw.rmpLaunchAssign(g, { vmplPerms: [0, 0, 0], vmsa: true });
    grant(w.rmp!, DATA, 1);
  } else {
    hv.write(VMSA1, vmsaImage({ vmpl: 1, rip: 0x1000n, cr0: 1n }));
  }
  return { ...w, hv };
}

/** A guest that runs `steps` one per instruction (each step one instruction), then halts. */
function script(steps: ((cpu: Cpu) => StepResult | void)[]) {
  let i = 0;
  return {
    get done(): boolean {
      return i >= steps.length;
    },
    step(cpu: Cpu): StepResult {
      const s = steps[i++];
      return s === undefined ? { kind: "hlt" } : (s(cpu) ?? { kind: "next" });
    },
  };
}

/**
 * The hypervisor side of the MSR protocol (what src/host's GHCB handler does): on a
 * VMGEXIT it decodes the request in `exit.ghcbMsr` and answers through setGhcbMsr.
 */
function answer(hv: HypervisorPort, vmsa: Gpa, msr: bigint): void {
  switch (ghcbMsrInfo(msr)) {
    case GHCB_MSR.SEV_INFO_REQ:
      hv.setGhcbMsr(vmsa, encodeSevInfoResp({ maxProtocol: 2, minProtocol: 2, cBit: hv.cBit }));
      return;
    case GHCB_MSR.CPUID_REQ: {
      const { fn, reg } = decodeCpuidReq(msr);
      hv.setGhcbMsr(vmsa, encodeCpuidResp(fn === 0x8000_001f && reg === GHCB_CPUID_REG.EBX ? hv.cBit : 0));
      return;
    }
    case GHCB_MSR.PSC_REQ: {
      const { gfn, op } = decodePscReq(msr);
      hv.rmpUpdate((gfn << 12n) as Gpa, { assigned: op === GHCB_PSC_OP.PRIVATE });
      hv.setGhcbMsr(vmsa, encodePscResp(0));
      return;
    }
    default:
      assert.fail(`unexpected request 0x${msr.toString(16)}`);
  }
}

describe("setGhcbMsr: the hypervisor answers GHCB MSR-protocol requests (SNP.md §6.2)", () => {
  it("SEV info, CPUID and a page-state change, end to end: request, VMGEXIT, host answer, RDMSR", () => {
    const w = world();
    const seen: bigint[] = [];
    const secret = new TextEncoder().encode("written before the page-state change");
    let sharedView: Uint8Array = new Uint8Array(0);
    const guest = script([
      (cpu) => cpu.writePhys(gpaOf(DATA), secret),
      (cpu) => cpu.wrmsr(MSR_GHCB, BigInt(GHCB_MSR.SEV_INFO_REQ)),
      () => ({ kind: "vmgexit" }),
      (cpu) => void seen.push(cpu.rdmsr(MSR_GHCB)),
      (cpu) => cpu.wrmsr(MSR_GHCB, encodeCpuidReq(0x8000_001f, GHCB_CPUID_REG.EBX)),
      () => ({ kind: "vmgexit" }),
      (cpu) => void seen.push(cpu.rdmsr(MSR_GHCB)),
      (cpu) => cpu.wrmsr(MSR_GHCB, encodePscReq({ gfn: BigInt(DATA >> 12), op: GHCB_PSC_OP.SHARED })),
      () => ({ kind: "vmgexit" }),
      (cpu) => void seen.push(cpu.rdmsr(MSR_GHCB)),
      (cpu) => void (sharedView = cpu.readPhys(gpaOf(DATA), secret.length, { shared: true })),
    ]);
    w.machine.installProgram(1, guest);
    const exits: number[] = [];
    let hostCiphertext: Uint8Array | undefined;
    for (let round = 0; round < 10 && !guest.done; round++) {
      const e = w.hv.vmrun(0, VMSA1, 100);
      exits.push(e.code);
      hostCiphertext ??= w.hv.read(gpaOf(DATA), secret.length); // the host's view while the page is private
      if (e.code === SVM_EXIT.VMGEXIT) answer(w.hv, VMSA1, e.ghcbMsr);
    }
    assert.deepEqual(exits, [SVM_EXIT.VMGEXIT, SVM_EXIT.VMGEXIT, SVM_EXIT.VMGEXIT, VMEXIT_HLT]);
    assert.equal(seen.length, 3);
    assert.equal(ghcbMsrInfo(seen[0]!), GHCB_MSR.SEV_INFO_RESP);
    assert.deepEqual(decodeSevInfoResp(seen[0]!), { maxProtocol: 2, minProtocol: 2, cBit: 51 });
    assert.equal(decodeCpuidResp(seen[1]!), 51);
    assert.equal(ghcbMsrInfo(seen[2]!), GHCB_MSR.PSC_RESP);
    assert.equal(decodePscResp(seen[2]!), 0);
    assert.equal(w.hv.rmpRead(gpaOf(DATA)).assigned, false);
    assert.notDeepEqual(sharedView, secret, "the converted page is the guest's ciphertext to a C=0 access");
    assert.deepEqual(sharedView, hostCiphertext);
  });

  it("the value is reported by the next exit of that VMSA until the guest writes the MSR again", () => {
    const w = world();
    w.machine.installProgram(1, { step: () => ({ kind: "hlt" }) });
    w.hv.setGhcbMsr(VMSA1, 0xabc001n);
    assert.equal(w.hv.vmrun(0, VMSA1, 1).ghcbMsr, 0xabc001n);
    assert.equal(w.hv.vmrun(1, VMSA1B, 1).ghcbMsr, 0n, "another VMSA keeps its own MSR");
    w.machine.installProgram(1, {
      step(cpu) {
        cpu.wrmsr(MSR_GHCB, 0x5000n);
        return { kind: "hlt" };
      },
    });
    assert.equal(w.hv.vmrun(0, VMSA1, 1).ghcbMsr, 0x5000n);
    w.hv.setGhcbMsr(VMSA1, -1n);
    assert.equal(w.hv.vmrun(1, VMSA1B, 1).ghcbMsr, 0x5000n);
    w.machine.installProgram(1, { step: () => ({ kind: "hlt" }) });
    assert.equal(w.hv.vmrun(0, VMSA1, 1).ghcbMsr, (1n << 64n) - 1n, "taken modulo 2^64");
  });

  it("changes nothing but the MSR: no VMSA byte, no memory", () => {
    const w = world();
    const vmsa = w.mem.copyPage(Number(VMSA1) / 4096);
    const allocated = w.machine.stats().allocatedPages;
    w.hv.setGhcbMsr(VMSA1, 0x1234_5000n);
    assert.deepEqual(w.mem.copyPage(Number(VMSA1) / 4096), vmsa);
    assert.equal(w.machine.stats().allocatedPages, allocated);
  });

  it("is part of the machine snapshot", () => {
    const w = world();
    w.hv.setGhcbMsr(VMSA1, 0x81n);
    const bytes = serialize(w.machine.snapshot());
    w.hv.setGhcbMsr(VMSA1, 0x13n);
    w.machine.restore(deserialize(bytes) as MachineSnapshot);
    w.machine.installProgram(1, { step: () => ({ kind: "hlt" }) });
    assert.equal(w.hv.vmrun(0, VMSA1, 1).ghcbMsr, 0x81n);
  });

  it("accepts only a VMSA page of this guest (what VMRUN would enter)", () => {
    const w = world();
    assert.throws(() => w.hv.setGhcbMsr(gpaOf(DATA), 1n), isCode("BAD_GPA"), "a guest page that is not a VMSA");
    assert.throws(() => w.hv.setGhcbMsr(gpaOf(0x83000), 1n), isCode("BAD_GPA"), "a hypervisor-owned page");
    assert.throws(() => w.hv.setGhcbMsr(gpaOf(Number(VMSA1) + 8), 1n), isCode("BAD_GPA"), "not page-aligned");
    assert.throws(() => w.hv.setGhcbMsr(gpaOf(w.hv.memoryBytes), 1n), isCode("BAD_GPA"), "outside memory");
    assert.throws(() => w.hv.setGhcbMsr(VMSA1, 1 as unknown as bigint), isCode("BAD_ARGUMENT"));
    w.rmp!.setVmsa(Number(VMSA1) / 4096, false);
    assert.throws(() => w.hv.setGhcbMsr(VMSA1, 1n), isCode("BAD_GPA"), "a VMSA whose RMP VMSA bit is clear (paused)");
    w.hv.rmpUpdate(VMSA1B, { assigned: false });
    assert.throws(() => w.hv.setGhcbMsr(VMSA1B, 1n), isCode("BAD_GPA"), "a former VMSA given back to the host");
  });

  it("works on a machine without SEV for any page VMRUN would enter", () => {
    const w = world({ sev: false });
    w.machine.installProgram(1, {
      step(cpu) {
        return cpu.rdmsr(MSR_GHCB) === 0x77n ? { kind: "hlt" } : { kind: "next" };
      },
    });
    w.hv.setGhcbMsr(VMSA1, 0x77n);
    const e = w.hv.vmrun(0, VMSA1, 5);
    assert.equal(e.code, VMEXIT_HLT);
    assert.equal(e.retired, 1);
    assert.throws(() => w.hv.setGhcbMsr(gpaOf(0x1001), 1n), isCode("BAD_GPA"));
  });
});

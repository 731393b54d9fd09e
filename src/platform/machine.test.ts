import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { deserialize, serialize } from "node:v8";
import { fixedClock } from "../shared/base/index.js";
import { RMP_PERM_RWX } from "../shared/spec/index.js";
import type { Cpu, StepResult, VcpuProgram } from "./api.js";
import { VMEXIT_HLT } from "./api.js";
import { CpuFault, PlatformError } from "./fault.js";
import { createMachine } from "./index.js";
import type { MachineSnapshot } from "./machine-snapshot.js";
import { MSR } from "./msr.js";
import { TEST_CLOCK_START, gpaOf, testMachine, vmsaImage } from "./testing/world.js";

const VMSA1 = gpaOf(0x80000);
const DATA = gpaOf(0x100000);
const isCode = (code: string) => (e: unknown) => e instanceof PlatformError && e.code === code;

/** Launches a tiny guest through the real ASP: a data page and a VMPL1 VMSA. */
function launched(seed = "machine-test") {
  const w = testMachine({ seed });
  const hv = w.machine.hypervisor;
  hv.asp.launchStart({ policy: 0x30000n });
  hv.write(DATA, new TextEncoder().encode("launched plaintext"));
  hv.asp.launchUpdate({ gpa: DATA, type: "normal", vmplPerms: [RMP_PERM_RWX, 0, 0] });
  hv.write(VMSA1, vmsaImage({ vmpl: 1, rip: 0x1000n, cr0: 1n, sev_features: 1n }));
  hv.asp.launchUpdate({ gpa: VMSA1, type: "vmsa" });
  hv.asp.launchFinish({});
  return { ...w, hv };
}

const counter: VcpuProgram = {
  step(cpu: Cpu): StepResult {
    const n = cpu.readPhys(DATA, 1)[0]!;
    cpu.writePhys(DATA, new Uint8Array([n + 1]));
    cpu.wrmsr(MSR.GHCB, BigInt(n + 1) << 12n);
    cpu.setReg("rip", cpu.getReg("rip") + 1n);
    return n % 4 === 3 ? { kind: "hlt" } : { kind: "next" };
  },
};

describe("createMachine with the secure processor", () => {
  it("launches pages through the ASP: measured, assigned, validated, ciphertext to the host, plaintext to the guest", () => {
    const w = launched();
    const e = w.hv.rmpRead(DATA);
    assert.deepEqual(e, { assigned: true, validated: true, vmsa: false, immutable: false, pageSize: 0, asid: 1, perms: [0x1f, RMP_PERM_RWX, 0, 0] });
    assert.equal(w.hv.rmpRead(VMSA1).vmsa, true);
    assert.equal(w.hv.asp.launchDigest.length, 48);
    assert.notDeepEqual(w.hv.read(DATA, 18), new TextEncoder().encode("launched plaintext"));
    let seen = "";
    w.machine.installProgram(1, {
      step(cpu) {
        seen = new TextDecoder().decode(cpu.readPhys(DATA, 18));
        return { kind: "hlt" };
      },
    });
    assert.equal(w.hv.vmrun(0, VMSA1, 10).code, VMEXIT_HLT);
    assert.equal(seen, "launched plaintext");
  });
});

describe("snapshot / restore", () => {
  it("round-trips memory, RMP, vCPU and MSR state, statistics and the ASP through v8 serialization", () => {
    const w = launched();
    w.machine.installProgram(1, counter);
    w.hv.vmrun(0, VMSA1, 100);
    const snap = w.machine.snapshot();
    const bytes = serialize(snap);
    const state = () => ({
      data: w.hv.read(DATA, 4096),
      vmsa: w.hv.read(VMSA1, 4096),
      rmp: [w.hv.rmpRead(DATA), w.hv.rmpRead(VMSA1), w.hv.rmpRead(gpaOf(0x200000))],
      stats: w.machine.stats(),
      digest: w.hv.asp.launchDigest,
    });
    const before = state();
    // diverge: run more, change the RMP, write shared memory
    w.hv.vmrun(0, VMSA1, 100);
    w.hv.rmpUpdate(gpaOf(0x200000), { assigned: true });
    w.hv.write(gpaOf(0x300000), new Uint8Array([1, 2, 3]));
    assert.notDeepEqual(state(), before);
    w.machine.restore(deserialize(bytes) as MachineSnapshot);
    assert.deepEqual(state(), before);
    assert.deepEqual(w.hv.read(gpaOf(0x300000), 3), new Uint8Array(3));
    // the restored machine continues exactly like the original did
    const next = w.hv.vmrun(0, VMSA1, 100);
    const twin = launched();
    twin.machine.installProgram(1, counter);
    twin.hv.vmrun(0, VMSA1, 100);
    assert.deepEqual(twin.hv.vmrun(0, VMSA1, 100), next);
    assert.deepEqual(twin.hv.read(DATA, 4096), w.hv.read(DATA, 4096));
  });

  it("refuses a snapshot of another machine (different seed, size or mode) or while running", () => {
    const w = launched("seed-a");
    const snap = w.machine.snapshot();
    assert.throws(() => launched("seed-b").machine.restore(snap), isCode("SNAPSHOT"));
    assert.throws(() => testMachine({ seed: "seed-a", memoryBytes: 32n << 20n }).machine.restore(snap), isCode("SNAPSHOT"));
    assert.throws(() => testMachine({ seed: "seed-a", sev: false }).machine.restore(snap), isCode("SNAPSHOT"));
    assert.throws(() => w.machine.restore({ ...snap, format: "nope" } as unknown as MachineSnapshot), isCode("SNAPSHOT"));
    let inside: unknown;
    w.machine.installProgram(1, {
      step() {
        try {
          w.machine.snapshot();
        } catch (e) {
          inside = e;
        }
        return { kind: "hlt" };
      },
    });
    w.hv.vmrun(0, VMSA1, 1);
    assert.ok(isCode("SNAPSHOT")(inside));
  });
});

describe("determinism", () => {
  it("the same seed gives the same ciphertext, launch digest and exits", () => {
    const a = launched("same");
    const b = launched("same");
    assert.deepEqual(a.hv.read(DATA, 4096), b.hv.read(DATA, 4096));
    assert.deepEqual(a.hv.asp.launchDigest, b.hv.asp.launchDigest);
    assert.notDeepEqual(a.hv.read(DATA, 4096), launched("other").hv.read(DATA, 4096));
  });
});

describe("a non-SEV machine", () => {
  const plainWorld = () => testMachine({ sev: false });

  it("gives the host plaintext access and needs no VMSA bit to run a context", () => {
    const w = plainWorld();
    const hv = w.machine.hypervisor;
    const plain = hv.plainAccess();
    plain.writePhys(VMSA1, vmsaImage({ vmpl: 1, rip: 0x77n }));
    plain.writePhys(DATA, new Uint8Array([41]));
    let rip = 0n;
    w.machine.installProgram(1, {
      step(cpu) {
        rip = cpu.getReg("rip");
        cpu.writePhys(DATA, new Uint8Array([cpu.readPhys(DATA, 1)[0]! + 1]));
        return { kind: "hlt" };
      },
    });
    assert.equal(hv.vmrun(1, VMSA1, 5).code, VMEXIT_HLT);
    assert.equal(rip, 0x77n);
    assert.deepEqual(plain.readPhys(DATA, 1), new Uint8Array([42]));
    assert.equal(plain.vmsaOf(1), VMSA1);
    assert.throws(() => plain.vmsaOf(0), isCode("BAD_VCPU"));
  });

  it("has no RMP, no ASP and no RMP instructions", () => {
    const w = plainWorld();
    const hv = w.machine.hypervisor;
    assert.throws(() => hv.rmpRead(DATA), isCode("NOT_SEV"));
    assert.throws(() => hv.rmpUpdate(DATA, { assigned: true }), isCode("NOT_SEV"));
    assert.throws(() => hv.asp.guestRequest(DATA, DATA), isCode("NOT_SEV"));
    assert.throws(() => hv.asp.launchStart({ policy: 0x30000n }), isCode("NOT_SEV"));
    hv.write(VMSA1, vmsaImage({ vmpl: 0 }));
    const seen: unknown[] = [];
    w.machine.installProgram(0, {
      step(cpu) {
        for (const f of [() => cpu.pvalidate(DATA, 0, true), () => cpu.rmpadjust(DATA, 0, 1, 1, false)]) {
          try {
            f();
          } catch (e) {
            seen.push(e);
          }
        }
        seen.push(cpu.rdmsr(MSR.SEV_STATUS));
        return { kind: "hlt" };
      },
    });
    hv.vmrun(0, VMSA1, 1);
    assert.ok(seen[0] instanceof CpuFault && seen[0].code === "gp");
    assert.ok(seen[1] instanceof CpuFault && seen[1].code === "gp");
    assert.equal(seen[2], 0n);
  });

  it("snapshots and restores without an RMP", () => {
    const w = plainWorld();
    const hv = w.machine.hypervisor;
    hv.write(DATA, new Uint8Array([9]));
    const s = structuredClone(w.machine.snapshot());
    hv.write(DATA, new Uint8Array([8]));
    w.machine.restore(s);
    assert.deepEqual(hv.read(DATA, 1), new Uint8Array([9]));
  });
});

describe("the SEV machine's boundaries", () => {
  it("plainAccess() throws NOT_SEV", () => {
    assert.throws(() => testMachine().machine.hypervisor.plainAccess(), isCode("NOT_SEV"));
  });

  it("validates its configuration", () => {
    const base = { memoryBytes: 16n << 20n, vcpus: 1, seed: 1, clock: fixedClock(TEST_CLOCK_START) };
    assert.throws(() => createMachine({ ...base, cBit: 31 }), isCode("BAD_ARGUMENT"));
    assert.throws(() => createMachine({ ...base, cBit: 52 }), isCode("BAD_ARGUMENT"));
    assert.throws(() => createMachine({ ...base, vcpus: 0 }), isCode("BAD_ARGUMENT"));
    assert.throws(() => createMachine({ ...base, memoryBytes: 4097n }), isCode("BAD_ARGUMENT"));
    assert.throws(() => createMachine({ ...base, memoryBytes: 1n << 34n, cBit: 33 }), isCode("BAD_ARGUMENT"));
    const m = createMachine({ ...base, cBit: 47 });
    assert.equal(m.hypervisor.cBit, 47);
    assert.equal(m.hypervisor.vcpuCount, 1);
    assert.equal(m.hypervisor.memoryBytes, 16n << 20n);
    assert.throws(() => m.installProgram(4, counter), isCode("BAD_ARGUMENT"));
  });

  it("rejects host accesses, RMPUPDATEs and RMP reads outside memory or misaligned", () => {
    const hv = testMachine().machine.hypervisor;
    assert.throws(() => hv.rmpRead(gpaOf(16n << 20n)), isCode("BAD_GPA"));
    assert.throws(() => hv.rmpUpdate(gpaOf(0x1001), { assigned: true }), isCode("BAD_GPA"));
    assert.throws(() => hv.write(gpaOf(-1), new Uint8Array(1)), isCode("BAD_GPA"));
  });

  it("does not allocate pages that were never written", () => {
    const w = testMachine();
    const hv = w.machine.hypervisor;
    hv.read(gpaOf(0), 1 << 20);
    hv.write(gpaOf(0x5000), new Uint8Array(4096));
    assert.equal(w.machine.stats().allocatedPages, 0);
    hv.write(gpaOf(0x5000), new Uint8Array([1]));
    assert.equal(w.machine.stats().allocatedPages, 1);
  });
});

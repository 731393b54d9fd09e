import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { deserialize, serialize } from "node:v8";
import type { Gpa } from "../shared/base/index.js";
import { RMP_PERM_RWX, RMP_RESULT, VC_PAGE_NOT_VALIDATED } from "../shared/spec/index.js";
import type { Cpu } from "./api.js";
import { VMEXIT_HLT } from "./api.js";
import { CpuFault, PlatformError } from "./fault.js";
import type { MachineSnapshot } from "./machine-snapshot.js";
import { gpaOf, grant, testMachine, vmsaImage, xtsPage } from "./testing/world.js";

const PAGE = 4096;
const VMSA0 = gpaOf(0x80000);
const VMSA1 = gpaOf(0x81000);
const PRIV = 0x100000;
const SHARED = 0x140000;
const BIG = 0x400000; // 2 MiB-aligned

const xts = xtsPage;

function pattern(seed: number): Uint8Array {
  const b = new Uint8Array(PAGE);
  for (let i = 0; i < b.length; i++) b[i] = (i * 73 + seed * 11 + (i >> 8)) & 0xff;
  return b;
}

const contains = (hay: Uint8Array, needle: Uint8Array): boolean => Buffer.from(hay).indexOf(Buffer.from(needle)) >= 0;

/** A machine with a VMPL0 and a VMPL1 VMSA (launched by the firmware seam) and one guest page. */
function world(seed = "page-state") {
  const w = testMachine({ seed });
  const hw = w.hw!;
  hw.writePage(VMSA0, vmsaImage({ vmpl: 0, rip: 0x1000n, cr0: 1n, sev_features: 1n }));
  hw.writePage(VMSA1, vmsaImage({ vmpl: 1, rip: 0x2000n, cr0: 1n, sev_features: 1n }));
  for (const g of [VMSA0, VMSA1]) hw.rmpLaunchAssign(g, { vmplPerms: [0, 0, 0], vmsa: true });
  grant(w.rmp!, PRIV, 1);
  const hv = w.machine.hypervisor;
  /** Runs `fn` as one instruction at `vmpl` (paging off: identity map, C=1 unless asked). */
  const at = <T>(vmpl: 0 | 1, fn: (cpu: Cpu) => T): T => {
    let out: { v: T } | undefined;
    w.machine.installProgram(vmpl, {
      step(cpu) {
        out = { v: fn(cpu) };
        return { kind: "hlt" };
      },
    });
    const e = hv.vmrun(0, vmpl === 0 ? VMSA0 : VMSA1, 1);
    assert.equal(e.code, VMEXIT_HLT, `the step at VMPL${vmpl} ran (exit 0x${e.code.toString(16)})`);
    return out!.v;
  };
  return { ...w, hv, seed, at };
}

/** Returns the CpuFault `fn` raises (or fails). */
function faultOf(fn: () => unknown): CpuFault {
  try {
    fn();
  } catch (e) {
    if (e instanceof CpuFault) return e;
    throw e;
  }
  assert.fail("expected a CpuFault");
}

describe("RMPUPDATE private → shared keeps the guest's ciphertext (SNP.md §4.2, §4.5)", () => {
  it("a page the guest wrote reads, after the conversion, exactly as the host's earlier ciphertext view, never as the plaintext", () => {
    const w = world();
    const secret = pattern(1);
    w.at(1, (cpu) => cpu.writePhys(gpaOf(PRIV), secret));
    const before = w.hv.read(gpaOf(PRIV), PAGE);
    assert.deepEqual(before, xts(w.seed, "enc", PRIV, secret), "the host view of a private page is its XTS ciphertext");
    w.hv.rmpUpdate(gpaOf(PRIV), { assigned: false });
    const after = w.hv.read(gpaOf(PRIV), PAGE);
    assert.deepEqual(after, before);
    assert.notDeepEqual(after, secret);
    assert.deepEqual(w.hv.read(gpaOf(PRIV + 100), 28), before.slice(100, 128), "partial reads agree");
    // the guest's own C=0 access sees the same ciphertext
    assert.deepEqual(
      w.at(1, (cpu) => cpu.readPhys(gpaOf(PRIV), PAGE, { shared: true })),
      before,
    );
  });

  it("a page never written becomes the ciphertext of zeros, not zeros, and stays sparse until touched", () => {
    const w = world();
    const view = w.hv.read(gpaOf(PRIV), PAGE);
    assert.equal(w.machine.stats().allocatedPages, 2, "only the two VMSAs hold data");
    w.hv.rmpUpdate(gpaOf(PRIV), { assigned: false });
    assert.equal(w.machine.stats().allocatedPages, 2, "the conversion itself allocates nothing");
    assert.equal(w.mem.zeroImageCount(), 1);
    const after = w.hv.read(gpaOf(PRIV), PAGE);
    assert.deepEqual(after, view);
    assert.deepEqual(after, xts(w.seed, "enc", PRIV, new Uint8Array(PAGE)));
    assert.notDeepEqual(after, new Uint8Array(PAGE));
    assert.equal(w.machine.stats().allocatedPages, 3, "touching the page stores its bytes");
    assert.equal(w.mem.zeroImageCount(), 0);
  });

  it("the host may then write the page; a partial write keeps the rest of the ciphertext", () => {
    const w = world();
    w.hv.rmpUpdate(gpaOf(PRIV), { assigned: false });
    w.hv.write(gpaOf(PRIV + 8), new Uint8Array([1, 2, 3]));
    const expect = xts(w.seed, "enc", PRIV, new Uint8Array(PAGE));
    expect.set([1, 2, 3], 8);
    assert.deepEqual(w.hv.read(gpaOf(PRIV), PAGE), expect);
  });
});

describe("RMPUPDATE shared → private reads through C=1 as the XTS decryption", () => {
  it("what the host wrote while the page was shared is garbage to the guest after validation: its XTS decryption", () => {
    const w = world();
    const hostData = pattern(2);
    w.hv.write(gpaOf(SHARED), hostData);
    w.hv.rmpUpdate(gpaOf(SHARED), { assigned: true });
    const got = w.at(0, (cpu) => {
      assert.equal(cpu.pvalidate(gpaOf(SHARED), 0, true).rc, RMP_RESULT.SUCCESS);
      return cpu.readPhys(gpaOf(SHARED), PAGE);
    });
    assert.notDeepEqual(got, hostData);
    assert.deepEqual(got, xts(w.seed, "dec", SHARED, hostData));
    assert.deepEqual(w.hv.read(gpaOf(SHARED), PAGE), hostData, "the DRAM bytes did not change: the host still reads what it wrote");
  });

  it("a never-written page reads as D(0) through C=1; back to shared it is zeros again, with nothing allocated", () => {
    const w = world();
    w.hv.rmpUpdate(gpaOf(SHARED), { assigned: true });
    assert.equal(w.mem.zeroImageCount(), 1);
    w.hv.rmpUpdate(gpaOf(SHARED), { assigned: false });
    assert.equal(w.mem.zeroImageCount(), 0, "E(D(0)) = 0 cancels");
    assert.equal(w.machine.stats().allocatedPages, 2);
    assert.deepEqual(w.hv.read(gpaOf(SHARED), PAGE), new Uint8Array(PAGE));
    w.hv.rmpUpdate(gpaOf(SHARED), { assigned: true });
    const got = w.at(0, (cpu) => {
      cpu.pvalidate(gpaOf(SHARED), 0, true);
      return cpu.readPhys(gpaOf(SHARED), PAGE);
    });
    assert.deepEqual(got, xts(w.seed, "dec", SHARED, new Uint8Array(PAGE)));
    assert.notDeepEqual(got, new Uint8Array(PAGE));
  });

  it("a guest page taken away and given back reads as before (the key is the same), and the host's view round-trips", () => {
    const w = world();
    const secret = pattern(3);
    w.at(1, (cpu) => cpu.writePhys(gpaOf(PRIV), secret));
    w.hv.rmpUpdate(gpaOf(PRIV), { assigned: false });
    w.hv.rmpUpdate(gpaOf(PRIV), { assigned: true });
    const got = w.at(0, (cpu) => {
      cpu.pvalidate(gpaOf(PRIV), 0, true);
      return cpu.readPhys(gpaOf(PRIV), PAGE);
    });
    assert.deepEqual(got, secret);
  });
});

describe("pages whose owner does not change, failed RMPUPDATEs and the launch", () => {
  it("private → private and shared → shared keep the bytes", () => {
    const w = world();
    w.at(1, (cpu) => cpu.writePhys(gpaOf(PRIV), pattern(4)));
    w.hv.write(gpaOf(SHARED), pattern(5));
    w.hv.rmpUpdate(gpaOf(PRIV), { assigned: true });
    w.hv.rmpUpdate(gpaOf(SHARED), { assigned: false });
    assert.deepEqual(w.mem.copyPage(PRIV / PAGE), pattern(4));
    assert.deepEqual(w.hv.read(gpaOf(SHARED), PAGE), pattern(5));
  });

  it("a refused RMPUPDATE (immutable page, 4 KiB inside a 2 MiB entry) changes no byte", () => {
    const w = world();
    w.hv.write(gpaOf(SHARED), pattern(6));
    w.rmp!.setImmutable(SHARED / PAGE, true);
    assert.throws(() => w.hv.rmpUpdate(gpaOf(SHARED), { assigned: true }), (e: unknown) => e instanceof PlatformError && e.code === "IMMUTABLE_PAGE");
    w.rmp!.setImmutable(SHARED / PAGE, false);
    assert.deepEqual(w.hv.read(gpaOf(SHARED), PAGE), pattern(6));
    w.hv.write(gpaOf(BIG + PAGE), pattern(7));
    w.hv.rmpUpdate(gpaOf(BIG), { assigned: true, pageSize: 1 });
    const inside = w.mem.copyPage(BIG / PAGE + 1);
    assert.throws(() => w.hv.rmpUpdate(gpaOf(BIG + PAGE), { assigned: false }), (e: unknown) => e instanceof PlatformError && e.code === "BAD_ARGUMENT");
    assert.deepEqual(w.mem.copyPage(BIG / PAGE + 1), inside);
  });

  it("SNP_LAUNCH_UPDATE encrypts in place: the guest reads the plaintext the host wrote, the host its ciphertext", () => {
    const w = testMachine({ seed: "page-state-launch" });
    const hv = w.machine.hypervisor;
    const page = pattern(8);
    const vmsa = gpaOf(0x90000);
    hv.asp.launchStart({ policy: 0x30000n });
    hv.write(gpaOf(PRIV), page);
    hv.asp.launchUpdate({ gpa: gpaOf(PRIV), type: "normal", vmplPerms: [RMP_PERM_RWX, 0, 0] });
    hv.asp.launchUpdate({ gpa: gpaOf(PRIV + PAGE), type: "zero", vmplPerms: [RMP_PERM_RWX, 0, 0] });
    hv.write(vmsa, vmsaImage({ vmpl: 1, rip: 0x1000n, cr0: 1n, sev_features: 1n }));
    hv.asp.launchUpdate({ gpa: vmsa, type: "vmsa" });
    hv.asp.launchFinish({});
    assert.deepEqual(hv.read(gpaOf(PRIV), PAGE), xts("page-state-launch", "enc", PRIV, page));
    let seen: Uint8Array[] = [];
    w.machine.installProgram(1, {
      step(cpu) {
        seen = [cpu.readPhys(gpaOf(PRIV), PAGE), cpu.readPhys(gpaOf(PRIV + PAGE), PAGE)];
        return { kind: "hlt" };
      },
    });
    assert.equal(hv.vmrun(0, vmsa, 1).code, VMEXIT_HLT);
    assert.deepEqual(seen[0], page);
    assert.deepEqual(seen[1], new Uint8Array(PAGE));
  });
});

describe("2 MiB RMPUPDATEs", () => {
  it("change each of the 512 pages on its own, tweaked by its own GPA", () => {
    const w = world("page-state-2m");
    const base = gpaOf(BIG);
    const hostPages = [0, 7, 511];
    for (const i of hostPages) w.hv.write(gpaOf(BIG + i * PAGE), pattern(10 + i));
    w.hv.rmpUpdate(base, { assigned: true, pageSize: 1 });
    assert.equal(w.mem.zeroImageCount(), 512 - hostPages.length);
    const secret = pattern(99);
    const got = w.at(0, (cpu) => {
      assert.equal(cpu.pvalidate(base, 1, true).rc, RMP_RESULT.SUCCESS);
      cpu.writePhys(gpaOf(BIG + 3 * PAGE), secret);
      return [cpu.readPhys(gpaOf(BIG + 7 * PAGE), PAGE), cpu.readPhys(gpaOf(BIG + 8 * PAGE), PAGE)];
    });
    assert.deepEqual(got[0], xts(w.seed, "dec", BIG + 7 * PAGE, pattern(17)));
    assert.deepEqual(got[1], xts(w.seed, "dec", BIG + 8 * PAGE, new Uint8Array(PAGE)));
    const before = w.hv.read(base, 512 * PAGE);
    w.hv.rmpUpdate(base, { assigned: false, pageSize: 1 });
    const after = w.hv.read(base, 512 * PAGE);
    assert.deepEqual(after, before, "every page reads as the host's earlier ciphertext view");
    assert.ok(!contains(after, secret));
    for (const i of hostPages) assert.deepEqual(after.subarray(i * PAGE, (i + 1) * PAGE), pattern(10 + i), `page ${i}: E(D(x)) = x`);
    assert.deepEqual(after.subarray(3 * PAGE, 4 * PAGE), xts(w.seed, "enc", BIG + 3 * PAGE, secret));
    assert.deepEqual(after.subarray(100 * PAGE, 101 * PAGE), new Uint8Array(PAGE), "an untouched page is zeros again");
  });

  it("of never-written memory allocate nothing, either way", () => {
    const w = world();
    w.hv.rmpUpdate(gpaOf(BIG), { assigned: true, pageSize: 1 });
    w.hv.rmpUpdate(gpaOf(BIG), { assigned: false, pageSize: 1 });
    w.hv.rmpUpdate(gpaOf(BIG), { assigned: true, pageSize: 1 });
    assert.equal(w.machine.stats().allocatedPages, 2);
    assert.equal(w.mem.zeroImageCount(), 512);
  });
});

describe("snapshots keep converted pages", () => {
  it("zero images and converted pages survive v8 serialization and restore", () => {
    const w = world();
    w.at(1, (cpu) => cpu.writePhys(gpaOf(PRIV), pattern(20)));
    w.hv.rmpUpdate(gpaOf(PRIV), { assigned: false });
    w.hv.rmpUpdate(gpaOf(SHARED), { assigned: true });
    w.hv.rmpUpdate(gpaOf(SHARED + PAGE), { assigned: true });
    w.hv.rmpUpdate(gpaOf(SHARED + PAGE), { assigned: false });
    w.hv.rmpUpdate(gpaOf(SHARED + 2 * PAGE), { assigned: true });
    w.hv.rmpUpdate(gpaOf(SHARED + 2 * PAGE), { assigned: false });
    const bytes = serialize(w.machine.snapshot());
    assert.equal(w.mem.zeroImageCount(), 1, "only the never-written page now private is a zero image");
    w.hv.write(gpaOf(SHARED + PAGE), pattern(21));
    const guestView = (m: ReturnType<typeof world>) =>
      m.at(0, (cpu) => {
        cpu.pvalidate(gpaOf(SHARED), 0, true);
        return cpu.readPhys(gpaOf(SHARED), PAGE);
      });
    for (const m of [w, world()]) {
      m.machine.restore(deserialize(bytes) as MachineSnapshot);
      assert.equal(m.mem.zeroImageCount(), 1);
      assert.deepEqual(m.hv.read(gpaOf(PRIV), PAGE), xts(w.seed, "enc", PRIV, pattern(20)));
      assert.deepEqual(m.hv.read(gpaOf(SHARED + PAGE), PAGE), new Uint8Array(PAGE));
      assert.deepEqual(guestView(m), xts(w.seed, "dec", SHARED, new Uint8Array(PAGE)));
    }
  });

  it("refuses malformed zero images", () => {
    const w = world();
    w.hv.rmpUpdate(gpaOf(SHARED), { assigned: true });
    const s = w.machine.snapshot();
    const bad = (zeroImages: unknown) => ({ ...s, memory: { ...s.memory, zeroImages } }) as unknown as MachineSnapshot;
    const isSnap = (e: unknown) => e instanceof PlatformError && e.code === "SNAPSHOT";
    assert.throws(() => w.machine.restore(bad({ pfns: Uint32Array.of(SHARED / PAGE), changes: Int8Array.of(2) })), isSnap);
    assert.throws(() => w.machine.restore(bad({ pfns: Uint32Array.of(1 << 30), changes: Int8Array.of(1) })), isSnap);
    assert.throws(() => w.machine.restore(bad({ pfns: Uint32Array.of(Number(VMSA0) / PAGE), changes: Int8Array.of(1) })), isSnap, "a frame also stored");
    assert.throws(() => w.machine.restore(bad({ pfns: [1], changes: [1] })), isSnap);
  });
});

describe("attack: the host converts an agent page to shared to read it", () => {
  it("host converts an agent page to shared to read it", () => {
    const seed = "agent-page-attack";
    const w = testMachine({ seed });
    const hv = w.machine.hypervisor;
    const agentVmsa = gpaOf(0x80000);
    const config = gpaOf(0x200000); // launched, measured (like the agent's configuration page)
    const heap = gpaOf(0x201000); // launched zero page the agent fills at run time
    const confSecret = new TextEncoder().encode("owner-key:0123456789abcdef0123456789abcdef");
    const heapSecret = new TextEncoder().encode("VMPCK0=fedcba9876543210fedcba9876543210");
    const confPage = new Uint8Array(PAGE);
    confPage.set(confSecret, 0x123);
    hv.asp.launchStart({ policy: 0x30000n });
    hv.write(config, confPage);
    hv.asp.launchUpdate({ gpa: config, type: "normal" });
    hv.asp.launchUpdate({ gpa: heap, type: "zero" });
    hv.write(agentVmsa, vmsaImage({ vmpl: 0, rip: 0x1000n, cr0: 1n, sev_features: 1n }));
    hv.asp.launchUpdate({ gpa: agentVmsa, type: "vmsa" });
    hv.asp.launchFinish({});
    let step = 0;
    const agentSaw: unknown[] = [];
    w.machine.installProgram(0, {
      step(cpu) {
        if (step++ === 0) cpu.writePhys(gpaOf(Number(heap) + 0x800), heapSecret);
        else {
          // After the host's round trip the agent's next private access faults: the page is no longer validated.
          agentSaw.push(faultOf(() => cpu.readPhys(config, 8)));
        }
        return { kind: "hlt" };
      },
    });
    assert.equal(hv.vmrun(0, agentVmsa, 1).code, VMEXIT_HLT);

    const reads: Uint8Array[] = [];
    const look = (): void => {
      for (const g of [config, heap]) reads.push(hv.read(g as Gpa, PAGE));
      reads.push(hv.read(config, 2 * PAGE));
    };
    look();
    // The attack: take the pages back (4 KiB, and the whole 2 MiB region), read, give them back, read again.
    for (const g of [config, heap]) hv.rmpUpdate(g as Gpa, { assigned: false });
    look();
    for (const g of [config, heap]) hv.rmpUpdate(g as Gpa, { assigned: true });
    look();
    hv.rmpUpdate(config, { assigned: false });
    hv.rmpUpdate(heap, { assigned: false });
    hv.rmpUpdate(gpaOf(0x200000), { assigned: true, pageSize: 1 });
    look();
    hv.rmpUpdate(gpaOf(0x200000), { assigned: false, pageSize: 1 });
    look();
    reads.push(hv.read(gpaOf(0), Number(hv.memoryBytes)));

    for (const r of reads) {
      assert.ok(!contains(r, confSecret), "the launched secret never appears in a host read");
      assert.ok(!contains(r, heapSecret), "the run-time secret never appears in a host read");
      assert.ok(!contains(r, confSecret.subarray(0, 16)) && !contains(r, heapSecret.subarray(0, 16)), "not even a 16-byte prefix");
    }
    // what the host got is the ciphertext it could already see, nothing more
    const heapPlain = new Uint8Array(PAGE);
    heapPlain.set(heapSecret, 0x800);
    assert.deepEqual(hv.read(heap, PAGE), xts(seed, "enc", Number(heap), heapPlain));
    assert.deepEqual(hv.read(config, PAGE), xts(seed, "enc", Number(config), confPage));

    // the agent notices: its page is shared now (#NPF) or, once assigned again, not validated (#VC 0x404)
    hv.rmpUpdate(config, { assigned: true });
    assert.equal(hv.vmrun(0, agentVmsa, 1).code, VMEXIT_HLT);
    const f = agentSaw[0];
    assert.ok(f instanceof CpuFault && f.code === "vc" && f.errorCode === BigInt(VC_PAGE_NOT_VALIDATED));
  });
});

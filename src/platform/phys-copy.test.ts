/**
 * readPhysInto / writePhysFrom: the same checks and faults as readPhys / writePhys, into
 * and out of a caller's buffer. Checked case by case against readPhys/writePhys on the
 * same machine state, then as a property over random ranges of mixed pages.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { NPF_EXITINFO1 as N, RMP_PERM, RMP_PERM_RWX, SVM_EXIT, VC_PAGE_NOT_VALIDATED } from "../shared/spec/index.js";
import type { Cpu, StepResult } from "./api.js";
import { CpuFault, PlatformError } from "./fault.js";
import { ctx, gpaOf, grant, testMachine, vmsaImage } from "./testing/world.js";

const RUNS = Number(process.env.SEVEN_FUZZ_RUNS ?? 200);
const PAGE = 4096;
const DATA = 0x200000;
const MEM = 16 << 20;
/** The pages at DATA, in order: what VMPL1 may do with each. */
const PAGES = ["rwx", "read-only", "shared", "unvalidated", "no-rights", "rwx", "rwx"] as const;
const SENTINEL = 0xee;

function world() {
  const w = testMachine();
  const rmp = w.rmp!;
  PAGES.forEach((kind, i) => {
    const pfn = DATA / PAGE + i;
    if (kind === "rwx") grant(rmp, DATA + i * PAGE, 1, RMP_PERM_RWX);
    if (kind === "read-only") grant(rmp, DATA + i * PAGE, 1, RMP_PERM.READ);
    if (kind === "no-rights") grant(rmp, DATA + i * PAGE, 1, 0);
    if (kind === "unvalidated") rmp.update(pfn, true, 0);
    if (kind !== "rwx" || i !== PAGES.length - 1) {
      // every page but the last holds a pattern (the last is never written: zeros)
      const bytes = new Uint8Array(PAGE).map((_, j) => (i * 37 + j) & 0xff);
      w.mem.writeFrom(pfn, 0, bytes, 0, PAGE);
    }
  });
  // the page just below the end of memory, for accesses that run off the end
  grant(rmp, MEM - PAGE, 1);
  w.mem.writeFrom(MEM / PAGE - 1, 0, new Uint8Array(PAGE).fill(0x5a), 0, PAGE);
  return { ...w, rmp, ctx0: ctx(vmsaImage({ cpl: 0 }), 0), ctx1: ctx(vmsaImage({ cpl: 0 }), 1), ctx1user: ctx(vmsaImage({ cpl: 3 }), 1) };
}
type World = ReturnType<typeof world>;

/** A fault as comparable data. */
function outcome(f: () => unknown): unknown {
  try {
    const v = f();
    return { ok: v };
  } catch (e) {
    if (e instanceof CpuFault) return { fault: e.code, vector: e.vector, errorCode: e.errorCode, gpa: e.gpa, va: e.va, access: e.access, details: e.details };
    if (e instanceof PlatformError) return { error: e.code };
    throw e;
  }
}

/** The bytes of every page around DATA and at the end of memory, as VMPL0's host-side truth. */
function memoryImage(w: World): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < PAGES.length; i++) out.push(w.mem.copyPage(DATA / PAGE + i));
  out.push(w.mem.copyPage(MEM / PAGE - 1));
  return out;
}

interface Case {
  readonly name: string;
  readonly who: "ctx0" | "ctx1" | "ctx1user";
  readonly gpa: bigint;
  readonly len: number;
  readonly shared?: boolean;
}

const P = (i: number, off = 0): bigint => BigInt(DATA + i * PAGE + off);
const CASES: Case[] = [
  { name: "inside one page", who: "ctx1", gpa: P(0, 0x10), len: 40 },
  { name: "across two pages", who: "ctx1", gpa: P(0, 0xffe), len: 4 },
  { name: "whole pages", who: "ctx0", gpa: P(0), len: 2 * PAGE },
  { name: "a never-written page reads zeros", who: "ctx1", gpa: P(6, 0x100), len: 64 },
  { name: "VMPL mask refuses the read", who: "ctx1", gpa: P(4, 8), len: 8 },
  { name: "the second page faults for a read (hypervisor page), or a write (read-only)", who: "ctx1", gpa: P(1, 0xff0), len: 0x20 },
  { name: "the second page faults for a write only (read-only)", who: "ctx1", gpa: P(0, 0xff0), len: 0x20 },
  { name: "shared access to an assigned page", who: "ctx1", gpa: P(0), len: 8, shared: true },
  { name: "shared access to a hypervisor page", who: "ctx1", gpa: P(2, 0x7), len: 9, shared: true },
  { name: "private access to a hypervisor page", who: "ctx0", gpa: P(2), len: 8 },
  { name: "unvalidated page (#VC)", who: "ctx0", gpa: P(3, 0x20), len: 8 },
  { name: "a CPL 3 access (U bit)", who: "ctx1user", gpa: P(4), len: 1 },
  { name: "outside memory", who: "ctx0", gpa: BigInt(MEM), len: 1 },
  { name: "running off the end of memory", who: "ctx1", gpa: BigInt(MEM - 2), len: 4 },
  { name: "far outside memory, shared", who: "ctx0", gpa: 1n << 60n, len: 1, shared: true },
  { name: "zero length outside memory", who: "ctx0", gpa: BigInt(MEM) * 4n, len: 0 },
  { name: "negative GPA", who: "ctx0", gpa: -4096n, len: 8 },
];

describe("readPhysInto: exactly readPhys's checks, faults and bytes", () => {
  for (const c of CASES) {
    it(c.name, () => {
      const w = world();
      const want = outcome(() => w.path.readPhys(w[c.who], c.gpa, c.len, c.shared === true));
      const at = 5;
      const dst = new Uint8Array(c.len + 9).fill(SENTINEL);
      const got = outcome(() => {
        w.path.readPhysInto(w[c.who], c.gpa, dst, at, c.len, c.shared === true);
        return dst.slice(at, at + c.len);
      });
      assert.deepEqual(got, want);
      assert.deepEqual([...dst.subarray(0, at)], new Array<number>(at).fill(SENTINEL), "nothing before the range");
      assert.deepEqual([...dst.subarray(at + c.len)], [0xee, 0xee, 0xee, 0xee], "nothing after the range");
    });
  }

  it("a fault leaves the pages before the faulting one copied and the rest untouched", () => {
    const w = world();
    const gpa = P(3, 0x800);
    const len = 0x800 + PAGE + 0x10; // page 3 tail (fine), page 4 (no rights for VMPL1), page 5 head
    w.rmp.setValidated(DATA / PAGE + 3, true);
    w.rmp.setPerm(DATA / PAGE + 3, 1, RMP_PERM_RWX);
    const dst = new Uint8Array(len).fill(SENTINEL);
    assert.throws(
      () => w.path.readPhysInto(w.ctx1, gpa, dst, 0, len, false),
      (e: unknown) => e instanceof CpuFault && e.code === "npf" && e.gpa === P(4) && e.errorCode === (N.P | N.FINAL | N.RMP | N.ENC | N.VMPL),
    );
    assert.deepEqual(dst.subarray(0, 0x800), w.mem.copyPage(DATA / PAGE + 3).subarray(0x800), "page 3's bytes are in place");
    assert.ok(dst.subarray(0x800).every((b) => b === SENTINEL), "from the faulting page on, dst is untouched");
  });

  it("copies straight out of the page store: the bytes are the memory's, and a later change of memory does not show", () => {
    const w = world();
    const dst = new Uint8Array(2 * PAGE);
    w.path.readPhysInto(w.ctx0, P(0), dst, 0, 2 * PAGE, false);
    assert.deepEqual(dst, new Uint8Array([...w.mem.copyPage(DATA / PAGE), ...w.mem.copyPage(DATA / PAGE + 1)]));
    w.mem.writeFrom(DATA / PAGE, 0, new Uint8Array([1, 2, 3]), 0, 3);
    assert.notDeepEqual(dst.subarray(0, 3), new Uint8Array([1, 2, 3]), "dst holds a copy, not a view");
  });

  it("refuses a range outside the buffer before any access (even one that would fault)", () => {
    const w = world();
    const dst = new Uint8Array(16);
    for (const [off, len] of [[-1, 4], [0, 17], [13, 4], [1.5, 2], [0, -1], [0, 0.5], [Number.NaN, 1]] as const) {
      assert.throws(() => w.path.readPhysInto(w.ctx1, P(4), dst, off, len, false), (e: unknown) => e instanceof PlatformError && e.code === "BAD_ARGUMENT", `offset ${off} length ${len}`);
      assert.throws(() => w.path.writePhysFrom(w.ctx1, P(4), dst, off, len, false), (e: unknown) => e instanceof PlatformError && e.code === "BAD_ARGUMENT", `offset ${off} length ${len}`);
    }
    w.path.readPhysInto(w.ctx1, P(0), dst, 16, 0, false);
  });
});

describe("writePhysFrom: exactly writePhys's checks and faults; a fault writes nothing", () => {
  for (const c of CASES) {
    it(c.name, () => {
      const src = new Uint8Array(c.len + 7).map((_, i) => (i * 13 + 1) & 0xff);
      const a = world();
      const want = outcome(() => a.path.writePhys(a[c.who], c.gpa, src.slice(3, 3 + c.len), c.shared === true));
      const b = world();
      const before = memoryImage(b);
      const got = outcome(() => b.path.writePhysFrom(b[c.who], c.gpa, src, 3, c.len, c.shared === true));
      assert.deepEqual(got, want);
      assert.deepEqual(memoryImage(b), memoryImage(a), "the same memory afterwards");
      if ("fault" in (got as object) || "error" in (got as object)) assert.deepEqual(memoryImage(b), before, "a faulting write changes nothing");
    });
  }

  it("a write whose last page faults changes none of the pages before it", () => {
    const w = world();
    const before = memoryImage(w);
    assert.throws(() => w.path.writePhysFrom(w.ctx1, P(0, 0x10), new Uint8Array(3 * PAGE).fill(1), 0, 2 * PAGE, false), (e: unknown) => e instanceof CpuFault && e.gpa === P(1));
    assert.deepEqual(memoryImage(w), before);
  });
});

describe("the property: any range, any buffer offset, any context", () => {
  it("readPhysInto = readPhys (bytes or fault; on a fault the pages before it are copied) and writePhysFrom = writePhys", () => {
    const w = world();
    const lo = DATA - PAGE;
    const hi = DATA + (PAGES.length + 1) * PAGE;
    fc.assert(
      fc.property(
        fc.integer({ min: lo, max: hi }),
        fc.integer({ min: 0, max: 3 * PAGE }),
        fc.integer({ min: 0, max: 64 }),
        fc.constantFrom("ctx0" as const, "ctx1" as const, "ctx1user" as const),
        fc.boolean(),
        (gpa, len, off, who, shared) => {
          const want = outcome(() => w.path.readPhys(w[who], BigInt(gpa), len, shared));
          const dst = new Uint8Array(off + len + 3).fill(SENTINEL);
          const got = outcome(() => {
            w.path.readPhysInto(w[who], BigInt(gpa), dst, off, len, shared);
            return dst.slice(off, off + len);
          });
          assert.deepEqual(got, want);
          if ("fault" in (got as object)) {
            const fgpa = Number((got as { gpa: bigint }).gpa);
            const copied = Math.max(0, fgpa - (fgpa % PAGE) - gpa);
            assert.deepEqual(dst.subarray(off, off + copied), w.path.readPhys(w.ctx0, BigInt(gpa), copied, shared), "the pages before the fault");
            assert.ok(dst.subarray(off + copied).every((x) => x === SENTINEL), "the rest untouched");
          }
          const a = world();
          const b = world();
          const src = new Uint8Array(off + len).fill(0x77);
          const wa = outcome(() => a.path.writePhys(a[who], BigInt(gpa), src.subarray(off), shared));
          const wb = outcome(() => b.path.writePhysFrom(b[who], BigInt(gpa), src, off, len, shared));
          assert.deepEqual(wb, wa);
          assert.deepEqual(memoryImage(b), memoryImage(a));
        },
      ),
      { numRuns: Math.min(RUNS, 300) },
    );
  });
});

describe("through the Cpu of a VMRUN", () => {
  it("VMPL1 code fills a buffer and writes from one; faults become #NPF exits as with readPhys", () => {
    const w = world();
    const hw = w.hw!;
    const VMSA1 = gpaOf(0x80000);
    hw.writePage(VMSA1, vmsaImage({ vmpl: 1, cr0: 1n, rip: 0x1000n }));
    hw.rmpLaunchAssign(VMSA1, { vmplPerms: [0, 0, 0], vmsa: true });
    const dst = new Uint8Array(PAGE + 2);
    let kept: Cpu | undefined;
    const steps: ((cpu: Cpu) => StepResult)[] = [
      (cpu) => {
        kept = cpu;
        cpu.readPhysInto(gpaOf(P(0, 0xfff)), dst, 1, PAGE + 1);
        cpu.writePhysFrom(gpaOf(P(5)), new Uint8Array([9, 8, 7, 6]), 1, 2);
        return { kind: "next" };
      },
      (cpu) => {
        cpu.readPhysInto(gpaOf(P(4)), dst, 0, 8);
        return { kind: "next" };
      },
    ];
    let i = 0;
    w.machine.installProgram(1, { step: (cpu) => steps[Math.min(i++, 1)]!(cpu) });
    const e = w.machine.hypervisor.vmrun(0, VMSA1, 5);
    assert.deepEqual([e.code, e.info1, e.info2, e.retired], [SVM_EXIT.NPF, N.P | N.FINAL | N.RMP | N.ENC | N.VMPL, P(4), 1]);
    assert.deepEqual(dst.subarray(1), w.path.readPhys(w.ctx0, P(0, 0xfff), PAGE + 1, false));
    assert.deepEqual(w.mem.copyPage(DATA / PAGE + 5).subarray(0, 3), new Uint8Array([8, 7, (5 * 37 + 2) & 0xff]), "two bytes written, the third as it was");
    assert.throws(() => kept!.readPhysInto(gpaOf(P(0)), dst, 0, 1), (x: unknown) => x instanceof PlatformError && x.code === "BAD_VCPU");
    assert.throws(() => kept!.writePhysFrom(gpaOf(P(0)), dst, 0, 1), (x: unknown) => x instanceof PlatformError && x.code === "BAD_VCPU");
  });

  it("an unvalidated page raises #VC 0x404 to the program, as readPhys does", () => {
    const w = world();
    const hw = w.hw!;
    const VMSA0 = gpaOf(0x80000);
    hw.writePage(VMSA0, vmsaImage({ vmpl: 0, cr0: 1n }));
    hw.rmpLaunchAssign(VMSA0, { vmplPerms: [0, 0, 0], vmsa: true });
    const seen: CpuFault[] = [];
    w.machine.installProgram(0, {
      step(cpu) {
        cpu.readPhysInto(gpaOf(P(3)), new Uint8Array(8), 0, 8);
        return { kind: "next" };
      },
      exception(_cpu, f) {
        seen.push(f);
        return false;
      },
    });
    w.machine.hypervisor.vmrun(0, VMSA0, 1);
    assert.equal(seen[0]?.code, "vc");
    assert.equal(seen[0]?.errorCode, BigInt(VC_PAGE_NOT_VALIDATED));
  });
});

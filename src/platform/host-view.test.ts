import assert from "node:assert/strict";
import { createDecipheriv } from "node:crypto";
import { describe, it } from "node:test";
import { SeededRng } from "../shared/base/index.js";
import { PF_ERROR } from "../shared/spec/index.js";
import { HostPageFault, PlatformError } from "./fault.js";
import { gpaOf, grant, testMachine } from "./testing/world.js";

const PAGE_A = 0x30000;
const PAGE_B = 0x31000;
const SHARED = 0x40000;

function pattern(seed: number): Uint8Array {
  const b = new Uint8Array(4096);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function world(seed = "platform-test") {
  const w = testMachine({ seed });
  const hv = w.machine.hypervisor;
  hv.write(gpaOf(PAGE_A), pattern(1));
  hv.write(gpaOf(PAGE_B), pattern(1));
  hv.write(gpaOf(SHARED), pattern(2));
  grant(w.rmp!, PAGE_A, 2);
  return { ...w, hv };
}

describe("host reads (SNP.md §4.5)", () => {
  it("see ciphertext of guest-assigned pages", () => {
    const w = world();
    const ct = w.hv.read(gpaOf(PAGE_A), 4096);
    assert.notDeepEqual(ct, pattern(1));
    let same = 0;
    for (let i = 0; i < 4096; i++) if (ct[i] === pattern(1)[i]) same++;
    assert.ok(same < 64, `ciphertext should look random (${same} bytes equal)`);
  });

  it("give different ciphertext for equal plaintext pages (tweaked by the GPA)", () => {
    const w = world();
    assert.notDeepEqual(w.hv.read(gpaOf(PAGE_A), 4096), w.hv.read(gpaOf(PAGE_B), 4096));
  });

  it("is AES-256-XTS under the VM's key with the GPA as tweak", () => {
    const w = world("xts-check");
    const key = new SeededRng("xts-check").fork("platform/memory-encryption").bytes(64);
    const iv = Buffer.alloc(16);
    iv.writeUInt32LE(PAGE_B, 0);
    const d = createDecipheriv("aes-256-xts", key, iv);
    const pt = Buffer.concat([d.update(w.hv.read(gpaOf(PAGE_B), 4096)), d.final()]);
    assert.deepEqual(new Uint8Array(pt), pattern(1));
  });

  it("uses the whole GPA as the tweak (little-endian, above 16 MiB too)", () => {
    const w = testMachine({ seed: "xts-high", memoryBytes: 64n << 20n });
    const g = 0x3ab_c000;
    w.machine.hypervisor.write(gpaOf(g), pattern(5));
    grant(w.rmp!, g, 1);
    const key = new SeededRng("xts-high").fork("platform/memory-encryption").bytes(64);
    const iv = Buffer.alloc(16);
    iv.writeBigUInt64LE(BigInt(g), 0);
    const d = createDecipheriv("aes-256-xts", key, iv);
    const pt = Buffer.concat([d.update(w.machine.hypervisor.read(gpaOf(g), 4096)), d.final()]);
    assert.deepEqual(new Uint8Array(pt), pattern(5));
  });

  it("of an assigned page never written are ciphertext of zeros, not zeros", () => {
    const w = world();
    grant(w.rmp!, 0x50000, 1);
    const ct = w.hv.read(gpaOf(0x50000), 64);
    assert.notDeepEqual(ct, new Uint8Array(64));
    assert.equal(w.mem.page(0x50), undefined, "reading does not allocate");
  });

  it("of part of a page return that part of the page's ciphertext, across page boundaries", () => {
    const w = world();
    const a = w.hv.read(gpaOf(PAGE_A), 4096);
    const b = w.hv.read(gpaOf(PAGE_B), 4096);
    assert.deepEqual(w.hv.read(gpaOf(PAGE_A + 100), 50), a.slice(100, 150));
    const across = w.hv.read(gpaOf(PAGE_B - 10), 20);
    assert.deepEqual(across, new Uint8Array([...a.slice(4086), ...b.slice(0, 10)]));
  });

  it("see plaintext of shared pages", () => {
    const w = world();
    assert.deepEqual(w.hv.read(gpaOf(SHARED), 4096), pattern(2));
    assert.deepEqual(w.hv.read(gpaOf(0x60000), 16), new Uint8Array(16), "never-written pages read as zeros");
  });

  it("are deterministic: same seed, same ciphertext; another seed, another", () => {
    const a = world("seed-1").hv.read(gpaOf(PAGE_A), 4096);
    const b = world("seed-1").hv.read(gpaOf(PAGE_A), 4096);
    const c = world("seed-2").hv.read(gpaOf(PAGE_A), 4096);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it("refuse ranges outside memory", () => {
    const w = world();
    assert.throws(() => w.hv.read(gpaOf((16 << 20) - 8), 16), (e: unknown) => e instanceof PlatformError && e.code === "BAD_GPA");
  });
});

describe("host writes", () => {
  it("to a guest-assigned page raise #PF with PF_ERROR.RMP and change nothing", () => {
    const w = world();
    const before = w.mem.copyPage(PAGE_A / 4096);
    assert.throws(
      () => w.hv.write(gpaOf(PAGE_A + 8), new Uint8Array([1])),
      (e: unknown) => {
        assert.ok(e instanceof HostPageFault);
        assert.equal(e.code, "HOST_PF");
        assert.equal(e.gpa, BigInt(PAGE_A + 8));
        assert.notEqual(e.errorCode & PF_ERROR.RMP, 0);
        assert.equal(e.errorCode, (PF_ERROR.P | PF_ERROR.W | PF_ERROR.RMP) >>> 0);
        return true;
      },
    );
    assert.deepEqual(w.mem.copyPage(PAGE_A / 4096), before);
  });

  it("that start on a shared page and run into an assigned one change nothing", () => {
    const w = world();
    assert.throws(() => w.hv.write(gpaOf(PAGE_A - 4), new Uint8Array(8).fill(0xff)), (e: unknown) => e instanceof HostPageFault && e.gpa === BigInt(PAGE_A));
    assert.deepEqual(w.hv.read(gpaOf(PAGE_A - 4), 4), new Uint8Array(4));
  });

  it("to an immutable page fault too", () => {
    const w = world();
    w.rmp!.setImmutable(0x70, true);
    assert.throws(() => w.hv.write(gpaOf(0x70000), new Uint8Array(1)), HostPageFault);
  });

  it("to shared pages work", () => {
    const w = world();
    w.hv.write(gpaOf(SHARED + 1), new Uint8Array([0xab, 0xcd]));
    assert.deepEqual(w.hv.read(gpaOf(SHARED), 3), new Uint8Array([2, 0xab, 0xcd]));
  });
});

describe("a non-SEV machine", () => {
  it("shows and accepts plaintext everywhere", () => {
    const w = testMachine({ sev: false });
    const hv = w.machine.hypervisor;
    hv.write(gpaOf(PAGE_A), pattern(3));
    assert.deepEqual(hv.read(gpaOf(PAGE_A), 4096), pattern(3));
    assert.equal(hv.sev, false);
  });
});

/**
 * Platform access-path figures: virtual reads through a 4-level walk (every access walks:
 * the model has no TLB), host reads (AES-256-XTS per guest-assigned page), VMPL0 code
 * reading 8 MiB through its Cpu (readPhys vs readPhysInto) and the cost of a #NPF exit.
 *   node --import tsx bench/platform-access.ts
 */
import { performance } from "node:perf_hooks";
import type { Cpu } from "../src/platform/index.js";
import { PTE, RMP_PERM_RWX } from "../src/shared/spec/index.js";
import { K_READ } from "../src/platform/access-path.js";
import { PageTables, ctx, gpaOf, grant, pagingRegs, testMachine, vmsaImage } from "../src/platform/testing/world.js";

function rate(label: string, ms: number, ops: number, unit = "ops"): void {
  const perSec = (ops / ms) * 1000;
  console.log(`${label.padEnd(58)} ${perSec.toFixed(0).padStart(10)} ${unit}/s   ${((ms * 1000) / ops).toFixed(2).padStart(8)} µs/op`);
}

function timed(fn: () => number, minMs = 1500): [number, number] {
  fn(); // warm up
  let ops = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < minMs) {
    ops += fn();
    t = performance.now();
  }
  return [t - t0, ops];
}

// --- virtual reads through a 4-level walk -------------------------------------------
{
  const w = testMachine({ memoryBytes: 64n << 20n, vcpus: 1 });
  const rmp = w.rmp!;
  const TABLES = 0x100000;
  const DATA = 0x400000;
  const N = 256;
  grant(rmp, TABLES, 64, RMP_PERM_RWX);
  grant(rmp, DATA, N, RMP_PERM_RWX);
  const pt = new PageTables(w.mem, { tableBase: TABLES });
  const base = 0xffff_8880_0000_0000n;
  for (let i = 0; i < N; i++) {
    pt.map(base + BigInt(i) * 4096n, DATA + i * 4096, { flags: PTE.P | PTE.RW | PTE.NX });
    w.mem.writeFrom(DATA / 4096 + i, 0, new Uint8Array(4096).fill(i), 0, 4096);
  }
  const c = ctx(vmsaImage(pagingRegs(pt.cr3)), 1);
  const vas = Array.from({ length: N }, (_, i) => base + BigInt(i) * 4096n);
  let [ms, ops] = timed(() => {
    for (const va of vas) w.path.readVirt(c, va, 4096, K_READ);
    return vas.length;
  });
  rate("VMPL1 readVirt 4 KiB (4-level walk + RMP checks + copy)", ms, ops, "reads");
  [ms, ops] = timed(() => {
    for (const va of vas) w.path.readVirt(c, va + 64n, 8, K_READ);
    return vas.length;
  });
  rate("VMPL1 readVirt 8 B (4-level walk + RMP checks)", ms, ops, "reads");
  [ms, ops] = timed(() => {
    for (let i = 0; i < N; i += 16) w.path.readVirt(c, vas[i]!, 16 * 4096, K_READ);
    return N;
  });
  rate("VMPL1 readVirt 64 KiB, per 4 KiB page (one buffer, 16 walks)", ms, ops, "pages");
  [ms, ops] = timed(() => {
    for (let i = 0; i < N; i++) w.path.readPhys(c, BigInt(DATA + i * 4096), 4096, false);
    return N;
  });
  rate("VMPL1 readPhys 4 KiB (RMP check + copy)", ms, ops, "reads");
}

// --- host reads ------------------------------------------------------------------------
{
  const w = testMachine({ memoryBytes: 64n << 20n, vcpus: 1 });
  const hv = w.machine.hypervisor;
  const N = 1024;
  for (let i = 0; i < N; i++) hv.write(gpaOf(i * 4096), new Uint8Array(4096).fill(i & 0xff));
  grant(w.rmp!, 0, N / 2);
  let [ms, ops] = timed(() => {
    for (let i = 0; i < N / 2; i++) hv.read(gpaOf(i * 4096), 4096);
    return N / 2;
  });
  rate("host read 4 KiB of a guest-assigned page (AES-256-XTS)", ms, ops, "pages");
  [ms, ops] = timed(() => {
    for (let i = N / 2; i < N; i++) hv.read(gpaOf(i * 4096), 4096);
    return N / 2;
  });
  rate("host read 4 KiB of a shared page (plaintext)", ms, ops, "pages");
}

// --- a 1 GiB guest dumped by the host ---------------------------------------------------
{
  const w = testMachine({ memoryBytes: 1n << 30n, vcpus: 1 });
  const hv = w.machine.hypervisor;
  const pages = (1 << 30) / 4096;
  const page = new Uint8Array(4096);
  for (let i = 0; i < pages; i += 4) {
    page.fill(i & 0xff);
    hv.write(gpaOf(i * 4096), page);
  }
  grant(w.rmp!, 0, pages, RMP_PERM_RWX);
  const t0 = performance.now();
  const chunk = 2 << 20;
  for (let g = 0; g < 1 << 30; g += chunk) hv.read(gpaOf(g), chunk);
  const ms = performance.now() - t0;
  console.log(`host dump of a 1 GiB guest (all pages assigned, 1/4 written)               ${(ms / 1000).toFixed(2)} s  (${((1024 / ms) * 1000).toFixed(0)} MiB/s)`);
}

// --- VMPL0 code reading 8 MiB through its Cpu (the agent's dump path) --------------------
{
  const w = testMachine({ memoryBytes: 64n << 20n, vcpus: 1 });
  const hv = w.machine.hypervisor;
  const VMSA0 = gpaOf(0x10000);
  const DATA = 0x800000;
  const LEN = 8 << 20;
  w.hw!.writePage(VMSA0, vmsaImage({ vmpl: 0, cr0: 1n }));
  w.hw!.rmpLaunchAssign(VMSA0, { vmplPerms: [0, 0, 0], vmsa: true });
  grant(w.rmp!, DATA, LEN / 4096, 0);
  for (let i = 0; i < LEN / 4096; i++) w.mem.writeFrom(DATA / 4096 + i, 0, new Uint8Array(4096).fill(i & 0xff), 0, 4096);
  const out = new Uint8Array(LEN);
  const mib = (label: string, read: (cpu: Cpu) => void): void => {
    w.machine.installProgram(0, {
      step(cpu) {
        read(cpu);
        return { kind: "vmgexit" };
      },
    });
    const [ms, ops] = timed(() => {
      hv.vmrun(0, VMSA0, 1);
      return 1;
    });
    console.log(`${label.padEnd(58)} ${((ops * 8 * 1000) / ms).toFixed(0).padStart(10)} MiB/s  ${(ms / ops).toFixed(2).padStart(8)} ms/8 MiB`);
  };
  mib("VMPL0 cpu.readPhys 8 MiB, 4 KiB per call, copied into one buffer", (cpu) => {
    for (let off = 0; off < LEN; off += 4096) out.set(cpu.readPhys(gpaOf(DATA + off), 4096), off);
  });
  mib("VMPL0 cpu.readPhys 8 MiB in one call (a fresh 8 MiB buffer)", (cpu) => void cpu.readPhys(gpaOf(DATA), LEN));
  mib("VMPL0 cpu.readPhysInto 8 MiB, 4 KiB per call, into one buffer", (cpu) => {
    for (let off = 0; off < LEN; off += 4096) cpu.readPhysInto(gpaOf(DATA + off), out, off, 4096);
  });
  mib("VMPL0 cpu.readPhysInto 8 MiB in one call (a reused buffer)", (cpu) => cpu.readPhysInto(gpaOf(DATA), out, 0, LEN));
  mib("VMPL0 cpu.writePhys 8 MiB in one call", (cpu) => cpu.writePhys(gpaOf(DATA), out));
  mib("VMPL0 cpu.writePhysFrom 8 MiB in one call", (cpu) => cpu.writePhysFrom(gpaOf(DATA), out, 0, LEN));
}

// --- #NPF exits: a VMPL1 read of a page VMPL0 took away (a trap hit) ----------------------
{
  const w = testMachine({ memoryBytes: 16n << 20n, vcpus: 1 });
  const hv = w.machine.hypervisor;
  const VMSA1 = gpaOf(0x10000);
  const TRAPPED = 0x200000;
  w.hw!.writePage(VMSA1, vmsaImage({ vmpl: 1, cr0: 1n, rip: 0x1000n }));
  w.hw!.rmpLaunchAssign(VMSA1, { vmplPerms: [0, 0, 0], vmsa: true });
  grant(w.rmp!, TRAPPED, 1, 0);
  w.machine.installProgram(1, {
    step(cpu) {
      cpu.readPhys(gpaOf(TRAPPED), 8);
      return { kind: "next" };
    },
  });
  const [ms, ops] = timed(() => {
    for (let i = 0; i < 1000; i++) if (hv.vmrun(0, VMSA1, 1).code !== 0x400) throw new Error("expected #NPF");
    return 1000;
  });
  rate("VMRUN → VMPL1 read of a trapped page → #NPF exit", ms, ops, "exits");
}

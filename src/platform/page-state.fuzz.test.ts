/**
 * Property: RMPUPDATE never changes the DRAM. Whatever sequence of host RMPUPDATEs (4 KiB
 * and 2 MiB, either way, refused or not), host writes, guest C=1 and C=0 writes and reads
 * runs, the host reads of every page equal one oracle "DRAM" per page: host and C=0
 * writes store their bytes, a guest C=1 write stores the XTS encryption of the new
 * plaintext, and a C=1 read returns the XTS decryption of the DRAM bytes.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { Cpu } from "./api.js";
import { VMEXIT_HLT } from "./api.js";
import { HostPageFault, PlatformError } from "./fault.js";
import { gpaOf, testMachine, vmsaImage, xtsPage } from "./testing/world.js";

const RUNS = Number(process.env.SEVEN_FUZZ_RUNS ?? 60);
const PAGE = 4096;
const SEED = "page-state-fuzz";
const VMSA0 = gpaOf(0x80000);
const BASE = 0x400000; // a 2 MiB region, all shared at the start
const TRACKED = [0, 1, 2, 511] as const;

const page = fc.constantFrom(...TRACKED);
const bytes = fc.uint8Array({ minLength: 1, maxLength: 24 });
const op = fc.oneof(
  fc.record({ kind: fc.constant("rmp4k" as const), page, assigned: fc.boolean() }),
  fc.record({ kind: fc.constant("rmp2m" as const), assigned: fc.boolean() }),
  fc.record({ kind: fc.constant("host-write" as const), page, off: fc.nat(PAGE - 24), data: bytes }),
  fc.record({ kind: fc.constant("guest-write" as const), page, off: fc.nat(PAGE - 24), data: bytes }),
  fc.record({ kind: fc.constant("guest-read" as const), page }),
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

describe("page conversion (property)", () => {
  it("host reads always equal the DRAM oracle; C=1 sees its XTS decryption", () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 24 }), (ops: Op[]) => {
        const w = testMachine({ seed: SEED });
        const hv = w.machine.hypervisor;
        w.hw!.writePage(VMSA0, vmsaImage({ vmpl: 0, rip: 0x1000n, cr0: 1n, sev_features: 1n }));
        w.hw!.rmpLaunchAssign(VMSA0, { vmplPerms: [0, 0, 0], vmsa: true });
        const dram = new Map<number, Uint8Array>(TRACKED.map((i) => [i, new Uint8Array(PAGE)]));
        const gpa = (i: number): number => BASE + i * PAGE;
        const dramOf = (i: number): Uint8Array => dram.get(i)!;
        const guest = (fn: (cpu: Cpu) => void): void => {
          w.machine.installProgram(0, {
            step(cpu) {
              fn(cpu);
              return { kind: "hlt" };
            },
          });
          assert.equal(hv.vmrun(0, VMSA0, 1).code, VMEXIT_HLT);
        };
        /** Validates the page (as its RMP entry's size) so that VMPL0 may use it with C=1. */
        const validate = (cpu: Cpu, i: number): void => {
          const e = hv.rmpRead(gpaOf(gpa(i)));
          if (e.validated) return;
          const r = e.pageSize === 1 ? cpu.pvalidate(gpaOf(BASE), 1, true) : cpu.pvalidate(gpaOf(gpa(i)), 0, true);
          assert.equal(r.rc, 0);
        };
        for (const o of ops) {
          switch (o.kind) {
            case "rmp4k":
            case "rmp2m":
              try {
                if (o.kind === "rmp4k") hv.rmpUpdate(gpaOf(gpa(o.page)), { assigned: o.assigned });
                else hv.rmpUpdate(gpaOf(BASE), { assigned: o.assigned, pageSize: 1 });
              } catch (e) {
                if (!(e instanceof PlatformError)) throw e; // e.g. 4 KiB inside a 2 MiB entry
              }
              break;
            case "host-write":
              if (hv.rmpRead(gpaOf(gpa(o.page))).assigned) {
                assert.throws(() => hv.write(gpaOf(gpa(o.page) + o.off), o.data), HostPageFault);
              } else {
                hv.write(gpaOf(gpa(o.page) + o.off), o.data);
                dramOf(o.page).set(o.data, o.off);
              }
              break;
            case "guest-write": {
              const priv = hv.rmpRead(gpaOf(gpa(o.page))).assigned;
              guest((cpu) => {
                if (priv) validate(cpu, o.page);
                cpu.writePhys(gpaOf(gpa(o.page) + o.off), o.data, { shared: !priv });
              });
              if (priv) {
                const plain = xtsPage(SEED, "dec", gpa(o.page), dramOf(o.page));
                plain.set(o.data, o.off);
                dram.set(o.page, xtsPage(SEED, "enc", gpa(o.page), plain));
              } else dramOf(o.page).set(o.data, o.off);
              break;
            }
            case "guest-read": {
              const priv = hv.rmpRead(gpaOf(gpa(o.page))).assigned;
              let got: Uint8Array | undefined;
              guest((cpu) => {
                if (priv) validate(cpu, o.page);
                got = cpu.readPhys(gpaOf(gpa(o.page)), PAGE, { shared: !priv });
              });
              assert.deepEqual(got, priv ? xtsPage(SEED, "dec", gpa(o.page), dramOf(o.page)) : dramOf(o.page));
              break;
            }
          }
          for (const i of TRACKED) assert.deepEqual(hv.read(gpaOf(gpa(i)), PAGE), dramOf(i), `page ${i} after ${o.kind}`);
        }
        // every other page of the region was never written: its DRAM is zeros whoever owns it
        const all = hv.read(gpaOf(BASE), 512 * PAGE);
        for (let i = 0; i < 512; i++) {
          const want = dram.get(i) ?? new Uint8Array(PAGE);
          assert.deepEqual(all.subarray(i * PAGE, (i + 1) * PAGE), want, `page ${i} at the end`);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

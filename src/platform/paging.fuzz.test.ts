/**
 * Property: whatever the guest puts in its page tables, control registers and the RMP,
 * an access through the access path ends (the walk is bounded) and either returns the
 * requested bytes or throws a CpuFault — never anything else — and does so
 * deterministically.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { CR0_PG, CR0_WP, CR4_LA57, CR4_SMAP, CR4_SMEP, EFER_NXE } from "../shared/spec/index.js";
import type { AccessPath } from "./access-path.js";
import { CpuFault } from "./fault.js";
import { ctx, testMachine, vmsaImage } from "./testing/world.js";

const RUNS = Number(process.env.SEVEN_FUZZ_RUNS ?? 200);
const TABLE_PAGES = 8;
const BASE = 0x10000;
/** Table slots the scenario fills and the addresses use, so that walks go deep. */
const SLOTS = [0, 1, 2, 511] as const;
const slot = fc.constantFrom(...SLOTS);

const entry = fc.record({
  target: fc.nat(TABLE_PAGES + 1),
  // mostly present and not large, so that walks go deep
  flags: fc.tuple(fc.nat(0xfff), fc.nat(5), fc.nat(5)).map(([f, p, ps]) => (p === 0 ? f : f | 1) & (ps === 0 ? 0xfff : ~0x80)),
  c: fc.oneof({ arbitrary: fc.constant(true), weight: 16 }, fc.constant(false)),
  nx: fc.boolean(),
  junkHigh: fc.oneof(fc.constant(0), fc.nat(0x7ff)),
  // now and then a fully random 64-bit entry
  raw: fc.oneof({ arbitrary: fc.constant(null), weight: 9 }, { arbitrary: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), weight: 1 }),
});
type Entry = typeof entry extends fc.Arbitrary<infer T> ? T : never;

const pageState = fc.record({
  state: fc.oneof({ arbitrary: fc.constant("valid"), weight: 16 }, fc.constant("shared"), fc.constant("assigned")),
  perms: fc.oneof({ arbitrary: fc.constant(0x1f), weight: 8 }, fc.nat(0x1f)),
});

const scenario = fc.record({
  entries: fc.array(fc.option(entry), { minLength: TABLE_PAGES * SLOTS.length, maxLength: TABLE_PAGES * SLOTS.length }),
  stray: fc.array(fc.tuple(fc.nat(TABLE_PAGES - 1), fc.nat(511), entry), { maxLength: 16 }),
  rmp: fc.array(pageState, { minLength: TABLE_PAGES + 2, maxLength: TABLE_PAGES + 2 }),
  cr3Page: fc.nat(TABLE_PAGES + 1),
  cr3C: fc.oneof({ arbitrary: fc.constant(true), weight: 4 }, fc.constant(false)),
  pg: fc.oneof({ arbitrary: fc.constant(true), weight: 9 }, fc.constant(false)),
  wp: fc.boolean(),
  la57: fc.boolean(),
  smep: fc.boolean(),
  smap: fc.boolean(),
  nxe: fc.boolean(),
  ac: fc.boolean(),
  cpl: fc.nat(3),
  vmpl: fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, fc.nat(3)),
  va: fc.oneof(
    { arbitrary: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), weight: 1 },
    // canonical addresses built from table indices (sign-extended from bit 47 or 56)
    {
      weight: 5,
      arbitrary: fc.tuple(slot, slot, slot, slot, slot, fc.nat(4095), fc.boolean()).map(([a, b, c, d, e, o, five]) => {
        const v = (BigInt(five ? a : 0) << 48n) | (BigInt(b) << 39n) | (BigInt(c) << 30n) | (BigInt(d) << 21n) | (BigInt(e) << 12n) | BigInt(o);
        return BigInt.asUintN(64, BigInt.asIntN(five ? 57 : 48, v));
      }),
    },
  ),
  kind: fc.nat(2),
  len: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 16 }), weight: 3 }, fc.integer({ min: 1, max: 9000 })),
});

function encode(e: Entry): bigint {
  if (e.raw !== null) return e.raw;
  return BigInt(BASE + e.target * 4096) | BigInt(e.flags) | (e.c ? 1n << 51n : 0n) | (e.nx ? 1n << 63n : 0n) | (BigInt(e.junkHigh) << 52n);
}

function outcome(path: AccessPath, vmsa: Uint8Array, vmpl: number, va: bigint, kind: number, len: number, write: boolean): string {
  try {
    if (write) {
      path.writeVirt(ctx(vmsa, vmpl), va, new Uint8Array(len));
      return "ok";
    }
    const r = path.readVirt(ctx(vmsa, vmpl), va, len, kind);
    assert.equal(r.length, len);
    return "ok";
  } catch (e) {
    if (e instanceof CpuFault) return `${e.code}:${e.errorCode}:${e.gpa}:${e.va}`;
    throw e;
  }
}

describe("page walks under random tables (property)", () => {
  it("always end with bytes or a CpuFault, deterministically", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const w = testMachine({ memoryBytes: 1n << 20n, vcpus: 1 });
        const rmp = w.rmp!;
        s.rmp.forEach((p, i) => {
          const pfn = BASE / 4096 + i;
          if (p.state === "shared") return;
          if (p.state === "valid") rmp.launchAssign(pfn, [p.perms, p.perms, 0], false);
          else rmp.update(pfn, true, 0);
        });
        const b = new Uint8Array(8);
        const dv = new DataView(b.buffer);
        const put = (page: number, idx: number, e: Entry): void => {
          dv.setBigUint64(0, encode(e), true);
          w.mem.writeFrom(BASE / 4096 + page, idx * 8, b, 0, 8);
        };
        s.entries.forEach((e, i) => {
          if (e !== null) put(Math.floor(i / SLOTS.length), SLOTS[i % SLOTS.length]!, e);
        });
        for (const [page, idx, e] of s.stray) put(page, idx, e);
        const vmsa = vmsaImage({
          cr0: 1n | (s.pg ? CR0_PG : 0n) | (s.wp ? CR0_WP : 0n),
          cr3: BigInt(BASE + s.cr3Page * 4096) | (s.cr3C ? 1n << 51n : 0n),
          cr4: (s.la57 ? CR4_LA57 : 0n) | (s.smep ? CR4_SMEP : 0n) | (s.smap ? CR4_SMAP : 0n),
          efer: s.nxe ? EFER_NXE : 0n,
          rflags: 2n | (s.ac ? 1n << 18n : 0n),
          cpl: s.cpl,
        });
        const first = outcome(w.path, vmsa, s.vmpl, s.va, s.kind, s.len, false);
        const again = outcome(w.path, vmsa, s.vmpl, s.va, s.kind, s.len, false);
        assert.equal(again, first);
        outcome(w.path, vmsa, s.vmpl, s.va, 1, Math.min(s.len, 64), true);
      }),
      { numRuns: RUNS },
    );
  });
});

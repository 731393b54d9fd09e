/**
 * Everything the host reads from the CVM is written by an untrusted party: the agent's NIC
 * control page and TX ring, the guest's GHCB MSR and GHCB pages. Whatever they hold, a
 * scheduler round handles it (counted as protocol errors / unsupported requests) and never
 * throws.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { MSR_GHCB } from "../shared/spec/index.js";
import { NicRings } from "./nic/ring.js";
import { testWorld } from "./testing/test-world.js";

const RUNS = Number(process.env.SEVEN_FUZZ_RUNS ?? 100);

test("random TX ring contents and counters never make a round throw", () => {
  const w = testWorld({ vcpus: 1 });
  w.host.round();
  const rings = new NicRings(w.host.hypervisor, w.layout.nic);
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 256 }), fc.nat({ max: 1 << 23 }), fc.nat({ max: 1 << 21 }), (bytes, prod, rxCons) => {
      rings.put("tx", rings.counter("txCons"), bytes);
      rings.setCounter("txProd", prod);
      rings.setCounter("rxCons", rxCons);
      w.host.round();
    }),
    { numRuns: RUNS },
  );
  assert.ok(w.host.counters()["nic.protocol-errors"]! > 0);
});

test("random guest GHCB MSR values and GHCB pages never make a round throw", () => {
  const w = testWorld({ vcpus: 1 });
  w.host.round();
  let next: { msr: bigint; page: Uint8Array } | undefined;
  w.guest.script = (cpu) => {
    if (next === undefined) return undefined;
    const n = next;
    next = undefined;
    cpu.writePhys(w.layout.guestGhcb[0]!, n.page, { shared: true });
    cpu.wrmsr(MSR_GHCB, n.msr);
    return { kind: "vmgexit" };
  };
  const ghcbGpa = w.layout.guestGhcb[0]!;
  const msr = fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.constant(ghcbGpa), fc.nat({ max: 0xfff }).map(BigInt));
  fc.assert(
    fc.property(msr, fc.uint8Array({ minLength: 4096, maxLength: 4096 }), (m, page) => {
      next = { msr: m, page };
      w.host.round();
    }),
    { numRuns: RUNS },
  );
  assert.ok(w.host.counters()["vmgexit.unsupported"]! > 0);
});

/**
 * Attack scenarios on the fake machine: a faulting attack instruction is retried as a real
 * instruction would be (every try is a #NPF exit) and then given up, with the fault
 * recorded; the remap attack moves a process page to a copy on another physical page.
 * (On the real platform: test/security/guest-attack-*.test.ts.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { bootGuest, settle } from "../testing/harness.js";
import { MAX_ATTEMPTS } from "./agent-attacks.js";

test("an attack that faults is retried MAX_ATTEMPTS times, recorded, and the guest goes on", () => {
  const b = bootGuest({ seed: "atk" });
  const target = b.layout.image;
  b.machine.traps.set(Number(target >> 12n), { kinds: new Set(["read"]), hits: 0 });
  b.guest.activate("attack-read-agent=phys");
  let npf = 0;
  for (let i = 0; i < 200 && !b.guest.quiescent(); i++) npf += b.machine.run(b.guest, 0, 20).npf;
  assert.equal(npf, MAX_ATTEMPTS - 1, "the last try is swallowed by the attacker, the others exit");
  const rec = b.guest.scenarios[0]!;
  assert.equal(rec.status, "active");
  const o = rec.outcomes[0]!;
  assert.equal(o.result, "gave-up");
  assert.equal(o.attempts, MAX_ATTEMPTS);
  assert.equal(o.fault!.kind, "npf");
  assert.equal(BigInt(o.fault!.gpa!), target);
  assert.equal(b.machine.traps.get(Number(target >> 12n))!.hits, MAX_ATTEMPTS);
  const retired = b.guest.stats().retired;
  b.machine.run(b.guest, 0, 10);
  assert.ok(b.guest.stats().retired > retired);
});

test("attack-remap: the process's page now maps a copy on another GPA; the old page is untouched", () => {
  const b = bootGuest({ seed: "remap" });
  const gt0 = b.guest.groundTruth();
  const alpha = gt0.processes.find((p) => p.comm === "vmi_alpha")!;
  const r0 = b.reader();
  const dtb = BigInt(alpha.dtb!) | (1n << 51n);
  const mm = BigInt(alpha.mm!);
  const argStart = r0.u64(mm + r0.off("mm_struct", "arg_start"));
  const va = argStart & ~0xfffn;
  const oldPa = r0.translate(va, dtb);
  const oldBytes = b.machine.mem.read(oldPa, 4096);
  b.guest.activate("attack-remap=vmi_alpha");
  settle(b, 1000, 100);
  const r = b.reader();
  const newPa = r.translate(va, dtb);
  assert.notEqual(newPa, oldPa);
  assert.deepEqual(b.machine.mem.read(newPa, 4096), oldBytes, "content copied");
  assert.deepEqual(b.machine.mem.read(oldPa, 4096), oldBytes, "old page left as it was");
  assert.equal(Buffer.from(r.read(argStart, 7, dtb)).toString("latin1"), "/bin/sh");
  const rec = b.guest.scenarios[0]!;
  assert.match(rec.outcomes[0]!.step, /remap vmi_alpha/);
});

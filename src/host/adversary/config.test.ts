import assert from "node:assert/strict";
import { test } from "node:test";
import { HostError } from "../errors.js";
import { activeAdversaries, adversaryNames, parseAdversaries, parseAdversary } from "./config.js";

test("each switch parses on its own, with defaults", () => {
  assert.deepEqual(parseAdversary("tamper"), { tamper: { mode: "bit", dir: "rx", nth: 1 } });
  assert.deepEqual(parseAdversary("tamper=record,dir=tx,nth=3,conn=2,byte=5"), { tamper: { mode: "record", dir: "tx", nth: 3, conn: 2, byte: 5 } });
  assert.deepEqual(parseAdversary("replay"), { replay: { mode: "record", target: { dir: "rx", nth: 1 } } });
  assert.deepEqual(parseAdversary("replay=session,conn=2"), { replay: { mode: "session", conn: 2 } });
  assert.deepEqual(parseAdversary("drop=4,dir=tx"), { drop: { dir: "tx", nth: 4 } });
  assert.deepEqual(parseAdversary("reorder"), { reorder: { dir: "rx", nth: 1 } });
  assert.deepEqual(parseAdversary("delay=50"), { delay: { dir: "both", ms: 50 } });
  assert.deepEqual(parseAdversary("read-private=0x1000,every=5"), { readPrivate: { gpa: 0x1000n, every: 5 } });
  assert.deepEqual(parseAdversary("write-private"), { writePrivate: { every: 1000 } });
  assert.deepEqual(parseAdversary("starve-vmpl0=2000"), { starveVmpl0: { afterMs: 2000 } });
  assert.deepEqual(parseAdversary("delay-vmpl0=10"), { delayVmpl0: { ms: 10 } });
  assert.deepEqual(parseAdversary("forge-npf=7,vcpu=1"), { forgeNpf: { every: 7, vcpu: 1 } });
  assert.deepEqual(parseAdversary("vmrun-paused"), { vmrunPaused: { every: 1 } });
  assert.deepEqual(parseAdversary("swap-report=foreign"), { swapReport: { mode: "foreign" } });
  assert.deepEqual(parseAdversary("inject-interrupt=3,vmpl=1"), { injectInterrupt: { every: 3, vmpl: 1 } });
});

test("every documented name parses", () => {
  for (const n of adversaryNames()) assert.equal(activeAdversaries(parseAdversary(n))[0], n);
});

test("an unknown name is a clear error listing the known ones", () => {
  assert.throws(
    () => parseAdversary("mitm"),
    (e: unknown) => e instanceof HostError && e.code === "UNKNOWN_ADVERSARY" && e.message.includes('"mitm"') && e.message.includes("tamper"),
  );
});

test("bad arguments are errors naming the switch", () => {
  const bad = ["tamper=flip", "tamper=bit,dir=up", "drop=0", "drop=x", "delay=-5", "tamper=bit,colour=red", "tamper=bit,nth=1,nth=2", "read-private=zz", "replay=session,dir=tx", "inject-interrupt=1,vmpl=2", "tamper=bit,3"];
  for (const s of bad) {
    assert.throws(() => parseAdversary(s), (e: unknown) => e instanceof HostError && e.code === "BAD_ADVERSARY_ARG", s);
  }
});

test("switches combine; the same switch twice is an error", () => {
  assert.deepEqual(activeAdversaries(parseAdversaries(["drop=2", "starve-vmpl0"])), ["drop", "starve-vmpl0"]);
  assert.throws(() => parseAdversaries(["drop=2", "drop=3"]), (e: unknown) => e instanceof HostError && e.code === "BAD_ADVERSARY_ARG");
});

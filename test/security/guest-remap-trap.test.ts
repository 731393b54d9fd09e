/**
 * Threat: the compromised guest kernel moves a user page the owner traps (attack-remap:
 * copy it to another physical page and rewrite the process's PTE), so the owner's trap on
 * the old GPA silently stops seeing the process's accesses.
 * Expected: a trap armed with its (dtb, va) also watches the walk's page-table pages: the
 * owner sees the copy's read of the trapped page and gets MappingChanged {va, old GPA,
 * new GPA} exactly as the guest changed it (ground truth); the session is unharmed. An
 * access through another mapping of the page (the copy reads via the direct map) must not
 * be reported as made through the watched VA.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { MappingChangedEvent, TrapEvent } from "../../src/client/index.js";
import { defaultProfile } from "../../src/app/world/world.js";
import type { ScenarioRecord } from "../../src/guest/index.js";
import { PAGE, waitFor } from "./helpers/world.js";
import { startAttackRig, type AttackRig } from "./helpers/guest-attack.js";

let rig: AttackRig;
let events: TrapEvent[];
let maps: MappingChangedEvent[];
let target: { va: bigint; gpa: bigint; dtb: bigint };
let rec: ScenarioRecord;

before(async () => {
  rig = await startAttackRig("guest-remap");
  const gt = rig.sw.world.guest.groundTruth();
  const p = gt.processes.find((x) => x.comm === "vmi_alpha")!;
  const dtb = BigInt(p.dtb!);
  // The owner finds the page the attack moves: the one holding the process's arguments.
  const [raw] = await rig.owner.readVirt(dtb, [{ va: BigInt(p.mm!) + BigInt(defaultProfile().offsetOf("mm_struct", "arg_start")), len: 8 }]);
  const va = new DataView((raw as Uint8Array).buffer, (raw as Uint8Array).byteOffset).getBigUint64(0, true) & ~0xfffn;
  const [tr] = await rig.owner.translate(dtb, [va]);
  assert.ok(!(tr instanceof Error));
  target = { va, gpa: tr!.pa, dtb };
  events = [];
  maps = [];
  const trap = await rig.owner.armTrap({ gpa: target.gpa, access: "rw", va, dtb }, (e) => {
    events.push(e);
    return "continue";
  });
  trap.onMappingChanged((m) => maps.push(m));
  rec = await rig.sw.runScenario("attack-remap=vmi_alpha");
  await waitFor(() => maps.length > 0, 20_000, "MappingChanged");
});
after(() => rig?.close());

test("the owner gets MappingChanged {va, old GPA, new GPA} exactly as the guest remapped the page", () => {
  const m = /GPA (0x[0-9a-f]+) → (0x[0-9a-f]+)/.exec(rec.outcomes[0]!.step)!;
  const [oldGpa, newGpa] = [BigInt(m[1]!), BigInt(m[2]!)];
  assert.equal(oldGpa, target.gpa);
  assert.ok(
    maps.some((x) => x.va === target.va && x.oldGpa === oldGpa && x.newGpa === newGpa),
    `MappingChanged ${maps.map((x) => `0x${x.va.toString(16)}: 0x${x.oldGpa.toString(16)} → 0x${x.newGpa?.toString(16)}`).join(", ")}`,
  );
  assert.ok(maps.every((x) => x.va === target.va), "only the watched VA is reported");
});

test("the owner saw the copy read the trapped page", () => {
  const reads = events.filter((e) => e.access === "r" && e.gpa >> 12n === target.gpa >> 12n);
  assert.ok(reads.length >= 1, "the read of the old page reached the owner");
});

test(
  "an access through another mapping (the direct map) is not reported as made through the watched VA",
  () => {
    const gt = rig.sw.world.guest.groundTruth();
    const dmap = BigInt(gt.kernel.pageOffsetBase) + target.gpa;
    const read = events.find((e) => e.access === "r" && e.gpa >> 12n === target.gpa >> 12n)!;
    assert.ok(read.gva === undefined || read.gva >> 12n === dmap >> 12n, `event gva 0x${read.gva?.toString(16)}, the copy read via 0x${dmap.toString(16)}`);
  },
);

test("the session is unharmed: it reads the plaintext, nothing is held", async () => {
  const hb = await rig.owner.heartbeat();
  assert.deepEqual(hb.stoppedVcpus, []);
  assert.equal(hb.events, BigInt(events.length), "every event the agent delivered reached the owner");
  const [text] = await rig.owner.readPhys([{ gpa: rig.sw.textPa, len: PAGE }]);
  assert.deepEqual(text, rig.sw.plaintext(rig.sw.textPa, PAGE));
  await rig.sw.expectServes();
});

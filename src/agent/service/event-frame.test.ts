import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import fc from "fast-check";
import { SeededRng } from "../../shared/base/index.js";
import { encodeMessageFrame, v1 } from "../../shared/protocol/index.js";
import { encodeEventFrame } from "./event-frame.js";
import type { EventFields } from "./event-frame.js";
import { registerSet } from "./registers.js";

const RUNS = Number(process.env.SEVEN_FUZZ_RUNS ?? 200);
const VMSA_BYTES = 4096;

/** What protobuf-es makes of the same event (the reference). */
function reference(e: EventFields, vmsa: Uint8Array, stopped: boolean): Uint8Array {
  const event = create(v1.EventSchema, { ...e, access: e.access as v1.Access, registers: registerSet(e.vcpu, vmsa, stopped) });
  return encodeMessageFrame(v1.ResponseSchema, create(v1.ResponseSchema, { id: 0n, status: v1.Status.OK, detail: "", body: { case: "event", value: event } }));
}

/** A VMSA whose bytes are non-zero with probability density/100 (zero registers are left out of the encoding). */
function vmsaOf(seed: number, density: number): Uint8Array {
  const rng = new SeededRng(seed, "vmsa");
  const raw = rng.bytes(2 * VMSA_BYTES);
  const b = new Uint8Array(VMSA_BYTES);
  for (let i = 0; i < VMSA_BYTES; i++) b[i] = raw[2 * i]! % 100 < density ? raw[2 * i + 1]! : 0;
  return b;
}

const u64 = fc.oneof(fc.constantFrom(0n, 1n, 0x7fn, 0x80n, 0xffff_ffffn, 0x1_0000_0000n, (1n << 63n) - 1n, (1n << 64n) - 1n), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }));
const fields = fc.record({
  eventId: u64,
  trapId: u64,
  vcpu: fc.oneof(fc.constantFrom(0, 1, 127, 128, 0xffff_ffff), fc.nat()),
  access: fc.constantFrom(0, 1, 2, 4, 7),
  gpa: u64,
  gva: u64,
  gvaKnown: fc.boolean(),
  timeNs: u64,
});

test("the event frame is byte for byte protobuf-es's Response{event} with registerSet(…) (random VMSAs and fields)", () => {
  fc.assert(
    fc.property(fields, fc.integer(), fc.integer({ min: 0, max: 100 }), fc.boolean(), (e, seed, density, stopped) => {
      const vmsa = vmsaOf(seed, density);
      assert.deepEqual(encodeEventFrame(e, vmsa, stopped), reference(e, vmsa, stopped));
    }),
    { numRuns: RUNS },
  );
});

test("the event frame at the extremes: an all-zero VMSA and all-ones (every register at its largest)", () => {
  const e: EventFields = { eventId: 1n, trapId: 2n, vcpu: 1, access: 1, gpa: 0x1234_5000n, gva: 0n, gvaKnown: false, timeNs: 10n };
  for (const vmsa of [new Uint8Array(VMSA_BYTES), new Uint8Array(VMSA_BYTES).fill(0xff)]) {
    assert.deepEqual(encodeEventFrame(e, vmsa), reference(e, vmsa, true));
  }
  // Two frames in a row are independent buffers (the scratch space is reused).
  const a = encodeEventFrame(e, new Uint8Array(VMSA_BYTES).fill(0xff));
  const copy = a.slice();
  encodeEventFrame({ ...e, eventId: 9n }, new Uint8Array(VMSA_BYTES));
  assert.deepEqual(a, copy);
});

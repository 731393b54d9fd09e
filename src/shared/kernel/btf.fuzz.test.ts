/**
 * Property tests: random and mutated BTF never makes the parser, the ISF view or the
 * generator throw anything but DecodeError, and never hangs (cycles are cut by limits).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DecodeError } from "../base/index.js";
import { parseBtf, type Btf } from "./btf.js";
import { BtfIsfView } from "./btf-isf-view.js";
import { generateIsf } from "./isf-generate.js";
import { btfProfile } from "./btf-profile.js";
import { parseSystemMap } from "./system-map.js";
import { sampleBtf } from "./testing/btf-builder.js";

const RUNS = Number(process.env.SEVEN_FUZZ_RUNS ?? 200);
const MAP = parseSystemMap("0000000000000010 A current_task\nffffffff81000000 T do_thing\nffffffff82000100 D init_task");

function onlyDecodeErrors(f: () => void): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
  }
}

/** Touches everything a consumer could ask of a parsed BTF. */
function exercise(btf: Btf): void {
  for (let id = 0; id < btf.count; id++) {
    onlyDecodeErrors(() => btf.type(id));
    onlyDecodeErrors(() => btf.nameOf(id));
    onlyDecodeErrors(() => btf.resolve(id));
    onlyDecodeErrors(() => btf.sizeOf(id));
  }
  const view = new BtfIsfView(btf);
  onlyDecodeErrors(() => {
    for (const id of view.userTypeIds().values()) onlyDecodeErrors(() => view.userType(id));
    for (const id of view.enumIds().values()) onlyDecodeErrors(() => view.enumType(id));
    for (let id = 0; id < btf.count; id++) onlyDecodeErrors(() => view.describe(id));
  });
  onlyDecodeErrors(() => generateIsf(btf, MAP));
  const p = btfProfile(btf, MAP);
  onlyDecodeErrors(() => {
    for (const n of p.userTypeNames()) for (const f of Object.keys(p.userType(n).fields)) p.findMember(n, [f]);
  });
  onlyDecodeErrors(() => p.symbolType("current_task"));
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant("byte" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant("u32" as const), at: fc.nat(), value: fc.constantFrom(0, 1, 2, 0xff, 0xffff, 0x7fffffff, 0xffffffff, 33, 34) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat(), value: fc.constant(0) }),
);

type Mutation = { kind: "byte" | "u32" | "truncate"; at: number; value: number };

function mutate(base: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  let b = base.slice();
  for (const m of ms) {
    const at = m.at % Math.max(b.length, 1);
    if (m.kind === "byte") b[at] = m.value;
    else if (m.kind === "u32" && at + 4 <= b.length) new DataView(b.buffer).setUint32(at - (at % 4), m.value, true);
    else if (m.kind === "truncate") b = b.slice(0, at);
  }
  return b;
}

test("property: random bytes are rejected with a DecodeError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
      onlyDecodeErrors(() => exercise(parseBtf(bytes)));
    }),
    { numRuns: RUNS },
  );
});

test("property: a valid header with random type records parses or fails with a DecodeError", () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 64 }), fc.boolean(), (words, le) => {
      const strings = [0, 0x61, 0, 0x62, 0];
      const out = new Uint8Array(24 + words.length * 4 + strings.length);
      const dv = new DataView(out.buffer);
      dv.setUint16(0, 0xeb9f, le);
      out[2] = 1;
      dv.setUint32(4, 24, le);
      dv.setUint32(12, words.length * 4, le);
      dv.setUint32(16, words.length * 4, le);
      dv.setUint32(20, strings.length, le);
      // bias kinds into range so that records get past the kind check often
      words.forEach((w, i) => dv.setUint32(24 + 4 * i, i % 3 === 1 ? ((w % 20) << 24) | (w & 0x80000003) : w % 64, le));
      out.set(strings, 24 + words.length * 4);
      onlyDecodeErrors(() => exercise(parseBtf(out)));
    }),
    { numRuns: RUNS },
  );
});

for (const endian of ["little", "big"] as const) {
  test(`property: mutated sample BTF (${endian}-endian) only ever raises DecodeError`, () => {
    const base = sampleBtf(endian).bytes;
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 6 }), (ms) => {
        onlyDecodeErrors(() => exercise(parseBtf(mutate(base, ms))));
      }),
      { numRuns: RUNS },
    );
  });
}

test("the unmutated sample survives the exercise without errors", () => {
  const btf = parseBtf(sampleBtf().bytes);
  exercise(btf);
  assert.equal(new BtfIsfView(btf).userTypeIds().size, 6);
});

/**
 * Property tests: random JSON and mutated ISF documents are either rejected by the loader
 * with a DecodeError or load into a profile whose queries only ever raise ProfileError
 * (never a TypeError or a hang).
 */
import { test } from "node:test";
import fc from "fast-check";
import { gzipSync } from "node:zlib";
import { DecodeError } from "../base/index.js";
import { ProfileError } from "./errors.js";
import { decodeIsf, isfProfile } from "./isf-load.js";
import { validateIsf } from "./isf-validate.js";
import { parseJson, stringifyJson, type JsonObject, type JsonValue } from "./json.js";
import type { Profile } from "./profile.js";
import { sampleIsfText } from "./testing/isf-sample.js";

const RUNS = Number(process.env.SEVEN_FUZZ_RUNS ?? 200);
const SAMPLE = sampleIsfText();

function onlyDecodeErrors(f: () => void): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
  }
}
function onlyProfileErrors(f: () => void): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof ProfileError)) throw e;
  }
}

/** Every query a consumer could make of a loaded profile. */
function exercise(p: Profile): void {
  for (const n of p.userTypeNames()) {
    onlyProfileErrors(() => p.sizeOf(n));
    const t = p.userType(n);
    for (const [f, field] of Object.entries(t.fields)) {
      onlyProfileErrors(() => p.findMember(n, [f]));
      onlyProfileErrors(() => p.sizeOfDesc(field.type));
      if (field.type.kind === "struct" || field.type.kind === "union") {
        onlyProfileErrors(() => p.findMember(n, [f, "next"]));
      }
    }
    onlyProfileErrors(() => p.findMember(n, ["rcu"]));
  }
  for (const e of p.enumNames()) onlyProfileErrors(() => p.enumConstants(e));
  for (const s of p.symbolNames()) {
    onlyProfileErrors(() => p.symbolType(s));
    onlyProfileErrors(() => p.symbolAt(p.requireSymbol(s) + 1n));
  }
  void p.banner;
  onlyProfileErrors(() => p.offsetOf("task_struct", "tasks.next"));
}

/** Every path (list of keys / indices) in a JSON tree. */
function paths(v: JsonValue, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...prefix, i], out));
  else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) paths(x, [...prefix, k], out);
  return out;
}

const nasty = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<JsonValue>,
  fc.constantFrom<JsonValue>(
    -1,
    0,
    2 ** 53,
    1.5,
    "",
    "__proto__",
    "constructor",
    "toString",
    { kind: "struct", name: "constructor" },
    { kind: "struct", name: "task_struct" },
    { kind: "pointer", subtype: { kind: "struct", name: "nowhere" } },
    { kind: "array", count: 4294967295, subtype: { kind: "base", name: "long unsigned int" } },
    { kind: "bitfield", bit_position: 0, bit_length: 1, type: { kind: "enum", name: "task_state" } },
    { kind: "struct", size: 8, fields: {} },
    { type: { kind: "struct", name: "task_struct" }, offset: 0, anonymous: true },
  ),
);

test("property: random JSON values are rejected by the validator with a DecodeError", () => {
  fc.assert(
    fc.property(fc.jsonValue() as fc.Arbitrary<JsonValue>, (v) => {
      onlyDecodeErrors(() => exercise(isfProfile(validateIsf(v))));
    }),
    { numRuns: RUNS },
  );
});

test("property: one mutated element of a valid document: DecodeError, or a profile that answers sanely", () => {
  const base = parseJson(SAMPLE);
  const all = paths(base).filter((p) => p.length > 0);
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(all.length - 1), fc.oneof(nasty, fc.constant(undefined))), { minLength: 1, maxLength: 3 }), (edits) => {
      const root = parseJson(SAMPLE) as JsonObject;
      for (const [i, value] of edits) {
        const path = all[i]!;
        let cur: JsonValue = root;
        for (const k of path.slice(0, -1)) {
          if (cur === null || typeof cur !== "object") break;
          cur = (cur as Record<string | number, JsonValue>)[k as string] ?? null;
        }
        if (cur === null || typeof cur !== "object") continue;
        const last = path[path.length - 1]!;
        if (value === undefined) {
          if (Array.isArray(cur)) cur.splice(Number(last), 1);
          else delete (cur as JsonObject)[last as string];
        } else (cur as Record<string | number, JsonValue>)[last as string] = value;
      }
      onlyDecodeErrors(() => exercise(isfProfile(decodeIsf(stringifyJson(root)))));
    }),
    { numRuns: RUNS },
  );
});

test("property: mutated gzip and text bytes only ever raise DecodeError", () => {
  const text = new TextEncoder().encode(SAMPLE);
  const gz = new Uint8Array(gzipSync(text));
  fc.assert(
    fc.property(fc.boolean(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.option(fc.nat()), (useGz, flips, cut) => {
      let b = (useGz ? gz : text).slice();
      for (const [at, v] of flips) b[at % b.length] = v;
      if (cut !== null) b = b.slice(0, cut % (b.length + 1));
      onlyDecodeErrors(() => exercise(isfProfile(decodeIsf(b))));
    }),
    { numRuns: RUNS },
  );
});

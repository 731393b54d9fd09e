import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DecodeError } from "../base/index.js";
import { parseJson, stringifyJson, type JsonValue } from "./json.js";

const RUNS = Number(process.env.SEVEN_FUZZ_RUNS ?? 200);

function code(text: string): string {
  try {
    parseJson(text);
  } catch (e) {
    assert.ok(e instanceof DecodeError, String(e));
    return e.code;
  }
  assert.fail(`parsed: ${text}`);
}

test("integers beyond 2^53 stay exact as bigints; others are numbers", () => {
  assert.deepEqual(parseJson('{"a":18446744071578845184,"b":129920,"c":-9007199254740993,"d":1.5e3,"e":9007199254740991}'), {
    a: 18446744071578845184n,
    b: 129920,
    c: -9007199254740993n,
    d: 1500,
    e: 9007199254740991,
  });
});

test("strings, escapes, literals, nesting", () => {
  assert.deepEqual(parseJson(' [ "a\\"b\\\\\\/\\n\\u00e9\\ud83d\\ude00", true, false, null, [], {} ] '), ['a"b\\/\né😀', true, false, null, [], {}]);
});

test("a __proto__ key is an ordinary own property", () => {
  const v = parseJson('{"__proto__":{"polluted":1},"constructor":2}') as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  assert.deepEqual(Object.keys(v), ["__proto__", "constructor"]);
  assert.equal(({} as Record<string, unknown>)["polluted"], undefined);
});

test("syntax errors, duplicate keys and deep nesting are DecodeErrors", () => {
  for (const t of ["", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", "+1", "'a'", "[1 2]", "\"\u0001\"", "\"\\x\"", "\"\\u12\"", "tru", "{} x", "NaN", "{1:2}"]) {
    assert.equal(code(t), "JSON_SYNTAX", t);
  }
  assert.equal(code('{"a":1,"b":2,"a":3}'), "JSON_DUPLICATE_KEY");
  const many = "{" + Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`).join(",") + ',"k7":0}';
  assert.equal(code(many), "JSON_DUPLICATE_KEY");
  assert.equal(code("[".repeat(100) + "]".repeat(100)), "JSON_TOO_DEEP");
  assert.deepEqual(parseJson("[[1]]", { maxDepth: 2 }), [[1]]);
  assert.throws(() => parseJson('{"a":\n  x}'), (e: unknown) => e instanceof DecodeError && e.details["line"] === 2);
});

test("stringify: sorted keys, bigints as literals, one entry per line at the top two levels", () => {
  const text = stringifyJson({ b: { y: 1, x: [2n, "s"] }, a: 18446744071578845184n, c: undefined });
  assert.equal(text, '{\n"a":18446744071578845184,\n"b":{\n"x":[2,"s"],\n"y":1\n}\n}\n');
  assert.equal(stringifyJson({}), "{}\n");
  assert.throws(() => stringifyJson(Number.NaN), RangeError);
});

test("property: stringify → parse is the identity on JSON values", () => {
  const value = fc.letrec((tie) => ({
    v: fc.oneof(
      { depthSize: "small" },
      fc.constant(null),
      fc.boolean(),
      fc.integer(),
      fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }).filter((b) => b > BigInt(Number.MAX_SAFE_INTEGER) || b < BigInt(Number.MIN_SAFE_INTEGER)),
      fc.string(),
      fc.array(tie("v"), { maxLength: 4 }),
      fc.dictionary(fc.string({ maxLength: 6 }), tie("v"), { maxKeys: 4, noNullPrototype: true }),
    ),
  })).v as fc.Arbitrary<JsonValue>;
  fc.assert(
    fc.property(value, (v) => {
      assert.deepEqual(parseJson(stringifyJson(v)), v);
    }),
    { numRuns: RUNS },
  );
});

test("property: arbitrary and mutated text parses or raises a DecodeError, never anything else", () => {
  const sample = '{"metadata":{"format":"6.2.0"},"symbols":{"init_task":{"address":18446744071606217280}},"a":[1,2.5,-3e2,"x\\u0041",true,null]}';
  const mutated = fc
    .tuple(fc.nat(sample.length), fc.nat(sample.length), fc.string({ maxLength: 4 }))
    .map(([i, j, s]) => sample.slice(0, Math.min(i, j)) + s + sample.slice(Math.max(i, j)));
  fc.assert(
    fc.property(fc.oneof(fc.string(), mutated), (t) => {
      try {
        parseJson(t);
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
      }
    }),
    { numRuns: RUNS * 5 },
  );
});

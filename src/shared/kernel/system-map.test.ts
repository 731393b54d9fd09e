import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { DecodeError } from "../base/index.js";
import { parseSystemMap } from "./system-map.js";

const FIXTURE = new URL("../../../../shared/fixtures/linux/debian-6.1.0-56-amd64/System.map", import.meta.url);
const RUNS = Number(process.env.SEVEN_FUZZ_RUNS ?? 200);

test("parses address, type and name; tolerates blank lines and CRLF", () => {
  const m = parseSystemMap("ffffffff81000000 T _text\r\n\n   \nffffffff81000000 T startup_64\n0000000000001000 A cpu_debug_store\r\n");
  assert.equal(m.entries.length, 3);
  assert.deepEqual(m.entries[0], { address: 0xffffffff81000000n, type: "T", name: "_text", line: 1 });
  assert.equal(m.entries[2]!.line, 5);
  assert.equal(m.address("cpu_debug_store"), 0x1000n);
  assert.equal(m.address("nope"), undefined);
});

test("rejects garbage with a DecodeError naming the line", () => {
  const bad = ["ffffffff81000000 T _text", "", "zzzz T nothex"].join("\n");
  assert.throws(
    () => parseSystemMap(bad),
    (e: unknown) => e instanceof DecodeError && e.code === "SYSMAP_BAD_LINE" && e.details["line"] === 3 && /line 3/.test(e.message),
  );
  for (const line of ["ffffffff81000000 _text", "ffffffff81000000 TT _text", "12345678901234567 T x", "ffffffff81000000 T a b", "0 T naïve"]) {
    assert.throws(() => parseSystemMap(line), DecodeError, line);
  }
  assert.throws(() => parseSystemMap("\n\n"), (e: unknown) => e instanceof DecodeError && e.code === "SYSMAP_EMPTY");
});

test("duplicate names: a global symbol wins over a local one, then the first; all() keeps every line", () => {
  const m = parseSystemMap(["0000000000001000 t dup", "0000000000002000 T dup", "0000000000003000 T dup", "0000000000004000 t only_local", "0000000000005000 t only_local"].join("\n"));
  assert.equal(m.address("dup"), 0x2000n);
  assert.equal(m.address("only_local"), 0x4000n);
  assert.deepEqual(
    m.all("dup").map((e) => e.address),
    [0x1000n, 0x2000n, 0x3000n],
  );
  assert.equal(m.size, 2);
});

test("kallsyms [module] column: kept in entries, left out of kernel lookups", () => {
  const m = parseSystemMap("ffffffffc0000000 t virtio_init\t[virtio]\nffffffff81000000 T _text");
  assert.equal(m.entries[0]!.module, "virtio");
  assert.equal(m.address("virtio_init"), undefined);
  assert.equal(m.nearest(0xffffffffc0000010n)!.name, "_text");
});

test("nearest symbol at or below an address; aliases resolve to the fewest-underscores name", () => {
  const m = parseSystemMap(["0000000000001000 T __alias", "0000000000001000 T alias", "0000000000002000 T next"].join("\n"));
  assert.deepEqual(m.nearest(0x1800n), { name: "alias", address: 0x1000n, offset: 0x800n });
  assert.deepEqual(m.nearest(0x2000n), { name: "next", address: 0x2000n, offset: 0n });
  assert.equal(m.nearest(0xfffn), undefined);
});

test("the Debian 6.1 System.map", () => {
  const m = parseSystemMap(readFileSync(FIXTURE));
  assert.equal(m.entries.length, 94266);
  assert.equal(m.address("_text"), 0xffffffff81000000n);
  assert.equal(m.address("init_task"), 0xffffffff82a1aa40n);
  assert.equal(m.address("linux_banner"), 0xffffffff82161900n);
  assert.equal(m.address("current_task"), 0x1fb80n);
  assert.deepEqual(m.nearest(0xffffffff82a1aa48n), { name: "init_task", address: 0xffffffff82a1aa40n, offset: 8n });
});

test("property: arbitrary text is parsed or rejected with a DecodeError", () => {
  const line = fc.oneof(
    fc.string(),
    fc.tuple(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.constantFrom("T", "t", "D", "A", "?", "x", " "), fc.string({ maxLength: 12 })).map(
      ([a, t, n]) => `${a.toString(16)} ${t} ${n}`,
    ),
  );
  fc.assert(
    fc.property(fc.array(line, { maxLength: 20 }), (lines) => {
      try {
        const m = parseSystemMap(lines.join("\n"));
        for (const e of m.entries) assert.equal(m.all(e.name).includes(e), true);
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
      }
    }),
    { numRuns: RUNS },
  );
});

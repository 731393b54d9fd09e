/** Baseline files are untrusted input: only documents we wrote are accepted. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { LinuxError } from "../errors.js";
import { parseBaseline } from "./baseline.js";

const good = {
  format: "seven-text-baseline",
  version: 1,
  banner: "Linux version x",
  virtSlide: "0x0",
  textStart: "0xffffffff81000000",
  textEnd: "0xffffffff81002000",
  pageSize: 4096,
  pages: ["a".repeat(64), "b".repeat(64)],
  digest: "c".repeat(64),
};

describe("parseBaseline", () => {
  it("accepts a well-formed document", () => {
    assert.equal(parseBaseline(JSON.stringify(good)).pages.length, 2);
  });

  for (const [what, doc] of [
    ["not JSON", "{"],
    ["an array", "[]"],
    ["another format", JSON.stringify({ ...good, format: "x" })],
    ["another version", JSON.stringify({ ...good, version: 2 })],
    ["a bad address", JSON.stringify({ ...good, textStart: "ffff" })],
    ["a bad page digest", JSON.stringify({ ...good, pages: ["zz", "b".repeat(64)] })],
    ["a page count that does not match the range", JSON.stringify({ ...good, pages: ["a".repeat(64)] })],
    ["an empty range", JSON.stringify({ ...good, textEnd: good.textStart })],
    ["a huge banner", JSON.stringify({ ...good, banner: "x".repeat(5000) })],
  ] as const) {
    it(`rejects ${what}`, () => {
      assert.throws(() => parseBaseline(doc), (e: unknown) => e instanceof LinuxError && e.code === "BASELINE_INVALID");
    });
  }
});

/** Every spec decoder on random and mutated input: only DecodeError, accepted input round-trips. */
import { test } from "node:test";
import { checkAllParsers } from "./testing/parser-fuzz.js";

const RUNS = Number(process.env.SEVEN_FUZZ_RUNS ?? 200);

test(`spec parsers throw only DecodeError (${RUNS} runs per property)`, () => {
  checkAllParsers(RUNS);
});

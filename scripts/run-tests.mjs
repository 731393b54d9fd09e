#!/usr/bin/env node
// Runs the test suite on node's built-in runner, with TypeScript through tsx.
// Node 20's --test does not expand globs, so the files are collected here.
//   node scripts/run-tests.mjs [DIR|FILE ...] [--fuzz]
// Unit tests sit next to their source (src/**/*.test.ts); test/ holds integration
// and security tests. --fuzz runs only files named *.fuzz.test.ts (with a larger
// budget through SEVEN_FUZZ_RUNS).
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { spawnSync } from "node:child_process";

const args = process.argv.slice(2);
const fuzzOnly = args.includes("--fuzz");
const roots = args.filter((a) => !a.startsWith("--"));
const root = process.cwd();

function collect(p, out) {
  const st = statSync(p);
  if (st.isFile()) {
    if (p.endsWith(".test.ts")) out.push(p);
    return;
  }
  for (const name of readdirSync(p).sort()) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    collect(join(p, name), out);
  }
}

const files = [];
for (const r of roots.length > 0 ? roots : ["src", "test"]) collect(r, files);
const selected = files
  .filter((f) => (fuzzOnly ? f.endsWith(".fuzz.test.ts") : true))
  .map((f) => relative(root, f));
if (selected.length === 0) {
  console.error("run-tests: no test files found");
  process.exit(1);
}
const res = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=2", ...selected],
  { stdio: "inherit", env: process.env },
);
process.exit(res.status ?? 1);

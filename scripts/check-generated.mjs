#!/usr/bin/env node
// CI check: the committed generated protobuf code (src/shared/protocol/gen) is exactly what
// protoc + protoc-gen-es produce from proto/ now (scripts/proto-gen.mjs). Regenerates into a temp dir and compares bytes.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { generate } from "./proto-gen.mjs";

const repo = process.cwd();
const gen = "src/shared/protocol/gen";
const out = mkdtempSync(join(tmpdir(), "seven-gen-"));
try {
  generate(repo, out);
} catch (e) {
  console.error(`check-generated: ${e.message}`);
  process.exit(1);
}
function list(dir) {
  const acc = [];
  const walk = (d) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else acc.push(relative(dir, p));
    }
  };
  walk(dir);
  return acc.sort();
}
const want = list(out);
const have = list(join(repo, gen));
const problems = [];
for (const f of new Set([...want, ...have])) {
  if (!want.includes(f)) problems.push(`${gen}/${f}: committed but not generated any more`);
  else if (!have.includes(f)) problems.push(`${gen}/${f}: generated but not committed`);
  else if (!readFileSync(join(out, f)).equals(readFileSync(join(repo, gen, f)))) problems.push(`${gen}/${f}: differs from the protoc-gen-es output`);
}
rmSync(out, { recursive: true, force: true });
if (problems.length > 0) {
  console.error("check-generated: generated protobuf code is out of date (run `npm run proto:gen` and commit):");
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log(`check-generated: ${have.length} generated files match proto/`);

#!/usr/bin/env node
// Checks that the committed kernel profile is what scripts/gen-profile.ts makes from the
// fixtures: regenerates it into a temporary file and compares. Exit 0 when identical,
// 1 on drift (with the first differing line of the JSON), 2 when regeneration fails.
// Identical JSON gzipped to different bytes (another zlib build) is reported and passes:
// the content is what matters. `--profile PATH` checks another copy (used by the tests).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const profileArg = args.indexOf("--profile");
const committed = profileArg >= 0 ? resolve(args[profileArg + 1] ?? "") : join(root, "profiles/debian-6.1.0-56-amd64.isf.json.gz");
const dir = mkdtempSync(join(tmpdir(), "seven-profile-"));
const fresh = join(dir, "profile.isf.json.gz");

try {
  const res = spawnSync(process.execPath, ["--import", "tsx", join(root, "scripts/gen-profile.ts"), "--out", fresh], {
    cwd: root,
    stdio: ["ignore", "ignore", "inherit"],
  });
  if (res.status !== 0) {
    console.error("check-profile: regenerating the profile failed (scripts/gen-profile.ts)");
    process.exit(2);
  }
  let old;
  try {
    old = readFileSync(committed);
  } catch {
    console.error(`check-profile: ${committed} is missing; run: node --import tsx scripts/gen-profile.ts`);
    process.exit(1);
  }
  const now = readFileSync(fresh);
  if (old.equals(now)) {
    console.log(`check-profile: ${committed} is up to date (${now.length} bytes)`);
    process.exit(0);
  }
  let a;
  try {
    a = gunzipSync(old).toString("utf8");
  } catch {
    console.error(`check-profile: DRIFT: ${committed} is not a gzip file; regenerate with: node --import tsx scripts/gen-profile.ts`);
    process.exit(1);
  }
  const b = gunzipSync(now).toString("utf8");
  if (a === b) {
    console.log("check-profile: same JSON, different gzip bytes (another zlib build); content is up to date");
    process.exit(0);
  }
  const la = a.split("\n");
  const lb = b.split("\n");
  let i = 0;
  while (i < la.length && i < lb.length && la[i] === lb[i]) i++;
  console.error(`check-profile: DRIFT: ${committed} differs from a fresh regeneration at JSON line ${i + 1}:`);
  console.error(`  committed:   ${(la[i] ?? "<end of file>").slice(0, 200)}`);
  console.error(`  regenerated: ${(lb[i] ?? "<end of file>").slice(0, 200)}`);
  console.error("Regenerate with: node --import tsx scripts/gen-profile.ts (and commit profiles/)");
  process.exit(1);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

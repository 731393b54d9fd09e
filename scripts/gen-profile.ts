#!/usr/bin/env node
/**
 * Regenerates the committed kernel profile from the Debian 6.1.0-56-amd64 fixtures:
 *
 *   node --import tsx scripts/gen-profile.ts [--out FILE.json[.gz]]
 *
 * Inputs (../shared/fixtures/linux, beside the repository):
 *   debian-6.1.0-56-amd64/vmlinux.btf, debian-6.1.0-56-amd64/System.map  — types and symbols;
 *   nokaslr-256M/ground-truth.txt — the "/proc/version" line, which is the linux_banner text
 *   (neither BTF nor System.map holds it; a test checks it against the memory image).
 * User types: FORENSICS_PROFILE_TYPES (src/shared/kernel/profile-types.ts) and what they
 * embed by value. Output: profiles/debian-6.1.0-56-amd64.isf.json.gz unless --out is given.
 * The output is a pure function of the inputs (scripts/check-profile.mjs relies on it).
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { FORENSICS_PROFILE_TYPES, generateIsfFromFiles } from "../src/shared/kernel/index.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const fixtures = resolve(root, "../shared/fixtures/linux");
const kernel = resolve(fixtures, "debian-6.1.0-56-amd64");

function bannerFromGroundTruth(path: string): string {
  const lines = readFileSync(path, "utf8").split("\n");
  const i = lines.indexOf("--- /proc/version");
  const line = i >= 0 ? lines[i + 1] : undefined;
  if (line === undefined || !line.startsWith("Linux version ")) throw new Error(`no /proc/version line in ${path}`);
  return line + "\n";
}

const args = process.argv.slice(2);
const outIdx = args.indexOf("--out");
const outPath = outIdx >= 0 ? resolve(args[outIdx + 1] ?? "") : resolve(root, "profiles/debian-6.1.0-56-amd64.isf.json.gz");

const result = await generateIsfFromFiles({
  btfPath: resolve(kernel, "vmlinux.btf"),
  systemMapPath: resolve(kernel, "System.map"),
  types: FORENSICS_PROFILE_TYPES,
  outPath,
  banner: bannerFromGroundTruth(resolve(fixtures, "nokaslr-256M/ground-truth.txt")),
});
console.log(`${outPath}: ${result.types} user types, ${result.symbols} symbols, ${result.bytes} bytes`);

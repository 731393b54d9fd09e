/**
 * Threat: hostile or broken input to the owner's `seven` CLI — nonsense arguments, files
 * that do not exist, truncated or empty images, corrupted profiles and target files, a
 * truncated attestation report — making it crash, hang or fail silently.
 * Expected: a non-zero exit (2 for usage, 1 for bad input) and ONE clear line naming the
 * file and what is wrong (with the error code in brackets), nothing on stdout. These are
 * the cases test/integration/cli-errors.test.ts does not already cover.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";
import { after, before, describe, it } from "node:test";
import { parseJson, stringifyJson, type JsonObject } from "../../src/shared/kernel/index.js";
import { FIXTURES, PROFILE, runCli, type CliRun } from "../integration/cli-harness.js";

const IMAGE = join(FIXTURES, "kaslr-256M/vmcore.elf.gz");
const REPORT = fileURLToPath(new URL("../../../shared/vectors/virtee-sev/report_milan.bin", import.meta.url));

/** Exit `code`, exactly one line on stderr starting "seven: " and matching `re`, nothing on stdout. */
function oneLine(r: CliRun, code: number, re: RegExp): void {
  assert.equal(r.code, code, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, `one line on stderr, got: ${r.stderr}`);
  assert.match(lines[0]!, /^seven: /);
  assert.match(lines[0]!, re);
  assert.equal(r.stdout, "");
}

let dir: string;
const f = (name: string): string => join(dir, name);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "seven-bad-input-"));
  // A LiME header (magic "EMiL", version 1) claiming [0, 0xfff] followed by 100 of its 4096 bytes.
  const lime = Buffer.alloc(32 + 100);
  lime.writeUInt32LE(0x4c694d45, 0);
  lime.writeUInt32LE(1, 4);
  lime.writeBigUInt64LE(0n, 8);
  lime.writeBigUInt64LE(0xfffn, 16);
  await writeFile(f("cut.lime"), lime);
  await writeFile(f("empty.img"), Buffer.alloc(0));
  await writeFile(f("small.raw"), Buffer.alloc(64 * 1024, 0x5a));
  await writeFile(f("cut.elf.gz"), (await readFile(IMAGE)).subarray(0, 100_000));
  await writeFile(f("garbage.isf.json.gz"), Buffer.from("this is not gzip at all"));
  await writeFile(f("not-isf.json"), JSON.stringify({ hello: 1 }));
  const isf = parseJson(gunzipSync(await readFile(PROFILE)).toString("utf8")) as JsonObject;
  const fields = ((isf["user_types"] as JsonObject)["task_struct"] as JsonObject)["fields"] as JsonObject;
  delete fields["comm"];
  delete fields["tasks"];
  await writeFile(f("no-task-fields.isf.json.gz"), gzipSync(stringifyJson(isf)));
  await writeFile(f("target-bad.json"), "{not json");
  await writeFile(f("target-wrong.json"), JSON.stringify({ format: "seven-target/9" }));
  await writeFile(f("report-cut.bin"), (await readFile(REPORT)).subarray(0, 600));
  await writeFile(f("garbage.btf"), Buffer.from("BTF? no"));
  await writeFile(f("owner.key.pem"), generateKeyPairSync("ec", { namedCurve: "secp384r1" }).privateKey.export({ format: "pem", type: "pkcs8" }));
});
after(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe("nonsense arguments (exit 2)", () => {
  it("an unknown command", async () => oneLine(await runCli(["frobnicate"]), 2, /unknown command 'frobnicate' \(see --help\)/));
  it("an unknown option", async () => oneLine(await runCli(["ps", "--frobnicate"]), 2, /unknown option '--frobnicate' \(see --help\)/));
});

describe("missing files", () => {
  it("a missing target file", async () => oneLine(await runCli(["ps", "--target", f("nope.json")]), 2, /cannot read the target file .*nope\.json: ENOENT/));
  it("a missing report", async () => oneLine(await runCli(["report", "show", f("nope.bin")]), 2, /cannot read report .*nope\.bin: ENOENT/));
  it("a missing trust root", async () =>
    oneLine(await runCli(["attest", "--connect", "127.0.0.1:9", "--measurement", "00".repeat(48), "--owner-key", f("owner.key.pem"), "--trust-root", f("nope.pem")]), 2, /nope\.pem.*ENOENT/));
  it("a dump into a directory that does not exist", async () => oneLine(await runCli(["dump", "--image", f("small.raw"), "--out", f("nodir/x.lime")]), 1, /nodir\/x\.lime.*ENOENT/));
});

describe("truncated and empty images (exit 1)", () => {
  it("a truncated LiME image", async () => oneLine(await runCli(["ps", "--image", f("cut.lime"), "--profile", PROFILE]), 1, /cut\.lime: lime: range 0 claims 4096 bytes, the file has 100 left \[TRUNCATED\]/));
  it("a truncated gzip image", async () => oneLine(await runCli(["ps", "--image", f("cut.elf.gz"), "--profile", PROFILE]), 1, /cut\.elf\.gz: gzip: the compressed stream ends early \[TRUNCATED\]/));
  it("an empty image", async () => oneLine(await runCli(["ps", "--image", f("empty.img"), "--profile", PROFILE]), 1, /empty\.img: raw: the file is empty \[EMPTY\]/));
});

describe("corrupted profiles and target files", () => {
  it("a profile that is neither gzip nor JSON", async () => oneLine(await runCli(["ps", "--image", IMAGE, "--profile", f("garbage.isf.json.gz")]), 1, /profile .*garbage\.isf\.json\.gz: .*\[JSON_SYNTAX\]/));
  it("JSON that is not an ISF profile", async () => oneLine(await runCli(["ps", "--image", IMAGE, "--profile", f("not-isf.json")]), 1, /profile .*not-isf\.json: ISF metadata: is missing \[ISF_INVALID\]/));
  it("a profile without members ps needs names them all", async () =>
    oneLine(await runCli(["ps", "--image", IMAGE, "--profile", f("no-task-fields.isf.json.gz")]), 1, /task_struct\.comm.*task_struct\.tasks|task_struct\.tasks.*task_struct\.comm/));
  it("a BTF file that is not BTF", async () =>
    oneLine(await runCli(["ps", "--image", IMAGE, "--btf", f("garbage.btf"), "--system-map", join(FIXTURES, "debian-6.1.0-56-amd64/System.map")]), 1, /garbage\.btf.*\[BTF_TRUNCATED\]/));
  it("a target file that is not JSON", async () => oneLine(await runCli(["ps", "--target", f("target-bad.json")]), 2, /target-bad\.json is not JSON \(expected the target\.json that `seven host` writes\)/));
  it("a target file of another format", async () => oneLine(await runCli(["ps", "--target", f("target-wrong.json")]), 2, /target-wrong\.json is not a target file/));
});

describe("a truncated attestation report", () => {
  it("report show: exit 1 and the reason, nothing else", async () => {
    const r = await runCli(["report", "show", f("report-cut.bin")]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /report-cut\.bin: not a valid ATTESTATION_REPORT/);
    assert.equal(r.stdout.trim().split("\n").length, 1);
  });
});

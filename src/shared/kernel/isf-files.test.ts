import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createReadStream, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createGunzip, gunzipSync, gzipSync } from "node:zlib";
import { DecodeError, isSevenError } from "../base/index.js";
import { generateIsfFromFiles, loadBtfProfileFiles, loadIsfProfileFile, parseTypeList } from "./isf-files.js";
import { BTF_URL, FIXTURES, PROFILE_URL, SYSTEM_MAP_URL, committedProfile } from "./testing/fixtures.js";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const btfPath = fileURLToPath(BTF_URL);
const systemMapPath = fileURLToPath(SYSTEM_MAP_URL);

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "seven-kernel-test-"));
}

test("generateIsfFromFiles writes .json.gz and .json atomically, loadable, identical on regeneration", async () => {
  const dir = tempDir();
  try {
    const gz = join(dir, "p.json.gz");
    const r = await generateIsfFromFiles({ btfPath, systemMapPath, types: "task_struct, cred", outPath: gz });
    assert.ok(r.types >= 2 && r.types < 200, String(r.types));
    assert.equal(r.symbols, 88582);
    assert.equal(r.bytes, readFileSync(gz).length);
    const p = await loadIsfProfileFile(gz);
    assert.equal(p.offsetOf("task_struct", "tasks"), 2192);
    assert.equal(p.offsetOf("cred", "uid"), 8);
    assert.equal(p.hasType("module"), false);
    // .json is the same document, uncompressed; regenerating gives the same bytes
    const plain = join(dir, "p.json");
    await generateIsfFromFiles({ btfPath, systemMapPath, types: ["task_struct", "cred"], outPath: plain });
    assert.deepEqual(gunzipSync(readFileSync(gz)), readFileSync(plain));
    const before = readFileSync(gz);
    await generateIsfFromFiles({ btfPath, systemMapPath, types: ["cred", "task_struct"], outPath: gz });
    assert.deepEqual(readFileSync(gz), before);
    assert.deepEqual(readdirSync(dir).sort(), ["p.json", "p.json.gz"]); // no temporary files left
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("generateIsfFromFiles validates its inputs", async () => {
  const dir = tempDir();
  const code = async (f: () => Promise<unknown>): Promise<string> => {
    try {
      await f();
    } catch (e) {
      assert.ok(isSevenError(e), String(e));
      return e.code;
    }
    return "accepted";
  };
  try {
    const out = join(dir, "p.json.gz");
    assert.equal(await code(() => generateIsfFromFiles({ btfPath, systemMapPath, outPath: join(dir, "p.txt") })), "BAD_ARGUMENT");
    assert.equal(await code(() => generateIsfFromFiles({ btfPath, systemMapPath, types: " , ", outPath: out })), "BAD_ARGUMENT");
    assert.equal(await code(() => generateIsfFromFiles({ btfPath: join(dir, "missing.btf"), systemMapPath, outPath: out })), "FILE_ERROR");
    assert.equal(await code(() => generateIsfFromFiles({ btfPath, systemMapPath, types: ["task_struct", "no_such"], outPath: out })), "UNKNOWN_TYPE");
    writeFileSync(join(dir, "bad.btf"), "not btf at all, long enough for a header");
    assert.equal(await code(() => generateIsfFromFiles({ btfPath: join(dir, "bad.btf"), systemMapPath, outPath: out })), "BTF_BAD_MAGIC");
    writeFileSync(join(dir, "bad.map"), "ffffffff81000000 T _text\ngarbage here\n");
    await assert.rejects(
      generateIsfFromFiles({ btfPath, systemMapPath: join(dir, "bad.map"), outPath: out }),
      (e: unknown) => e instanceof DecodeError && e.details["line"] === 2,
    );
    assert.deepEqual(readdirSync(dir).sort(), ["bad.btf", "bad.map"]); // nothing written
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(parseTypeList("a,b  c,,a\n"), ["a", "b", "c"]);
});

test("loadBtfProfileFiles reads the fixtures", async () => {
  const p = await loadBtfProfileFiles(btfPath, systemMapPath);
  assert.equal(p.source, "btf");
  assert.equal(p.offsetOf("task_struct", "comm"), 2976);
  assert.equal(p.banner, undefined);
});

test("the committed profile is what scripts/gen-profile.ts makes (scripts/check-profile.mjs)", () => {
  const ok = spawnSync(process.execPath, [join(REPO, "scripts/check-profile.mjs")], { cwd: REPO, encoding: "utf8" });
  assert.equal(ok.status, 0, ok.stderr + ok.stdout);
  // and the check does catch drift
  const dir = tempDir();
  try {
    const text = gunzipSync(readFileSync(PROFILE_URL)).toString("utf8").replace('"init_task":{"address":18446744071606217280', '"init_task":{"address":18446744071606217288');
    const tampered = join(dir, "tampered.json.gz");
    writeFileSync(tampered, gzipSync(text));
    const bad = spawnSync(process.execPath, [join(REPO, "scripts/check-profile.mjs"), "--profile", tampered], { cwd: REPO, encoding: "utf8" });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /DRIFT/);
    assert.match(bad.stderr, /init_task/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Bytes at a physical address of the ELF core, streaming the gzip only as far as needed. */
async function readPhysical(vmcoreGz: URL, pa: bigint, len: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let have = 0;
  let want: { off: number; len: number } | undefined;
  const stream = createReadStream(vmcoreGz).pipe(createGunzip());
  for await (const c of stream as AsyncIterable<Buffer>) {
    chunks.push(c);
    have += c.length;
    if (want === undefined && have >= 4096) {
      const h = Buffer.concat(chunks);
      const phoff = Number(h.readBigUInt64LE(32));
      const phentsize = h.readUInt16LE(54);
      const phnum = h.readUInt16LE(56);
      for (let i = 0; i < phnum; i++) {
        const o = phoff + i * phentsize;
        if (h.readUInt32LE(o) !== 1) continue; // PT_LOAD
        const off = h.readBigUInt64LE(o + 8);
        const paddr = h.readBigUInt64LE(o + 24);
        const filesz = h.readBigUInt64LE(o + 32);
        if (pa >= paddr && pa + BigInt(len) <= paddr + filesz) want = { off: Number(off + pa - paddr), len };
      }
      assert.ok(want !== undefined, "physical address not in the image");
    }
    if (want !== undefined && have >= want.off + want.len) {
      stream.destroy();
      return Buffer.concat(chunks).subarray(want.off, want.off + want.len);
    }
  }
  assert.fail("image ended early");
}

test("the profile's linux_banner is the string at linux_banner in the real memory image (nokaslr)", async () => {
  const p = committedProfile();
  const banner = p.banner!;
  const va = p.bannerAddress!;
  // nokaslr: kernel-image VA − 0xffffffff80000000 = PA (README: _text at VA 0xffffffff81000000, PA 0x1000000)
  const bytes = await readPhysical(new URL("nokaslr-256M/vmcore.elf.gz", FIXTURES), va - 0xffffffff80000000n, banner.length + 1);
  assert.equal(bytes.toString("latin1"), banner + "\0");
});

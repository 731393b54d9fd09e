/**
 * Every failure of the `seven` CLI ends with a non-zero exit and ONE line saying why:
 * nonsense arguments (exit 2), missing files, corrupted profiles, truncated images, wrong
 * profiles, unknown symbols, bad addresses, unreachable endpoints, attestation failures
 * naming the failed check, an agent that stops answering.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { after, before, describe, it } from "node:test";
import { ownerIdentity } from "../../src/client/index.js";
import { TEST_MEASUREMENT, TestAgent, testEvidence } from "../../src/client/drivers/testing/test-agent.js";
import { FIXTURES, PROFILE, runCli, spawnCli, type CliRun } from "./cli-harness.js";

const IMAGE = join(FIXTURES, "kaslr-256M/vmcore.elf.gz");
const BTF = join(FIXTURES, "debian-6.1.0-56-amd64/vmlinux.btf");
const MAP = join(FIXTURES, "debian-6.1.0-56-amd64/System.map");

/** Exactly one line on stderr, starting "seven: ", matching `re`; nothing else. */
function oneLine(r: CliRun, code: number, re: RegExp): void {
  assert.equal(r.code, code, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, `one line on stderr, got: ${r.stderr}`);
  assert.match(lines[0]!, /^seven: /);
  assert.match(lines[0]!, re);
}

let dir: string;
const owner = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
const id = ownerIdentity(owner.privateKey);
let keyFile: string;
let arkFile: string;
const M = Buffer.from(TEST_MEASUREMENT).toString("hex");
const agents: TestAgent[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "seven-cli-"));
  keyFile = join(dir, "owner.key.pem");
  await writeFile(keyFile, owner.privateKey.export({ format: "pem", type: "pkcs8" }));
  arkFile = join(dir, "ark.der");
  await writeFile(arkFile, testEvidence().ark);
});
after(async () => {
  await Promise.all(agents.map((a) => a.close()));
});

async function agent(o: Partial<Parameters<typeof TestAgent.start>[0]> = {}): Promise<TestAgent> {
  const a = await TestAgent.start({ mode: "tls", ownerKey: id.publicKeyDer, ...o });
  agents.push(a);
  return a;
}

const connect = (a: TestAgent, extra: string[] = []): string[] => ["--connect", a.endpoint, "--measurement", M, "--owner-key", keyFile, "--trust-root", arkFile, ...extra];

describe("seven CLI: nonsense arguments (exit 2)", () => {
  const cases: Array<[string, string[], RegExp]> = [
    ["no target", ["ps"], /ps: no target: give --target FILE, --connect HOST:PORT, --baseline HOST:PORT or --image FILE/],
    ["two targets", ["ps", "--image", "x", "--baseline", "127.0.0.1:1"], /give only one of --baseline, --image|give only one of --image, --baseline/],
    ["--connect without its flags", ["attest", "--connect", "127.0.0.1:1"], /--connect needs --measurement and --owner-key/],
    ["a bad endpoint", ["attest", "--connect", "nowhere", "--measurement", M, "--owner-key", "k"], /bad endpoint "nowhere": expected HOST:PORT/],
    ["a short measurement", ["attest", "--connect", "127.0.0.1:1", "--measurement", "abcd", "--owner-key", "k"], /--measurement must be 48 bytes/],
    ["attestation flags on an image", ["ps", "--image", "x", "--measurement", M], /--measurement only appl(y|ies) to an attested agent/],
    ["pause of an image", ["pause", "--image", "x"], /unknown option '--image'|pause needs a live target/],
    ["watch through the baseline", ["watch", "function", "x", "--baseline", "127.0.0.1:1"], /unknown option '--baseline'|needs the attested agent/],
    ["an image without a profile", ["ps", "--image", "x"], /an image needs --profile FILE or --btf FILE --system-map FILE/],
    ["--btf without --system-map", ["ps", "--image", "x", "--btf", "b"], /--btf and --system-map go together/],
    ["--profile and --btf", ["ps", "--image", "x", "--profile", "p", "--btf", "b", "--system-map", "m"], /not both/],
    ["a bad address", ["read", "xyz!!", "16", "--image", "x", "--profile", "p"], /ADDR: "xyz!!" is neither an address/],
    ["a bad length", ["read", "0x1000", "lots", "--image", "x", "--profile", "p"], /LEN: "lots" is not a number/],
    ["--pa with a symbol", ["read", "init_task", "16", "--pa", "--image", "x"], /ADDR must be a number/],
    ["a bad dump format", ["dump", "--out", "f", "--format", "zip", "--image", "x"], /--format must be lime, elf or raw/],
    ["a bad access", ["watch", "page", "0x1000", "--access", "rq", "--pa", "--connect", "127.0.0.1:1", "--measurement", M, "--owner-key", "k"], /--access must be letters from r, w, x/],
    ["a bad vcpu", ["regs", "--vcpu", "one", "--image", "x", "--profile", "p"], /--vcpu must be a vCPU number/],
    ["an unknown check", ["check", "no-such-check", "--image", "x", "--profile", "p"], /no check named no-such-check/],
    ["a bad timeout", ["ps", "--baseline", "127.0.0.1:1", "--timeout", "-3"], /--timeout must be a number of seconds/],
    ["an unknown product", ["attest", "--connect", "127.0.0.1:1", "--measurement", M, "--owner-key", "k", "--product", "athlon"], /unknown product "athlon"/],
  ];
  for (const [what, args, re] of cases) {
    it(what, async () => {
      const r = await runCli(args);
      assert.ok(r.code === 2 || r.code === 1, `exit code ${r.code}`);
      oneLine(r, r.code, re);
      assert.equal(r.stdout, "");
    });
  }
});

describe("seven CLI: files", () => {
  it("a missing image", async () => oneLine(await runCli(["ps", "--image", join(dir, "nope.lime"), "--profile", PROFILE]), 1, /nope\.lime.*ENOENT/));
  it("a missing profile", async () => oneLine(await runCli(["ps", "--image", IMAGE, "--profile", join(dir, "nope.json")]), 1, /cannot read the ISF profile .*nope\.json.*ENOENT.*\[FILE_ERROR\]/));
  it("a missing owner key", async () => {
    const a = await agent();
    oneLine(await runCli(["attest", "--connect", a.endpoint, "--measurement", M, "--owner-key", join(dir, "nokey.pem")]), 1, /cannot read the owner key .*nokey\.pem: ENOENT \[BAD_OWNER_KEY\]/);
  });
  it("a corrupted profile", async () => {
    const bad = join(dir, "bad.json");
    await writeFile(bad, '{"metadata": {"format": "6.2.0"}, "base_types": [');
    oneLine(await runCli(["ps", "--image", IMAGE, "--profile", bad]), 1, /profile .*bad\.json: .*\[[A-Z_]+\]$/);
  });
  it("a truncated image", async () => {
    const full = join(dir, "core.elf");
    await pipeline(createReadStream(IMAGE), createGunzip(), createWriteStream(full));
    const cut = join(dir, "cut.elf");
    const { open } = await import("node:fs/promises");
    const fh = await open(full, "r");
    const head = Buffer.alloc(200_000);
    await fh.read(head, 0, head.length, 0);
    await fh.close();
    await writeFile(cut, head);
    oneLine(await runCli(["ps", "--image", cut, "--profile", PROFILE]), 1, /cut\.elf: elf-core: .*runs past the end .*\[TRUNCATED\]/);
  });
});

describe("seven CLI: the target's contents", () => {
  it("a wrong profile (another kernel build) is named as such", async () => {
    // The same types with every symbol 12 KiB off: what a System.map of another build looks like.
    const { readFile } = await import("node:fs/promises");
    const shifted = (await readFile(MAP, "utf8"))
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => {
        const [a, t, n] = l.split(/\s+/);
        return `${(BigInt("0x" + a) + 0x3000n).toString(16).padStart(16, "0")} ${t} ${n}`;
      })
      .join("\n");
    const map = join(dir, "System.map-other");
    await writeFile(map, shifted + "\n");
    const r = await runCli(["ps", "--image", IMAGE, "--btf", BTF, "--system-map", map]);
    oneLine(r, 1, /no route located the kernel \(memory holds "Linux version 6\.1\.0-56-amd64.*is the profile for this kernel\?\) \[KERNEL_NOT_FOUND\]/);
  });
  it("an unknown symbol", async () => oneLine(await runCli(["read", "no_such_symbol_x", "16", "--image", IMAGE, "--profile", PROFILE]), 1, /no symbol "no_such_symbol_x" in the profile \[UNKNOWN_SYMBOL\]/));
  it("a bad kernel address", async () => oneLine(await runCli(["read", "0xffffffff00000000", "16", "--image", IMAGE, "--profile", PROFILE]), 1, /page fault at VA 0xffffffff00000000.*\[PAGE_FAULT\]/));
  it("a bad physical address", async () => oneLine(await runCli(["read", "0x7f00000000", "16", "--pa", "--image", IMAGE]), 1, /no physical memory at 0x7f00000000 \[INVALID_ADDRESS\]/));
});

describe("seven CLI: live targets", () => {
  it("an unreachable endpoint", async () => {
    const a = await agent();
    const args = connect(a);
    await a.close();
    agents.splice(agents.indexOf(a), 1);
    oneLine(await runCli(["attest", ...args]), 1, /cannot reach 127\.0\.0\.1:\d+: ECONNREFUSED \[UNREACHABLE\]/);
  });
  it("an attestation failure names the failed check", async () => {
    const a = await agent();
    const wrong = "11".repeat(48);
    oneLine(
      await runCli(["attest", "--connect", a.endpoint, "--measurement", wrong, "--owner-key", keyFile, "--trust-root", arkFile]),
      1,
      /attestation of agent 127\.0\.0\.1:\d+ failed: policy\.measurement: MEASUREMENT_MISMATCH \[ATTESTATION_REJECTED\]/,
    );
  });
  it("an untrusted root is named", async () => {
    const a = await agent();
    oneLine(await runCli(["attest", "--connect", a.endpoint, "--measurement", M, "--owner-key", keyFile]), 1, /ARK_NOT_TRUSTED.*\[ATTESTATION_REJECTED\]/);
  });
  it("an agent that stops answering", async () => {
    const a = await agent({ stallAfter: 2 });
    oneLine(await runCli(["read", "0x1000", "16", "--pa", ...connect(a, ["--timeout", "0.3"])]), 1, /agent did not answer within 0\.3 s; the host may be delaying the agent \[DRIVER_FAILED\]/);
  });
  it("a live target without a Linux kernel in it", async () => {
    const a = await agent();
    oneLine(await runCli(["ps", ...connect(a)]), 1, /KERNEL_NOT_FOUND|no route located the kernel/);
  });
  it("attest succeeds and prints what it proved (and --json)", async () => {
    const a = await agent();
    const r = await runCli(["attest", ...connect(a)]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /attested in \d+ ms: VMPL0 report bound to this TLS 1\.3 session/);
    assert.match(r.stdout, new RegExp(`measurement +${M} \\(as expected\\)`));
    const j = await runCli(["attest", "--json", ...connect(a)]);
    const doc = JSON.parse(j.stdout) as { ok: boolean; vmpl: number; measurement: string; arkSource: string };
    assert.deepEqual([doc.ok, doc.vmpl, doc.measurement, doc.arkSource], [true, 0, M, "explicit"]);
  });
  it("read --pa through the agent is a hex dump", async () => {
    const a = await agent();
    a.memory.poke(0x2000n, new TextEncoder().encode("hello, owner"));
    const r = await runCli(["read", "0x2000", "12", "--pa", ...connect(a)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "0000000000002000  68 65 6c 6c 6f 2c 20 6f  77 6e 65 72              |hello, owner|\n");
  });
});

describe("seven CLI: the real command", () => {
  it("exits 2 with one line when run with nonsense", async () => {
    const r = await spawnCli(["ps", "--image", "x", "--btf", "y"]);
    oneLine(r, 2, /--btf and --system-map go together/);
  });
});

/**
 * `seven host` and `seven measure` as a user runs them: a real process, a real port,
 * SIGTERM; and the error paths with their exit codes.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { measureHex } from "../../src/app/world/launch-inputs.js";
import { readOwnerKey } from "../../src/app/world/options.js";

const SEVEN = new URL("../../src/app/cli/seven.ts", import.meta.url).pathname;

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

function seven(args: readonly string[], o: { onStdout?: (all: string, kill: (s: NodeJS.Signals) => void) => void } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--import", "tsx", SEVEN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const guard = setTimeout(() => p.kill("SIGKILL"), 120_000);
    p.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      o.onStdout?.(stdout, (s) => p.kill(s));
    });
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    p.on("error", reject);
    p.on("close", (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const tmp = (): string => mkdtempSync(join(tmpdir(), "seven-cli-"));

test("seven host with defaults: prints its endpoint, writes the state dir, stops cleanly on SIGTERM", async () => {
  const dir = tmp();
  let sent = false;
  const r = await seven(["host", "--state-dir", dir, "--listen", "127.0.0.1:0"], {
    onStdout: (all, kill) => {
      if (!sent && /^target: /m.test(all)) {
        sent = true;
        kill("SIGTERM");
      }
    },
  });
  assert.equal(r.code, 0, r.stderr);
  const endpoint = /^endpoint: (\S+)$/m.exec(r.stdout)?.[1];
  assert.match(endpoint ?? "", /^127\.0\.0\.1:\d+$/);
  assert.match(r.stderr, /stopped/);
  const t = JSON.parse(readFileSync(join(dir, "target.json"), "utf8")) as Record<string, unknown> & { ownerKey: { publicKey: string; privateKey: string } };
  assert.equal(t.format, "seven-target/1");
  assert.equal(t.endpoint, endpoint);
  assert.equal(t.mode, "sev-snp");
  assert.equal(t.product, "milan");
  assert.match(readFileSync(t.trustRoot as string, "utf8"), /^-----BEGIN CERTIFICATE-----/);
  assert.equal(statSync(t.ownerKey.privateKey).mode & 0o777, 0o600);
  const ownerKey = readOwnerKey(t.ownerKey.publicKey);
  assert.equal(t.measurement, measureHex({ memoryBytes: 256n << 20n, vcpus: 2, ownerKey }), "what `seven measure` predicts");
  assert.match(r.stdout, new RegExp(`^measurement: ${t.measurement as string}$`, "m"));
});

test("seven measure prints the same hex as the library, and JSON with --json", async () => {
  const dir = tmp();
  const key = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
  const pub = join(dir, "owner.pub.pem");
  writeFileSync(pub, key.publicKey.export({ format: "pem", type: "spki" }));
  const want = measureHex({ memoryBytes: 512n << 20n, vcpus: 4, ownerKey: readOwnerKey(pub), legacyV0: true });
  const [plain, json] = await Promise.all([
    seven(["measure", "--vcpus", "4", "--memory", "512M", "--owner-key", pub, "--legacy-v0"]),
    seven(["measure", "--vcpus", "4", "--memory", "512M", "--owner-key", pub, "--legacy-v0", "--json"]),
  ]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(plain.stdout, `${want}\n`);
  assert.equal((JSON.parse(json.stdout) as { measurement: string }).measurement, want);
});

test("seven host error paths: busy port (1), bad size, unknown rootkit or adversary, bad owner key (2)", async () => {
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, "127.0.0.1", () => r()));
  const port = (busy.address() as { port: number }).port;
  const dir = tmp();
  writeFileSync(join(dir, "junk.pub"), "not a key");
  try {
    const cases: [string[], number, RegExp][] = [
      [["--listen", `127.0.0.1:${port}`], 1, /address already in use.*\[LISTEN_FAILED\]/],
      [["--memory", "12X"], 2, /bad memory size "12X".*\[BAD_SIZE\]/],
      [["--memory", "63M"], 2, /between 64 MiB and 64 GiB.*\[BAD_SIZE\]/],
      [["--memory", "80M"], 2, /\[GUEST_RAM_TOO_SMALL\]/],
      [["--rootkit", "no-such-rootkit"], 2, /no-such-rootkit.*\[UNKNOWN_ROOTKIT\]/],
      [["--adversary", "mitm"], 2, /unknown adversary "mitm".*\[UNKNOWN_ADVERSARY\]/],
      [["--owner-key", join(dir, "missing.pub")], 2, /cannot read the owner key.*\[BAD_OWNER_KEY\]/],
      [["--owner-key", join(dir, "junk.pub")], 2, /not usable.*\[BAD_OWNER_KEY\]/],
    ];
    const runs = await Promise.all(cases.map(([args]) => seven(["host", "--state-dir", join(dir, "state"), "--listen", "127.0.0.1:0", ...args])));
    runs.forEach((r, i) => {
      const [args, code, msg] = cases[i]!;
      assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, msg, args.join(" "));
      assert.equal(r.stderr.trim().split("\n").length, 1, "one line");
      assert.doesNotMatch(r.stdout, /^endpoint:/m);
    });
  } finally {
    busy.close();
  }
});

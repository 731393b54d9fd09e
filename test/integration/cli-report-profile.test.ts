/**
 * `seven report show/verify` wired to the attestation library (a real AMD report from
 * ../shared/vectors), and `seven profile from-btf` wired to the ISF generator.
 */
import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { loadIsfProfileFile } from "../../src/shared/kernel/index.js";
import { FIXTURES, runCli } from "./cli-harness.js";

const V = fileURLToPath(new URL("../../../shared/vectors/", import.meta.url));
const report = join(V, "virtee-sev/report_milan.bin");
const vcek = join(V, "virtee-sev/vcek_milan.der");
const chain = join(V, "virtee-sev/cert_chain_milan");

describe("seven report", () => {
  it("show decodes every field (text and --json)", async () => {
    const t = await runCli(["report", "show", report]);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /VMPL/i);
    const j = await runCli(["report", "show", report, "--json"]);
    const doc = JSON.parse(j.stdout) as { ok: boolean; report: { vmpl: number } };
    assert.equal(doc.ok, true);
    assert.equal(typeof doc.report.vmpl, "number");
  });

  it("verify passes a real Milan report with its VCEK and the built-in AMD root, and fails a wrong measurement naming the check", async () => {
    const base = ["report", "verify", "--report", report, "--vcek", vcek, "--chain", chain, "--at", "2025-06-01T00:00:00Z"];
    const good = await runCli(base);
    assert.equal(good.code, 0, good.stdout + good.stderr);
    assert.match(good.stdout, /^OK: attestation report verified and validated/);
    const bad = await runCli([...base, "--measurement", "00".repeat(48)]);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /MEASUREMENT_MISMATCH +policy\.measurement/);
    const usage = await runCli(["report", "verify", "--report", report]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^seven: give exactly one of --vcek FILE or --vlek FILE\n$/);
  });
});

describe("seven profile from-btf", () => {
  it("writes a loadable ISF profile, and refuses a bad output name in one line", async () => {
    const out = join(await mkdtemp(join(tmpdir(), "seven-prof-")), "k.json.gz");
    const btf = join(FIXTURES, "debian-6.1.0-56-amd64/vmlinux.btf");
    const map = join(FIXTURES, "debian-6.1.0-56-amd64/System.map");
    const r = await runCli(["profile", "from-btf", "--btf", btf, "--system-map", map, "--types", "task_struct,list_head", "--out", out, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { ok: boolean; types: number; symbols: number };
    assert.ok(doc.ok && doc.types > 2 && doc.symbols > 1000);
    const p = await loadIsfProfileFile(out);
    assert.ok(p.hasMember("task_struct", "tasks"));
    const bad = await runCli(["profile", "from-btf", "--btf", btf, "--system-map", map, "--out", join(tmpdir(), "k.txt")]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^seven: output file ".*k\.txt" must end in \.json or \.json\.gz \[BAD_ARGUMENT\]\n$/);
  });
});

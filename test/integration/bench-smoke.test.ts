/**
 * Smoke test of `npm run bench`: a quick run of the loopback baselines finishes and writes
 * a well-formed report. Nothing here judges a figure (no timed assertions).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { reportProblems } from "../../bench/harness/report.js";
import { selectBenchmarks } from "../../bench/harness/runner.js";
import { summarize } from "../../bench/harness/stats.js";
import type { Benchmark } from "../../bench/harness/types.js";

const ROOT = new URL("../../", import.meta.url).pathname;

describe("bench harness", () => {
  it("a quick run of the loopback baselines writes a well-formed report", () => {
    const out = mkdtempSync(join(tmpdir(), "seven-bench-"));
    try {
      const r = spawnSync(process.execPath, ["--import", "tsx", "bench/run.ts", "--quick", "--only", "tls-loopback,tcp-echo", "--json", "--out", out], {
        cwd: ROOT,
        encoding: "utf8",
        timeout: 120_000,
      });
      assert.equal(r.status, 0, r.stderr);
      const report: unknown = JSON.parse(r.stdout);
      assert.deepEqual(reportProblems(report), []);
      const rep = report as { benchmarks: { name: string; status: string }[] };
      assert.deepEqual(rep.benchmarks.map((b) => [b.name, b.status]), [["tls-loopback", "ok"], ["tcp-echo", "ok"]]);
      assert.deepEqual(JSON.parse(readFileSync(join(out, "latest.json"), "utf8")), report);
      assert.match(readFileSync(join(out, "latest.md"), "utf8"), /^# 00SEVen benchmark report/);
      assert.ok(existsSync(join(out, `${(report as { startedAt: string }).startedAt.replace(/\.\d+Z$/, "Z").replace(/:/g, "-")}-quick.json`)));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("rejects unknown benchmark names with exit status 2", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "bench/run.ts", "--only", "no-such-bench"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /no benchmark named no-such-bench/);
  });

  it("reportProblems finds a metric whose samples do not match n and a dangling ratio", () => {
    const m = { id: "a.x", label: "x", unit: "ms", better: "lower", ...summarize([1, 2, 3]), samples: [1, 2] };
    const bad = {
      schema: "00seven-bench/1",
      startedAt: "2026-01-01T00:00:00Z",
      finishedAt: "2026-01-01T00:00:01Z",
      machine: { cpuModel: "x", cores: 1, node: "v20", loadStart: [0, 0, 0], loadEnd: [0, 0, 0] },
      benchmarks: [{ name: "a", status: "ok", metrics: [m], ratios: [] }],
      ratios: [{ id: "r", value: 1, numerator: "a.x", denominator: "b.y" }],
    };
    assert.deepEqual(reportProblems(bad), ["a.x: samples do not match n", "r: refers to a metric not in the report"]);
  });

  it("summarize interpolates percentiles between ranks", () => {
    const s = summarize([5, 1, 4, 2, 3, Number.NaN]);
    assert.equal(s.n, 5);
    assert.equal(s.median, 3);
    assert.equal(s.p10, 1.4);
    assert.equal(s.p90, 4.6);
    assert.equal(s.q1, 2);
    assert.equal(s.q3, 4);
  });

  it("selectBenchmarks adds what the selected ones are compared with, in registry order", () => {
    const b = (name: string, needs?: string[]): Benchmark => ({ name, title: name, ...(needs ? { needs } : {}), run: () => Promise.reject(new Error("not run")) });
    const reg = [b("base"), b("other"), b("dump", ["base"])];
    const s = selectBenchmarks(reg, ["dump"]);
    assert.deepEqual(s.selected.map((x) => x.name), ["base", "dump"]);
    assert.deepEqual(s.added, ["base"]);
    assert.deepEqual(selectBenchmarks(reg, ["nope"]).unknown, ["nope"]);
  });
});

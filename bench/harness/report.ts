/**
 * The report: JSON (everything, with raw samples) and Markdown (tables of medians,
 * spreads and ratios), written under bench/results/ with a timestamped name and as
 * latest.{md,json}. `reportProblems` checks the shape of a JSON report (the CI smoke
 * test uses it; it says nothing about the figures).
 */
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Metric, Ratio, Report } from "./types.js";

/** 3 significant digits, no exponent for everyday magnitudes. */
export function fmt(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return "–";
  const a = Math.abs(x);
  if (a === 0) return "0";
  if (a >= 1000) return Math.round(x).toLocaleString("en-US");
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  if (a >= 0.01) return x.toFixed(3);
  return x.toPrecision(2);
}

function ratioCell(r: Ratio): string {
  return r.spread === undefined ? fmt(r.value) : `${fmt(r.value)} (${fmt(r.spread.p10)}–${fmt(r.spread.p90)})`;
}

function targetCell(r: Ratio): string {
  if (r.target === undefined) return "";
  return `${r.target.op === "<=" ? "≤" : "≥"} ${fmt(r.target.value)} ${r.met ? "✅ met" : "❌ missed"}`;
}

function metricRow(m: Metric): string {
  return `| ${m.label} | ${fmt(m.median)} | ${fmt(m.p10)} | ${fmt(m.p90)} | ${fmt(m.p99)} | ${m.n} | ${m.unit} (${m.better} is better) |`;
}

export function renderMarkdown(r: Report): string {
  const m = r.machine;
  const out: string[] = [];
  out.push(`# 00SEVen benchmark report`, "");
  out.push(`Run ${r.startedAt} → ${r.finishedAt} (${(r.ms / 1000).toFixed(1)} s)${r.options.quick ? ", **quick** (small n: a smoke run, not figures to quote)" : ""}${r.options.only ? `, only ${r.options.only.join(", ")}` : ""}.`, "");
  out.push("| machine | |", "|---|---|");
  out.push(`| CPU | ${m.cpuModel} × ${m.cores} cores${m.cpuMHz ? ` @ ${m.cpuMHz} MHz` : ""} |`);
  out.push(`| memory | ${m.memoryGiB} GiB (${m.freeMemoryGiB} GiB free at start) |`);
  out.push(`| OS | ${m.platform} ${m.arch} ${m.kernel} |`);
  out.push(`| Node | ${m.node} (V8 ${m.v8}, OpenSSL ${m.openssl}) |`);
  out.push(`| load average (1/5/15 min) | start ${m.loadStart.join(" / ")}, end ${m.loadEnd.join(" / ")} |`);
  out.push(`| commit | ${m.commit ?? "unknown"}${m.dirty ? " (with uncommitted changes)" : ""} |`, "");

  if (r.ratios.length > 0) {
    out.push("## Ratios", "", "Median of paired ratios (p10–p90 of the pairs) where both sides were sampled alternately, else the ratio of the medians.", "");
    out.push("| benchmark | ratio | value | target |", "|---|---|---|---|");
    for (const x of r.ratios) out.push(`| ${x.benchmark} | ${x.label} | ${ratioCell(x)} | ${targetCell(x)} |`);
    out.push("");
  }

  for (const b of r.benchmarks) {
    out.push(`## ${b.title} (\`${b.name}\`)`, "");
    if (b.status !== "ok") {
      out.push(`**${b.status}**: ${b.reason ?? ""}`, "");
      if (b.metrics.length === 0) continue;
    }
    const params = Object.entries(b.params);
    if (params.length > 0) out.push(params.map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v, jsonReplacer)}`).join("; ") + ".", "");
    if (b.metrics.length > 0) {
      out.push("| measurement | median | p10 | p90 | p99 | n | unit |", "|---|---:|---:|---:|---:|---:|---|");
      for (const x of b.metrics) out.push(metricRow(x));
      out.push("");
    }
    if (b.ratios.length > 0) {
      out.push("| ratio | value | target |", "|---|---|---|");
      for (const x of b.ratios) out.push(`| ${x.label} | ${ratioCell(x)} | ${targetCell(x)} |`);
      out.push("");
    }
    for (const n of b.notes) out.push(`- ${n}`);
    if (b.notes.length > 0) out.push("");
  }
  return out.join("\n");
}

export function jsonReplacer(_k: string, v: unknown): unknown {
  return typeof v === "bigint" ? v.toString() : v;
}

export function renderJson(r: Report): string {
  return JSON.stringify(r, jsonReplacer, 2) + "\n";
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/** Writes DIR/<stamp>.{md,json} and DIR/latest.{md,json}; returns the stamped paths. */
export async function writeReport(dir: string, r: Report): Promise<{ md: string; json: string }> {
  await mkdir(dir, { recursive: true });
  const stamp = r.startedAt.replace(/\.\d+Z$/, "Z").replace(/:/g, "-") + (r.options.quick ? "-quick" : "");
  const md = renderMarkdown(r);
  const json = renderJson(r);
  const paths = { md: join(dir, `${stamp}.md`), json: join(dir, `${stamp}.json`) };
  await writeAtomic(paths.md, md);
  await writeAtomic(paths.json, json);
  await writeAtomic(join(dir, "latest.md"), md);
  await writeAtomic(join(dir, "latest.json"), json);
  return paths;
}

// ---- shape check (for the smoke test) ---------------------------------------------------

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
const isNum = (x: unknown): x is number => typeof x === "number";

/** Everything wrong with the shape of a JSON report (empty: well-formed). Figures are not judged. */
export function reportProblems(x: unknown): string[] {
  const p: string[] = [];
  if (!isObj(x)) return ["the report is not an object"];
  if (x.schema !== "00seven-bench/1") p.push(`schema is ${JSON.stringify(x.schema)}`);
  for (const k of ["startedAt", "finishedAt"]) if (typeof x[k] !== "string" || Number.isNaN(Date.parse(x[k] as string))) p.push(`${k} is not a date`);
  const m = x.machine;
  if (!isObj(m)) p.push("no machine record");
  else {
    if (typeof m.cpuModel !== "string") p.push("machine.cpuModel missing");
    if (!isNum(m.cores) || m.cores < 1) p.push("machine.cores missing");
    if (typeof m.node !== "string" || !m.node.startsWith("v")) p.push("machine.node missing");
    for (const k of ["loadStart", "loadEnd"]) if (!Array.isArray(m[k]) || (m[k] as unknown[]).length !== 3 || !(m[k] as unknown[]).every(isNum)) p.push(`machine.${k} is not three numbers`);
  }
  if (!Array.isArray(x.benchmarks)) return [...p, "benchmarks is not an array"];
  const ids = new Set<string>();
  for (const b of x.benchmarks as unknown[]) {
    if (!isObj(b) || typeof b.name !== "string") {
      p.push("a benchmark without a name");
      continue;
    }
    if (!["ok", "skipped", "error"].includes(b.status as string)) p.push(`${b.name}: bad status`);
    if (!Array.isArray(b.metrics) || !Array.isArray(b.ratios)) {
      p.push(`${b.name}: metrics/ratios missing`);
      continue;
    }
    for (const mm of b.metrics as unknown[]) {
      if (!isObj(mm) || typeof mm.id !== "string") {
        p.push(`${b.name}: a metric without an id`);
        continue;
      }
      ids.add(mm.id);
      for (const k of ["median", "p10", "p90", "p99", "q1", "q3", "n"]) if (!isNum(mm[k])) p.push(`${mm.id}: ${k} is not a number`);
      if (!Array.isArray(mm.samples) || mm.samples.length !== mm.n) p.push(`${mm.id}: samples do not match n`);
      if (typeof mm.unit !== "string") p.push(`${mm.id}: no unit`);
    }
  }
  if (!Array.isArray(x.ratios)) p.push("ratios is not an array");
  else
    for (const r of x.ratios as unknown[]) {
      if (!isObj(r) || typeof r.id !== "string" || !isNum(r.value)) {
        p.push("a ratio without id or value");
        continue;
      }
      if (!ids.has(r.numerator as string) || !ids.has(r.denominator as string)) p.push(`${r.id}: refers to a metric not in the report`);
    }
  return p;
}

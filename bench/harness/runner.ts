/**
 * Runs the selected benchmarks in one process, one after another (never concurrently:
 * they would measure each other), with the benchmarks they divide by first, and builds
 * the report.
 */
import { performance } from "node:perf_hooks";
import { finishMachineRecord, recordMachine } from "./machine.js";
import type { Progress } from "./progress.js";
import { BenchSkip, type BenchContext, type BenchResult, type Benchmark, type Metric, type Report } from "./types.js";

export interface RunOptions {
  readonly quick: boolean;
  /** Names asked for (null: all). */
  readonly only: readonly string[] | null;
  readonly argv: readonly string[];
  readonly progress: Progress;
}

/** The benchmarks to run, in registry order: those asked for plus what they need. */
export function selectBenchmarks(registry: readonly Benchmark[], only: readonly string[] | null): { selected: Benchmark[]; added: string[]; unknown: string[] } {
  if (only === null) return { selected: [...registry], added: [], unknown: [] };
  const unknown = only.filter((n) => !registry.some((b) => b.name === n));
  const want = new Set(only);
  const added: string[] = [];
  let grew = true;
  while (grew) {
    grew = false;
    for (const b of registry) {
      if (!want.has(b.name)) continue;
      for (const d of b.needs ?? []) {
        if (want.has(d)) continue;
        want.add(d);
        added.push(d);
        grew = true;
      }
    }
  }
  return { selected: registry.filter((b) => want.has(b.name)), added, unknown };
}

export async function runBenchmarks(list: readonly Benchmark[], opts: RunOptions): Promise<Report> {
  const startedAt = new Date();
  const t0 = performance.now();
  const machine = recordMachine();
  const metrics = new Map<string, Metric>();
  const resources = new Map<string, { value: Promise<unknown>; close: () => Promise<void> }>();
  const ctx: BenchContext = {
    quick: opts.quick,
    progress: opts.progress,
    metric: (id) => metrics.get(id),
    shared<T>(key: string, open: () => Promise<T>, close: (t: T) => Promise<void>): Promise<T> {
      let r = resources.get(key);
      if (r === undefined) {
        const value = open();
        r = { value, close: async () => close(await value) };
        resources.set(key, r);
      }
      return r.value as Promise<T>;
    },
  };
  const results: BenchResult[] = [];
  try {
    for (const [i, b] of list.entries()) {
      opts.progress.section(i + 1, list.length, b.name, b.title);
      const t = performance.now();
      try {
        const out = await b.run(ctx);
        for (const m of out.metrics) metrics.set(m.id, m);
        results.push({ name: b.name, title: b.title, status: "ok", ms: performance.now() - t, ...out });
        opts.progress.line(`  ${b.name}: done in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      } catch (e) {
        const skipped = e instanceof BenchSkip;
        const reason = e instanceof Error ? e.message : String(e);
        if (!skipped) opts.progress.line(`  ${b.name}: FAILED: ${e instanceof Error ? (e.stack ?? reason) : reason}`);
        else opts.progress.line(`  ${b.name}: skipped: ${reason}`);
        results.push({ name: b.name, title: b.title, status: skipped ? "skipped" : "error", reason, ms: performance.now() - t, metrics: [], ratios: [], params: {}, notes: [] });
      }
    }
  } finally {
    for (const r of [...resources.values()].reverse()) await r.close().catch(() => undefined);
  }
  finishMachineRecord(machine);
  return {
    schema: "00seven-bench/1",
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    ms: performance.now() - t0,
    options: { quick: opts.quick, only: opts.only, argv: opts.argv },
    machine,
    benchmarks: results,
    ratios: results.flatMap((b) => b.ratios.map((r) => ({ ...r, benchmark: b.name }))),
  };
}

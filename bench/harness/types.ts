/**
 * What a benchmark is and what it yields. A benchmark measures one thing (or a few
 * side by side) and returns metrics (samples with their summary) and ratios between
 * metrics measured in the same run. Figures from different runs are never compared.
 */
import type { MachineRecord } from "./machine.js";
import type { Progress } from "./progress.js";
import type { Summary } from "./stats.js";

export type Better = "lower" | "higher";

export interface Metric extends Summary {
  /** Unique in the run, "<benchmark>.<what>", e.g. "tls-loopback.throughput". */
  readonly id: string;
  readonly label: string;
  readonly unit: string;
  readonly better: Better;
  /** The raw samples, in the order taken. */
  readonly samples: readonly number[];
}

export interface Target {
  readonly op: "<=" | ">=";
  readonly value: number;
}

export interface Ratio {
  readonly id: string;
  readonly label: string;
  /** The figure: median of the paired ratios when paired, else ratio of the medians. */
  readonly value: number;
  readonly method: "paired" | "medians";
  /** Spread of the paired ratios (absent for a ratio of medians). */
  readonly spread?: { readonly p10: number; readonly p90: number; readonly n: number };
  readonly numerator: string;
  readonly denominator: string;
  readonly target?: Target;
  readonly met?: boolean;
}

export interface BenchOutput {
  readonly metrics: readonly Metric[];
  readonly ratios: readonly Ratio[];
  /** What was measured with what: sizes, counts, sample sizes, configuration. */
  readonly params: Readonly<Record<string, unknown>>;
  readonly notes: readonly string[];
}

export interface BenchResult extends BenchOutput {
  readonly name: string;
  readonly title: string;
  readonly status: "ok" | "skipped" | "error";
  /** Why it was skipped or failed. */
  readonly reason?: string;
  readonly ms: number;
}

export interface BenchContext {
  readonly quick: boolean;
  readonly progress: Progress;
  /** A metric of a benchmark that already ran in this run (see Benchmark.needs). */
  metric(id: string): Metric | undefined;
  /** A resource shared by benchmarks of this run (a peer process, a world), opened once, closed at the end. */
  shared<T>(key: string, open: () => Promise<T>, close: (t: T) => Promise<void>): Promise<T>;
}

export interface Benchmark {
  readonly name: string;
  readonly title: string;
  /** Benchmarks whose figures this one divides by; they run first, in the same run. */
  readonly needs?: readonly string[];
  run(ctx: BenchContext): Promise<BenchOutput>;
}

/** Thrown by a benchmark that cannot run here (missing fixtures, a world not built yet). */
export class BenchSkip extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "BenchSkip";
  }
}

export interface Report {
  readonly schema: "00seven-bench/1";
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly ms: number;
  readonly options: { readonly quick: boolean; readonly only: readonly string[] | null; readonly argv: readonly string[] };
  readonly machine: MachineRecord;
  readonly benchmarks: readonly BenchResult[];
  /** Every ratio of the run, with its target where there is one. */
  readonly ratios: readonly (Ratio & { readonly benchmark: string })[];
}

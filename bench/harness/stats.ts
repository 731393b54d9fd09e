/**
 * Order statistics of a sample: median, p10/p90, p99, quartiles. Percentiles interpolate
 * linearly between closest ranks (the "R-7" definition, as numpy and spreadsheets do), so
 * a small n still gives a defined spread; n is always reported with them.
 */

export interface Summary {
  readonly n: number;
  readonly median: number;
  readonly p10: number;
  readonly p90: number;
  readonly p99: number;
  readonly q1: number;
  readonly q3: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
}

/** The q-quantile (0 ≤ q ≤ 1) of an ascending array. */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const h = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (h - lo);
}

export function summarize(samples: readonly number[]): Summary {
  const s = samples.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const q = (p: number): number => quantileSorted(s, p);
  return {
    n: s.length,
    median: q(0.5),
    p10: q(0.1),
    p90: q(0.9),
    p99: q(0.99),
    q1: q(0.25),
    q3: q(0.75),
    min: s.length > 0 ? s[0]! : Number.NaN,
    max: s.length > 0 ? s[s.length - 1]! : Number.NaN,
    mean: s.length > 0 ? s.reduce((a, b) => a + b, 0) / s.length : Number.NaN,
  };
}

/** Element-wise ratios of two paired samples (a[i] / b[i]), for ratios measured side by side. */
export function pairedRatios(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.min(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(a[i]! / b[i]!);
  return out;
}

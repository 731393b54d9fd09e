/**
 * Building metrics and ratios, and the sampling loops every benchmark uses.
 */
import { performance } from "node:perf_hooks";
import { pairedRatios, summarize } from "./stats.js";
import type { Better, Metric, Ratio, Target } from "./types.js";

export function metric(id: string, label: string, unit: string, better: Better, samples: readonly number[]): Metric {
  return { id, label, unit, better, ...summarize(samples), samples: [...samples] };
}

function judged(target: Target | undefined, value: number): { target?: Target; met?: boolean } {
  if (target === undefined) return {};
  return { target, met: target.op === "<=" ? value <= target.value : value >= target.value };
}

/** num/den from samples taken in alternation (pair i = num[i] next to den[i]): median and spread of the pairs. */
export function pairedRatio(id: string, label: string, num: Metric, den: Metric, target?: Target): Ratio {
  const s = summarize(pairedRatios(num.samples, den.samples));
  return {
    id,
    label,
    value: s.median,
    method: "paired",
    spread: { p10: s.p10, p90: s.p90, n: s.n },
    numerator: num.id,
    denominator: den.id,
    ...judged(target, s.median),
  };
}

/** median(num) / median(den), for figures not taken in pairs. */
export function medianRatio(id: string, label: string, num: Metric, den: Metric, target?: Target, field: "median" | "p99" = "median"): Ratio {
  const value = num[field] / den[field];
  return { id, label, value, method: "medians", numerator: num.id, denominator: den.id, ...judged(target, value) };
}

/** Runs fn n times after `warmup` unmeasured runs; returns milliseconds per run. */
export async function sampleMs(n: number, warmup: number, fn: (i: number) => Promise<unknown> | unknown, onSample?: (i: number, ms: number) => void): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn(-1 - i);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    const ms = performance.now() - t;
    out.push(ms);
    onSample?.(i, ms);
  }
  return out;
}

/**
 * Runs a and b alternately (a, b, b, a, a, b, …: the order flips every pair so that drift
 * in the machine's load does not favour either side); returns both sample lists, paired.
 */
export async function sampleAlternating(
  n: number,
  warmup: number,
  a: () => Promise<unknown>,
  b: () => Promise<unknown>,
  onPair?: (i: number, aMs: number, bMs: number) => void,
): Promise<{ a: number[]; b: number[] }> {
  for (let i = 0; i < warmup; i++) {
    await a();
    await b();
  }
  const as: number[] = [];
  const bs: number[] = [];
  const time = async (f: () => Promise<unknown>): Promise<number> => {
    const t = performance.now();
    await f();
    return performance.now() - t;
  };
  for (let i = 0; i < n; i++) {
    let ta: number;
    let tb: number;
    if (i % 2 === 0) {
      ta = await time(a);
      tb = await time(b);
    } else {
      tb = await time(b);
      ta = await time(a);
    }
    as.push(ta);
    bs.push(tb);
    onPair?.(i, ta, tb);
  }
  return { a: as, b: bs };
}

export const MB = 1e6;
export const MiB = 2 ** 20;

/** MB/s (10^6 bytes per second) from bytes and milliseconds. */
export function mbPerSec(bytes: number, ms: number): number {
  return bytes / MB / (ms / 1000);
}

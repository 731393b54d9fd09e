/**
 * The worlds the live benchmarks share: a SEV-SNP world (agent with v0 allowed, so the
 * prototype's protocol can be timed on the same guest) and its non-confidential twin
 * (same seed, memory, vCPUs and process count). Both are frozen between measurements;
 * `exclusive` thaws one for the duration of a measurement.
 */
import type { BenchContext } from "../harness/types.js";
import { startWorld, type WorldHandle, type WorldSpec } from "../peers/world.js";

export const DEFAULT_WORLD = { memoryMiB: 256, vcpus: 2, processes: 100, seed: "00SEVen-bench" } as const;

function shared(ctx: BenchContext, key: string, spec: WorldSpec): Promise<WorldHandle> {
  return ctx.shared(
    key,
    async () => {
      ctx.progress.step(`starting the ${spec.sev ? "SEV-SNP" : "non-confidential"} world (${spec.memoryMiB} MiB, ${spec.processes} processes)`);
      const w = await startWorld(spec);
      w.freeze();
      return w;
    },
    (w) => w.close(),
  );
}

export function secureWorld(ctx: BenchContext): Promise<WorldHandle> {
  return shared(ctx, "world:sev", { ...DEFAULT_WORLD, sev: true, legacyV0: true });
}

export function plainWorld(ctx: BenchContext): Promise<WorldHandle> {
  return shared(ctx, "world:plain", { ...DEFAULT_WORLD, sev: false });
}

/** Runs fn with `w` thawed (and frozen again after). */
export async function exclusive<T>(w: WorldHandle, fn: () => Promise<T>): Promise<T> {
  w.thaw();
  try {
    return await fn();
  } finally {
    w.freeze();
  }
}

/** A world of its own for one benchmark, started thawed; the caller closes it. */
export async function ownWorld(ctx: BenchContext, spec: WorldSpec): Promise<WorldHandle> {
  ctx.progress.step(`starting a ${spec.sev ? "SEV-SNP" : "non-confidential"} world (${spec.memoryMiB ?? DEFAULT_WORLD.memoryMiB} MiB, ${spec.processes ?? DEFAULT_WORLD.processes} processes)`);
  return startWorld({ ...DEFAULT_WORLD, ...spec });
}

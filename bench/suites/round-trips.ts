/**
 * (2) The round-trip design: the same policy suite over the same attested agent, through
 *   v1 — pipelined requests, scatter-gather batches, page walks in the agent, all
 *        registers in one message;
 *   v0 — the prototype's protocol and access pattern: one 4 KiB page per round trip, one
 *        register per round trip, page walks on the client (bench/drivers/v0-driver.ts);
 *   v0 pattern over v1 — the same one-page/one-register pattern imposed on the v1 session
 *        (bench/drivers/page-by-page.ts): the access pattern without the protocol change.
 * Sampled in rotation on one world. Ratio: v0 / v1 time (how many times faster v1 is).
 */
import type { Driver } from "../../src/client/index.js";
import { PageByPageDriver } from "../drivers/page-by-page.js";
import type { V0Driver } from "../drivers/v0-driver.js";
import { metric, pairedRatio } from "../harness/measure.js";
import type { Benchmark } from "../harness/types.js";
import { connectSecure, connectV0 } from "../peers/world.js";
import { PolicySuite, type SuiteRun } from "./policy-suite.js";
import { exclusive, secureWorld } from "./worlds.js";

interface Side {
  readonly key: "v1" | "v0" | "pattern";
  readonly suite: PolicySuite;
  readonly trips: () => number;
  readonly runs: SuiteRun[];
  readonly tripsPerRun: number[];
}

export const roundTrips: Benchmark = {
  name: "round-trips",
  title: "Round-trip design: v1 (pipelined, batched, agent-side walks) vs the prototype's v0 pattern",
  async run(ctx) {
    const w = await secureWorld(ctx);
    const n = ctx.quick ? 1 : 5;
    return exclusive(w, async () => {
      const v1 = await connectSecure(w);
      const v0: V0Driver = await connectV0(w);
      const inner = await connectSecure(w);
      const pattern = new PageByPageDriver(inner);
      const drivers: Driver[] = [v1, v0, pattern];
      try {
        const side = async (key: Side["key"], d: Driver, trips: () => number): Promise<Side> => ({ key, suite: await PolicySuite.open(d), trips, runs: [], tripsPerRun: [] });
        const sides = [await side("v1", v1, () => v1.stats.requests), await side("v0", v0, () => v0.roundTrips), await side("pattern", pattern, () => pattern.roundTrips)];
        for (const s of sides) {
          ctx.progress.step(`warm-up ${s.key}`);
          await s.suite.run();
        }
        for (let i = 0; i < n; i++) {
          const order = [...sides.slice(i % 3), ...sides.slice(0, i % 3)];
          for (const s of order) {
            ctx.progress.step(`round ${i + 1}/${n}: ${s.key}`);
            const t0 = s.trips();
            s.runs.push(await s.suite.run());
            s.tripsPerRun.push(s.trips() - t0);
          }
        }
        const [m1, m0, mp] = sides.map((s) =>
          metric(`round-trips.${s.key}`, { v1: "suite over v1", v0: "suite over v0 (prototype protocol and pattern)", pattern: "suite, v0 pattern over the v1 session" }[s.key], "ms", "lower", s.runs.map((r) => r.ms)),
        ) as [ReturnType<typeof metric>, ReturnType<typeof metric>, ReturnType<typeof metric>];
        const trips = sides.map((s) =>
          metric(`round-trips.${s.key}.requests`, `  requests per suite, ${s.key}`, "requests", "lower", s.tripsPerRun),
        );
        const kt = (r: SuiteRun) => r.checks.find((c) => c.check === "kernel-text")?.ms ?? Number.NaN;
        const parts = sides.flatMap((s) => [
          metric(`round-trips.${s.key}.ps`, `  ps, ${s.key}`, "ms", "lower", s.runs.map((r) => r.psMs)),
          metric(`round-trips.${s.key}.kernel-text`, `  check kernel-text (bulk read of the kernel text), ${s.key}`, "ms", "lower", s.runs.map(kt)),
          metric(`round-trips.${s.key}.other-checks`, `  the other checks, ${s.key}`, "ms", "lower", s.runs.map((r) => r.checksMs - kt(r))),
        ]);
        return {
          metrics: [m1, m0, mp, ...trips, ...parts],
          ratios: [
            pairedRatio("round-trips.v0-over-v1", "v0 / v1 (times faster with v1)", m0, m1, { op: ">=", value: 5 }),
            pairedRatio("round-trips.pattern-over-v1", "v0 pattern over v1 / v1", mp, m1),
          ],
          params: { samples: n, world: "the shared SEV-SNP world (v0 allowed in its measured configuration)" },
          notes: [
            "Each suite: pause, ps, lsmod, all checks, resume, on a Vmi whose cache holds pages while the guest is paused (for every driver alike); the prototype's own 512-page cache is not modelled on top.",
            "v0 has no LSTAR/STAR in its register set, so the syscall-MSR check has less to compare there; everything else is the same code.",
          ],
        };
      } finally {
        for (const d of drivers) await d.close().catch(() => undefined);
      }
    });
  },
};

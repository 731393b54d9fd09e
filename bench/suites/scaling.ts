/**
 * (5) Scaling through the 00SEVen path: `ps` (paused guest, cold cache) for 100, 1 000 and
 * 10 000 processes (1 GiB guests, so that only the process count differs), and the time
 * to dump 256 MiB, 512 MiB and 1 GiB guests (256 MiB and 1 GiB from the dump benchmark of
 * this run). Growth factors are ratios of medians; linear growth is 10× per process step
 * and 2× / 2× per memory step.
 */
import { ALL_REQUIREMENTS, Vmi, openLinux, ps, runPlugin } from "../../src/client/index.js";
import { metric, medianRatio, sampleMs } from "../harness/measure.js";
import type { Benchmark, Metric, Ratio } from "../harness/types.js";
import { connectSecure } from "../peers/world.js";
import { dumpOnce } from "./dump.js";
import { benchProfile } from "./policy-suite.js";
import { ownWorld } from "./worlds.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const scaling: Benchmark = {
  name: "scaling",
  title: "Scaling: ps for 100 / 1 000 / 10 000 processes, dump of 256 MiB / 512 MiB / 1 GiB",
  needs: ["dump"],
  async run(ctx) {
    const counts = ctx.quick ? [100, 1000] : [100, 1000, 10000];
    const memoryMiB = ctx.quick ? 256 : 1024;
    const n = ctx.quick ? 2 : 7;
    const metrics: Metric[] = [];
    const ratios: Ratio[] = [];
    const rows: number[] = [];
    for (const count of counts) {
      const w = await ownWorld(ctx, { sev: true, memoryMiB, processes: count });
      try {
        const d = await connectSecure(w);
        try {
          const vmi = await Vmi.open(d);
          const profile = await benchProfile();
          await vmi.pause();
          const location = (await openLinux(vmi, profile, { requirements: ALL_REQUIREMENTS })).location;
          await vmi.resume();
          let seen = 0;
          const s = await sampleMs(n, 1, async (i) => {
            ctx.progress.step(`ps, ${count} processes: ${i < 0 ? "warm-up" : `${i + 1}/${n}`}`);
            await vmi.pause();
            try {
              const k = await openLinux(vmi, profile, { requirements: ALL_REQUIREMENTS, location });
              seen = (await runPlugin(ps, k, {})).rows.length;
            } finally {
              await vmi.resume();
            }
          });
          rows.push(seen);
          metrics.push(metric(`scaling.ps.${count}`, `ps, ${count} processes (${seen} rows), paused, cold cache`, "ms", "lower", s));
        } finally {
          await d.close();
        }
      } finally {
        await w.close();
      }
    }
    const psm = (c: number) => metrics.find((m) => m.id === `scaling.ps.${c}`)!;
    for (let i = 1; i < counts.length; i++) {
      ratios.push(medianRatio(`scaling.ps.${counts[i]}-over-${counts[i - 1]}`, `ps growth ${counts[i - 1]} → ${counts[i]} processes (×${counts[i]! / counts[i - 1]!} processes)`, psm(counts[i]!), psm(counts[i - 1]!)));
    }

    // Dump time: 256 MiB and 1 GiB come from `dump`; 512 MiB is measured here.
    const d256 = ctx.metric("dump.256.seconds");
    const d1024 = ctx.metric("dump.1024.seconds");
    if (!ctx.quick) {
      const dir = mkdtempSync(join(tmpdir(), "seven-bench-scaling-"));
      const w = await ownWorld(ctx, { sev: true, memoryMiB: 512 });
      try {
        const d = await connectSecure(w);
        const secs: number[] = [];
        for (let i = 0; i < 2; i++) secs.push((await dumpOnce(ctx, d, dir, `512 MiB dump ${i + 1}/2`)).ms / 1000);
        await d.close();
        const d512 = metric("scaling.dump.512.seconds", "dump 512 MiB: time", "s", "lower", secs);
        metrics.push(d512);
        if (d256) ratios.push(medianRatio("scaling.dump.512-over-256", "dump time growth 256 → 512 MiB (×2 memory)", d512, d256));
        if (d1024) ratios.push(medianRatio("scaling.dump.1024-over-512", "dump time growth 512 MiB → 1 GiB (×2 memory)", d1024, d512));
      } finally {
        await w.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }
    return {
      metrics,
      ratios,
      params: { processCounts: counts, psRows: rows, guestMemoryMiB: memoryMiB, samples: n },
      notes: ["ps samples each pause the guest, attach with the known kernel location on a cold cache, list, resume. The 512 MiB dump uses the same code and settings as the dump benchmark."],
    };
  },
};

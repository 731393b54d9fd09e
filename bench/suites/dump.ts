/**
 * (3) Memory acquisition through the 00SEVen path: `seven dump`'s code (dumpMemory, raw
 * format, 8 MiB chunks, the agent's own region excluded, the guest paused) of a 256 MiB
 * and a 1 GiB guest, in MB/s of guest memory, each sample paired with a raw TLS 1.3
 * transfer of the same size between two Node processes (the practical limit on this
 * machine; the world is frozen meanwhile). The 256 MiB guest is also dumped through the
 * non-confidential baseline for reference.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dumpMemory, type AgentV1Driver } from "../../src/client/index.js";
import { MB, MiB, mbPerSec, metric, pairedRatio } from "../harness/measure.js";
import type { BenchContext, Benchmark, Metric, Ratio } from "../harness/types.js";
import { tlsStreamClient } from "../peers/loopback.js";
import { connectPlain, connectSecure, type WorldHandle } from "../peers/world.js";
import { loopbackPeer } from "./loopback.js";
import { exclusive, ownWorld, plainWorld, secureWorld } from "./worlds.js";

const CHUNK = 8 << 20;

/** One dump of the whole guest through `d` into DIR/dump.raw; MB/s of guest memory and the bytes. */
export async function dumpOnce(ctx: BenchContext, d: AgentV1Driver, dir: string, label: string): Promise<{ mbps: number; bytes: number; ms: number }> {
  const out = join(dir, "dump.raw");
  rmSync(out, { force: true });
  await d.pauseVcpus();
  try {
    const r = await dumpMemory(d, {
      out,
      format: "raw",
      source: `bench ${label}`,
      ...(d.name === "agent" ? { exclude: [d.agentRegion] } : {}),
      chunkSize: CHUNK,
      onProgress: (p) => ctx.progress.step(`${label}: ${(Number(p.done) / MiB).toFixed(0)}/${(Number(p.total) / MiB).toFixed(0)} MiB`),
    });
    return { mbps: mbPerSec(Number(r.readBytes), r.ms), bytes: Number(r.readBytes), ms: r.ms };
  } finally {
    await d.resumeVcpus();
    rmSync(out, { force: true });
  }
}

/** n dumps of world `w`, each paired with a raw TLS transfer of the same size (world frozen). */
async function pairedDumps(ctx: BenchContext, w: WorldHandle, n: number, tag: string, dir: string): Promise<{ dump: number[]; seconds: number[]; tls: number[]; bytes: number }> {
  const tls = await tlsStreamClient(await loopbackPeer(ctx));
  const d = await exclusive(w, () => connectSecure(w));
  const dump: number[] = [], raw: number[] = [], seconds: number[] = [];
  let bytes = 0;
  try {
    for (let i = 0; i < n; i++) {
      const r = await exclusive(w, () => dumpOnce(ctx, d, dir, `${tag} dump ${i + 1}/${n}`));
      bytes = r.bytes;
      dump.push(r.mbps);
      seconds.push(r.ms / 1000);
      ctx.progress.step(`${tag}: raw TLS ${(bytes / MiB).toFixed(0)} MiB`);
      raw.push(mbPerSec(bytes, await tls.receive(bytes)));
    }
  } finally {
    await exclusive(w, () => d.close());
    tls.close();
  }
  return { dump, seconds, tls: raw, bytes };
}

export const dump: Benchmark = {
  name: "dump",
  title: "Memory acquisition: dump MB/s through the 00SEVen path vs raw loopback TLS 1.3",
  needs: ["tls-loopback"],
  async run(ctx) {
    const dir = mkdtempSync(join(tmpdir(), "seven-bench-dump-"));
    const metrics: Metric[] = [];
    const ratios: Ratio[] = [];
    const notes: string[] = [];
    try {
      const sizes = ctx.quick ? [256] : [256, 1024];
      for (const mib of sizes) {
        const n = ctx.quick ? 1 : mib >= 1024 ? 2 : 3;
        const w = mib === 256 ? await secureWorld(ctx) : await ownWorld(ctx, { sev: true, memoryMiB: mib });
        if (mib !== 256) w.freeze();
        try {
          const r = await pairedDumps(ctx, w, n, `${mib} MiB`, dir);
          const md = metric(`dump.${mib}.secure`, `dump ${mib} MiB guest (${(r.bytes / MB).toFixed(0)} MB read), 00SEVen path`, "MB/s", "higher", r.dump);
          const mt = metric(`dump.${mib}.tls`, `  raw TLS 1.3 loopback, same size, paired`, "MB/s", "higher", r.tls);
          const mtime = metric(`dump.${mib}.seconds`, `  dump ${mib} MiB: time`, "s", "lower", r.seconds);
          metrics.push(md, mt, mtime);
          ratios.push(pairedRatio(`dump.${mib}.secure-over-tls`, `dump ${mib} MiB / raw loopback TLS`, md, mt, { op: ">=", value: 0.5 }));
        } finally {
          if (mib !== 256) await w.close();
        }
      }
      // Reference: the same 256 MiB dump through the baseline.
      const p = await plainWorld(ctx);
      const dp = await exclusive(p, () => connectPlain(p));
      const base: number[] = [];
      try {
        for (let i = 0; i < (ctx.quick ? 1 : 3); i++) base.push((await exclusive(p, () => dumpOnce(ctx, dp, dir, `256 MiB baseline dump ${i + 1}`))).mbps);
      } finally {
        await exclusive(p, () => dp.close());
      }
      const mb = metric("dump.256.baseline", "dump 256 MiB guest, non-confidential baseline (reference)", "MB/s", "higher", base);
      metrics.push(mb);
      const ms = metrics.find((m) => m.id === "dump.256.secure")!;
      ratios.push({ id: "dump.256.secure-over-baseline", label: "dump 256 MiB: secure / baseline (MB/s)", value: ms.median / mb.median, method: "medians", numerator: ms.id, denominator: mb.id });
      notes.push(
        "MB/s are 10^6 bytes of guest memory per second, the agent's own region excluded; the dump is seven dump's code (dumpMemory, raw format, 8 MiB chunks) writing to a file in the OS temp directory, with the guest paused.",
        "Each dump sample is followed by a raw TLS 1.3 transfer of the same byte count between this process and a second Node process (world frozen meanwhile): the ratio is per pair.",
      );
      return { metrics, ratios, params: { sizesMiB: sizes, chunkBytes: CHUNK }, notes };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

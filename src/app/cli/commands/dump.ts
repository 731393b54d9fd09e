/**
 * `seven dump --out FILE [--format lime|elf|raw]`: all guest memory outside the agent's own
 * region, read in large pipelined batches, with a progress bar. Interrupted (Ctrl-C, a lost
 * session) it leaves FILE.partial and FILE.journal and fails saying so; `--resume` continues.
 * The LiME and ELF files load in this toolkit's image driver (and in Volatility).
 */
import type { Command } from "commander";
import { dumpMemory, type DumpFormat } from "../../../client/index.js";
import { CliUsageError } from "../errors.js";
import { parseCount } from "../owner/address.js";
import { withTarget } from "../owner/linux-target.js";
import { mib, out, outJson } from "../owner/print.js";
import { progressBar } from "../owner/progress.js";
import { addTargetOptions, type TargetFlags } from "../owner/target.js";

type Flags = TargetFlags & { out: string; format: string; resume?: boolean; pause?: boolean; chunk?: string; json?: boolean; progress?: boolean };

export function register(program: Command): void {
  const cmd = program
    .command("dump")
    .description("acquire guest memory into a LiME, ELF core or raw file (resumable)")
    .requiredOption("--out <file>", "output file")
    .option("--format <format>", "lime, elf or raw", "lime")
    .option("--resume", "continue an interrupted dump (FILE.partial + FILE.journal)")
    .option("--pause", "pause a live guest during the dump (a consistent image)")
    .option("--chunk <mib>", "MiB per read (split by the agent's limits and pipelined)", "4")
    .option("--no-progress", "no progress bar")
    .option("--json", "machine-readable output");
  addTargetOptions(cmd, "any").action(async (o: Flags) => {
    if (!["lime", "elf", "raw"].includes(o.format)) throw new CliUsageError(`dump: --format must be lime, elf or raw, not ${JSON.stringify(o.format)}`);
    const chunk = parseCount(o.chunk ?? "4", "--chunk", 1, 256) << 20;
    await withTarget(o, "any", "dump", async (t) => {
      const ac = new AbortController();
      const onSignal = (): void => ac.abort();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      const bar = progressBar("dump", "MiB", o.progress !== false && !o.json);
      // The tools' pause: this session's own, and a pause already in force (seven pause) is left alone.
      const paused = o.pause === true && t.live !== undefined;
      if (paused) await t.live!.pause();
      try {
        const r = await dumpMemory(t.driver, {
          out: o.out,
          format: o.format as DumpFormat,
          source: t.source,
          ...(t.agent ? { exclude: [t.agent.agentRegion] } : {}),
          resume: o.resume === true,
          chunkSize: chunk,
          signal: ac.signal,
          onProgress: (p) => bar.update(Number(p.done), Number(p.total)),
        });
        bar.stop();
        const mbps = Number(r.readBytes) / 1e6 / (r.ms / 1000);
        if (o.json) outJson({ ok: true, out: r.path, format: r.format, target: t.label, ranges: r.ranges, dataBytes: r.dataBytes, readBytes: r.readBytes, fileBytes: r.fileBytes, resumedAt: r.resumedAt ?? null, ms: r.ms, mbPerSecond: mbps });
        else {
          out(
            `wrote ${r.path}: ${r.format}, ${mib(r.dataBytes)} of guest memory in ${r.ranges.length} range${r.ranges.length === 1 ? "" : "s"}` +
              `${r.resumedAt !== undefined ? ` (resumed at ${mib(r.resumedAt)})` : ""}, ${(r.ms / 1000).toFixed(2)} s, ${mbps.toFixed(0)} MB/s`,
          );
        }
      } finally {
        bar.stop();
        process.removeListener("SIGINT", onSignal);
        process.removeListener("SIGTERM", onSignal);
        if (paused) await t.live!.resume().catch(() => undefined);
      }
    });
  });
}

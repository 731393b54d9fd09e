/** A progress bar on stderr for long work (cli-progress; silent when stderr is not a terminal). */
import cliProgress from "cli-progress";

export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

export function progressBar(label: string, unit: "MiB" | "items" = "MiB", enabled = true): Progress {
  if (!enabled || !process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {rate} | ETA {eta}s`,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  const t0 = performance.now();
  let started = false;
  const scale = (n: number): number => (unit === "MiB" ? Math.round((n / (1 << 20)) * 10) / 10 : n);
  return {
    update(done, total) {
      if (!started) {
        bar.start(scale(total), 0, { rate: "" });
        started = true;
      }
      const s = (performance.now() - t0) / 1000;
      bar.update(scale(done), { rate: unit === "MiB" && s > 0 ? `${(done / (1 << 20) / s).toFixed(1)} MiB/s` : "" });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

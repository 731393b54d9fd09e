/**
 * `seven pause` and `seven resume`. Secure pause: the agent clears the VMSA bit of every
 * guest context, so the host cannot run them. The agent ties a pause to the session that
 * asked for it and lifts it when that session ends, so `seven pause` keeps its session
 * open — the guest stays paused until Ctrl-C (or `--for SECONDS`), then resumes. The other
 * commands pause by themselves while they read (`--no-pause` to opt out).
 * `seven resume` lifts what its own session holds and reports vCPUs still stopped
 * (held at an unanswered event, or paused by another session).
 */
import type { Command } from "commander";
import { CliUsageError } from "../errors.js";
import { withTarget } from "../owner/linux-target.js";
import { note, out, outJson } from "../owner/print.js";
import { addTargetOptions, type TargetFlags } from "../owner/target.js";

const list = (xs: readonly number[]): string => (xs.length > 0 ? xs.join(", ") : "none");

export function register(program: Command): void {
  const pause = program
    .command("pause")
    .description("pause every vCPU of the guest (the host cannot run a paused context) until Ctrl-C or --for SECONDS")
    .option("--for <seconds>", "resume after this many seconds (default: at Ctrl-C)")
    .option("--json", "machine-readable output");
  addTargetOptions(pause, "live").action(async (o: TargetFlags & { json?: boolean; for?: string }) => {
    const seconds = o.for === undefined ? undefined : Number(o.for);
    if (seconds !== undefined && !(seconds >= 0 && seconds <= 86400)) throw new CliUsageError(`pause: --for must be 0..86400 seconds, not ${JSON.stringify(o.for)}`);
    await withTarget(o, "live", "pause", async (t) => {
      const d = t.live!;
      const r = await d.pauseVcpus();
      if (o.json) outJson({ ok: true, target: t.label, ...r });
      else out(`paused ${t.label}: stopped vCPUs ${list(r.stopped)}; already stopped: ${list(r.alreadyStopped)}`);
      if (!o.json) note(seconds === undefined ? "holding the pause until Ctrl-C (it ends with this session)" : `holding the pause for ${seconds} s`);
      await new Promise<void>((resolve, reject) => {
        const stop = (): void => {
          process.removeListener("SIGINT", stop);
          process.removeListener("SIGTERM", stop);
          clearTimeout(timer);
          resolve();
        };
        const timer = seconds !== undefined ? setTimeout(stop, seconds * 1000) : undefined;
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
        d.ended.then((e) => {
          process.removeListener("SIGINT", stop);
          process.removeListener("SIGTERM", stop);
          clearTimeout(timer);
          reject(e);
        });
      });
      const res = await d.resumeVcpus();
      if (!o.json) out(`resumed ${t.label}: vCPUs ${list(res.resumed)}; still stopped: ${list(res.stillHeld)}`);
    });
  });
  const resume = program
    .command("resume")
    .description("resume what this session holds; lists vCPUs still stopped (held at an event or paused by another session)")
    .option("--json", "machine-readable output");
  addTargetOptions(resume, "live").action(async (o: TargetFlags & { json?: boolean }) => {
    await withTarget(o, "live", "resume", async (t) => {
      const r = await t.live!.resumeVcpus();
      if (o.json) outJson({ ok: true, target: t.label, ...r });
      else out(`resumed ${t.label}: vCPUs ${list(r.resumed)}; still stopped: ${list(r.stillHeld)}`);
    });
  });
}

/**
 * `seven pause` and `seven resume`. Secure pause: the agent clears the VMSA bit of every
 * guest context, so the host cannot run them. `seven pause` asks for a pause that lasts
 * until resumed (PauseRequest.until_resumed) and returns at once: the guest stays paused
 * after the command's session ends, until `seven resume` (from any owner session) lifts
 * it. `--for SECONDS` resumes it after that long instead (or at Ctrl-C).
 * The other commands pause by themselves while they read (`--no-pause` to opt out); their
 * pause belongs to their session, and they never lift a pause already in force.
 * `seven resume` lifts `seven pause`'s pause and reports vCPUs still stopped (held at an
 * unanswered event, or paused by a running tool's session).
 */
import type { Command } from "commander";
import type { AgentV1Driver } from "../../../client/index.js";
import { CliUsageError } from "../errors.js";
import { withTarget } from "../owner/linux-target.js";
import { note, out, outJson } from "../owner/print.js";
import { addTargetOptions, type TargetFlags } from "../owner/target.js";

const list = (xs: readonly number[]): string => (xs.length > 0 ? xs.join(", ") : "none");

/** Waits `seconds` (or until Ctrl-C / SIGTERM); rejects if the session ends meanwhile. */
function hold(d: AgentV1Driver, seconds: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (): void => {
      process.removeListener("SIGINT", stop);
      process.removeListener("SIGTERM", stop);
      clearTimeout(timer);
    };
    const stop = (): void => {
      done();
      resolve();
    };
    const timer = setTimeout(stop, seconds * 1000);
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    d.ended.then((e) => {
      done();
      reject(e);
    });
  });
}

export function register(program: Command): void {
  const pause = program
    .command("pause")
    .description("pause every vCPU of the guest (the host cannot run a paused context) until `seven resume`")
    .option("--for <seconds>", "resume after this many seconds (or at Ctrl-C) instead of returning at once")
    .option("--json", "machine-readable output");
  addTargetOptions(pause, "live").action(async (o: TargetFlags & { json?: boolean; for?: string }) => {
    const seconds = o.for === undefined ? undefined : Number(o.for);
    if (seconds !== undefined && !(seconds >= 0 && seconds <= 86400)) throw new CliUsageError(`pause: --for must be 0..86400 seconds, not ${JSON.stringify(o.for)}`);
    await withTarget(o, "live", "pause", async (t) => {
      const d = t.live!;
      const r = await d.pauseVcpus({ untilResumed: true });
      if (o.json) outJson({ ok: true, target: t.label, untilResumed: true, ...r, ...(seconds !== undefined ? { forSeconds: seconds } : {}) });
      else out(`paused ${t.label}: stopped vCPUs ${list(r.stopped)}; already stopped: ${list(r.alreadyStopped)}`);
      if (seconds === undefined) {
        if (!o.json) note("the guest stays paused until `seven resume`");
        return;
      }
      if (!o.json) note(`resuming in ${seconds} s (Ctrl-C: now); if this command is killed, the guest stays paused until \`seven resume\``);
      await hold(d, seconds);
      const res = await d.resumeVcpus();
      if (!o.json) out(`resumed ${t.label}: vCPUs ${list(res.resumed)}; still stopped: ${list(res.stillHeld)}`);
    });
  });
  const resume = program
    .command("resume")
    .description("lift `seven pause`; lists vCPUs still stopped (held at an event, or paused by a running tool)")
    .option("--json", "machine-readable output");
  addTargetOptions(resume, "live").action(async (o: TargetFlags & { json?: boolean }) => {
    await withTarget(o, "live", "resume", async (t) => {
      const r = await t.live!.resumeVcpus();
      if (o.json) outJson({ ok: true, target: t.label, ...r });
      else out(`resumed ${t.label}: vCPUs ${list(r.resumed)}; still stopped: ${list(r.stillHeld)}`);
    });
  });
}

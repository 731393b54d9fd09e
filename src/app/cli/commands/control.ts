/** `seven pause` and `seven resume`: secure pause (the agent clears the VMSA bit of every guest context). */
import type { Command } from "commander";
import { addTargetOptions, type TargetFlags } from "../owner/target.js";
import { withTarget } from "../owner/linux-target.js";
import { out, outJson } from "../owner/print.js";
import { CliUsageError } from "../errors.js";

const list = (xs: readonly number[]): string => (xs.length > 0 ? xs.join(", ") : "none");

export function register(program: Command): void {
  const pause = program
    .command("pause")
    .description("stop every vCPU of the guest (the host cannot run a paused context)")
    .option("--json", "machine-readable output");
  addTargetOptions(pause, "live").action(async (o: TargetFlags & { json?: boolean }) => {
    await withTarget(o, "live", "pause", async (t) => {
      const d = t.live;
      if (d === undefined) throw new CliUsageError("pause needs a live target");
      const r = await d.pauseVcpus();
      if (o.json) outJson({ ok: true, target: t.label, ...r });
      else out(`paused ${t.label}: stopped vCPUs ${list(r.stopped)}; already stopped: ${list(r.alreadyStopped)}`);
    });
  });
  const resume = program
    .command("resume")
    .description("let the guest's vCPUs run again (those held at an unanswered event stay held)")
    .option("--json", "machine-readable output");
  addTargetOptions(resume, "live").action(async (o: TargetFlags & { json?: boolean }) => {
    await withTarget(o, "live", "resume", async (t) => {
      const d = t.live;
      if (d === undefined) throw new CliUsageError("resume needs a live target");
      const r = await d.resumeVcpus();
      if (o.json) outJson({ ok: true, target: t.label, ...r });
      else out(`resumed ${t.label}: vCPUs ${list(r.resumed)}; still held at an event: ${list(r.stillHeld)}`);
    });
  });
}

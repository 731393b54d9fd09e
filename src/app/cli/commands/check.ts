/**
 * `seven check [NAME...]`: the integrity checks (the eleven RDMI policies, IDT, syscall MSRs,
 * kernel text). Exit 0 when clean, 3 when something is found, 1 when a check could not run.
 */
import type { Command } from "commander";
import { ALL_CHECKS, fileBaselineStore, mergeRerun, runChecks, selectChecks, walkFailed, type ChecksReport } from "../../../client/index.js";
import { CliUsageError } from "../errors.js";
import { CommandFailure, EXIT_FINDINGS } from "../owner/exit.js";
import { untorn, withLinux } from "../owner/linux-target.js";
import { hex, out, outJson } from "../owner/print.js";
import { addTargetOptions, type TargetFlags } from "../owner/target.js";
import { renderTable } from "../../../client/index.js";

function text(r: ChecksReport): string {
  const status = renderTable({
    columns: [
      { name: "check", type: "string" },
      { name: "status", type: "string" },
      { name: "findings", type: "int" },
      { name: "note", type: "string" },
    ],
    rows: r.checks.map((c) => ({ check: c.check, status: c.status, findings: c.findings, note: c.error ? `${c.error.code}: ${c.error.message}` : (c.note ?? "") })),
  }, { maxWidth: 90 });
  if (r.findings.length === 0) return status;
  const findings = renderTable({
    columns: [
      { name: "severity", type: "string" },
      { name: "check", type: "string" },
      { name: "object", type: "string" },
      { name: "address", type: "address" },
      { name: "detail", type: "string" },
    ],
    rows: r.findings.map((f) => ({ severity: f.severity, check: f.check, object: f.object, address: f.address ?? null, detail: f.detail })),
  }, { maxWidth: 90 });
  return `${status}\n${findings}`;
}

export function register(program: Command): void {
  const cmd = program
    .command("check [names...]")
    .description(`integrity checks (all, or the named ones: ${ALL_CHECKS.map((c) => c.name).join(", ")}); exit 3 when something is found`)
    .option("--text-baseline <file>", "kernel-text baseline: recorded when the file is absent, compared otherwise")
    .option("--no-pause", "do not pause a live guest while checking")
    .option("--json", "machine-readable output");
  addTargetOptions(cmd, "any", { profile: true }).action(async (names: string[], o: TargetFlags & { json?: boolean; pause?: boolean; textBaseline?: string }) => {
    let checks;
    try {
      checks = selectChecks(names);
    } catch (e) {
      throw new CliUsageError(`check: ${(e as Error).message}`);
    }
    const requirements = checks.flatMap((c) => c.requirements);
    const r = await withLinux(o, "any", "check", { requirements, pause: o.pause !== false }, async (s) => {
      const opts = o.textBaseline !== undefined ? { baseline: fileBaselineStore(o.textBaseline) } : {};
      // A check whose walk failed on a live guest is run again after the guest ran a moment
      // (the pause may have landed mid-update); the others keep their first result.
      let rep: ChecksReport | undefined;
      rep = await untorn(
        s,
        async () => (rep = rep === undefined ? await runChecks(s.kernel, names, opts) : mergeRerun(rep, await runChecks(s.kernel, rep.checks.filter(walkFailed).map((c) => c.check), opts))),
        (r) => r.checks.some(walkFailed),
      );
      if (o.json) {
        outJson({
          clean: rep.clean,
          target: s.target.label,
          checks: rep.checks,
          findings: rep.findings.map((f) => ({ ...f, ...(f.address !== undefined ? { address: hex(f.address) } : {}) })),
          ms: rep.ms,
        });
      } else out(text(rep));
      return rep;
    });
    const errors = r.checks.filter((c) => c.status === "error");
    if (r.findings.length > 0) {
      const by = [...new Set(r.findings.map((f) => f.check))].map((c) => `${c}: ${r.findings.filter((f) => f.check === c).length}`);
      throw new CommandFailure(`check found ${r.findings.length} problem${r.findings.length === 1 ? "" : "s"} (${by.join(", ")})`, EXIT_FINDINGS);
    }
    if (errors.length > 0) throw new CommandFailure(`check could not run ${errors.map((c) => `${c.check} (${c.error?.code ?? "error"})`).join(", ")}`, 1);
  });
}

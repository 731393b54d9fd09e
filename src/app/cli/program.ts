/**
 * The `seven` command line. Each command group lives in ./commands/<name>.ts and exports
 * `register(program)`; add new groups to COMMANDS below. Conventions for every command:
 * tables for people by default, `--json` for machines, progress on long work, and on any
 * failure a non-zero exit code with a one-line reason (see ./errors.ts).
 */
import { Command, CommanderError } from "commander";
import { renderError } from "./errors.js";
import { COMMANDS } from "./commands/index.js";

export function buildProgram(): Command {
  const program = new Command("seven")
    .description("00SEVen: secure remote VM introspection for AMD SEV-SNP confidential VMs")
    .version("0.1.0")
    .showHelpAfterError("(run `seven --help` for usage)");
  for (const register of COMMANDS) register(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e: unknown) {
    if (e instanceof CommanderError) {
      // --help and --version end here with exit code 0.
      return e.exitCode;
    }
    process.stderr.write(renderError(e) + "\n");
    return exitCodeOf(e);
  }
}

function exitCodeOf(e: unknown): number {
  const c = (e as { exitCode?: unknown }).exitCode;
  return typeof c === "number" && c > 0 ? c : 1;
}

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
    .version("0.1.0");
  // Set before the commands are added: subcommands copy these settings when created.
  // Commander's own usage errors become one line too ("seven: unknown option '--x' (see seven ps --help)").
  program.exitOverride();
  program.configureOutput({
    writeOut: (s) => process.stdout.write(s),
    writeErr: (s) => process.stderr.write(s),
    outputError: (s, write) => write(`seven: ${s.replace(/^error: /, "").trimEnd()} (see --help)\n`),
  });
  for (const register of COMMANDS) register(program);
  return program;
}

/** Commander's parse errors are usage errors (exit 2); --help and --version exit 0. */
function commanderExit(e: CommanderError): number {
  return e.exitCode === 0 ? 0 : 2;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e: unknown) {
    if (e instanceof CommanderError) {
      // --help and --version end here with exit code 0.
      return commanderExit(e);
    }
    process.stderr.write(renderError(e) + "\n");
    return exitCodeOf(e);
  }
}

function exitCodeOf(e: unknown): number {
  const c = (e as { exitCode?: unknown }).exitCode;
  return typeof c === "number" && c > 0 ? c : 1;
}

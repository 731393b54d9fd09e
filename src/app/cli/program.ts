import { Command } from "commander";

export function buildProgram(): Command {
  const program = new Command("seven")
    .description("00SEVen: secure remote VM introspection for AMD SEV-SNP confidential VMs")
    .version("0.1.0");
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (e: unknown) {
    const code = (e as { exitCode?: number }).exitCode;
    return typeof code === "number" ? code : 1;
  }
}

import type { Command } from "commander";

/** Every command group; each file in this folder adds itself here. */
export const COMMANDS: ReadonlyArray<(program: Command) => void> = [];

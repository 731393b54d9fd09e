import type { Command } from "commander";
import { register as host } from "./host.js";
import { register as measure } from "./measure.js";

/** Every command group; each file in this folder adds itself here. */
export const COMMANDS: ReadonlyArray<(program: Command) => void> = [host, measure];

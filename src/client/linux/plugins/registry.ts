/** The plugin registry and the requirement tables of everything (checked together at attach). */
import { LinuxError } from "../errors.js";
import type { AnyRequirements } from "../requirements.js";
import { ALL_CHECKS } from "../checks/run.js";
import { lsmod } from "./lsmod.js";
import type { Plugin } from "./plugin.js";
import { ps } from "./ps.js";
import { pstree } from "./pstree.js";
import { regs } from "./regs.js";

// Plugins differ in their options; the registry holds them by name.
export const ALL_PLUGINS = { ps, pstree, lsmod, regs } as const;
export type PluginName = keyof typeof ALL_PLUGINS;

export function findPlugin(name: string): (typeof ALL_PLUGINS)[PluginName] {
  const p = (ALL_PLUGINS as Record<string, (typeof ALL_PLUGINS)[PluginName]>)[name];
  if (p === undefined) throw new LinuxError("UNKNOWN_PLUGIN", `no plugin named ${name} (known: ${Object.keys(ALL_PLUGINS).join(", ")})`, { name });
  return p;
}

/** Every table every plugin and check declares. */
export const ALL_REQUIREMENTS: readonly AnyRequirements[] = [
  ...Object.values(ALL_PLUGINS).flatMap((p: Plugin<never>) => p.requirements),
  ...ALL_CHECKS.flatMap((c) => c.requirements),
];

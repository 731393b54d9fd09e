/**
 * Plugins (Volatility 3 style): small, versioned, declaring the requirement tables they
 * need and the typed columns they yield; the walkers do the work, renderers print.
 */
import type { Column, Row, TableData } from "../../output/index.js";
import type { LinuxKernel } from "../kernel.js";
import type { AnyRequirements } from "../requirements.js";

export interface Plugin<O = Record<string, never>> {
  readonly name: string;
  /** Semantic version of the plugin's output (columns and meaning). */
  readonly version: string;
  readonly description: string;
  readonly requirements: readonly AnyRequirements[];
  readonly columns: readonly Column[];
  readonly indent?: { readonly column: string; readonly by: string };
  run(k: LinuxKernel, options: O): AsyncIterable<Row>;
}

export interface PluginResult extends TableData {
  readonly plugin: string;
  readonly version: string;
  /** Time the plugin ran, in milliseconds (profile load and discovery not included). */
  readonly ms: number;
}

/** Runs a plugin to completion and collects its rows. */
export async function runPlugin<O>(plugin: Plugin<O>, k: LinuxKernel, options: O): Promise<PluginResult> {
  const t0 = performance.now();
  const rows: Row[] = [];
  for await (const r of plugin.run(k, options)) rows.push(r);
  return {
    plugin: plugin.name,
    version: plugin.version,
    columns: plugin.columns,
    rows,
    ...(plugin.indent ? { indent: plugin.indent } : {}),
    ms: performance.now() - t0,
  };
}

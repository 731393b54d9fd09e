/** `lsmod`: the module list (what /proc/modules shows), in list order. */
import { MODULES, listModules } from "../walkers/modules.js";
import type { Plugin } from "./plugin.js";

const STATES = ["live", "coming", "going", "unformed"];

export const lsmod: Plugin<Record<string, never>> = {
  name: "lsmod",
  version: "1.0.0",
  description: "Loaded kernel modules (the modules list)",
  requirements: [MODULES],
  columns: [
    { name: "name", type: "string" },
    { name: "base", type: "address", description: "core layout base" },
    { name: "size", type: "int", description: "core layout size" },
    { name: "state", type: "string" },
    { name: "module", type: "address", description: "struct module" },
  ],
  async *run(k) {
    for (const m of await listModules(k)) {
      yield { name: m.name, base: m.base, size: m.size, state: STATES[m.state] ?? String(m.state), module: m.address };
    }
  },
};

/**
 * RDMI policy 9, hidden-modules: the module list against the module kset (/sys/module).
 * A module whose kobject is in the kset but not on the list was unlinked from the list
 * (lsmod, /proc/modules no longer show it); one on the list whose kobject is not in the
 * kset was removed from sysfs.
 */
import { MODULES, MODULE_KSET, listModuleKset, listModules } from "../walkers/modules.js";
import { readViews } from "../struct-view.js";
import { VmiError } from "../../vmi/index.js";
import { type IntegrityCheck, type Finding, finder } from "./check.js";

export const hiddenModules: IntegrityCheck = {
  name: "hidden-modules",
  version: "1.0.0",
  policy: 9,
  description: "Module list vs module kset: modules hidden from one of them",
  requirements: [MODULES, MODULE_KSET],
  async run(ctx) {
    const k = ctx.kernel;
    const f = finder(this.name);
    const list = await listModules(k);
    const kset = await listModuleKset(k);
    const findings: Finding[] = [];
    const listed = new Set(list.map((m) => m.address));
    const inKset = new Set(kset.map((e) => e.kobject));
    const hidden = kset.filter((e) => e.module !== null && !listed.has(e.module));
    // Name the hidden ones from their own struct module.
    const b = k.bound(MODULES);
    const views = await readViews(k.vmi, hidden.map((e) => e.module!), { from: b.o.module.name, len: b.m.module.name.size });
    hidden.forEach((e, i) => {
      const v = views[i]!;
      const nm = v instanceof VmiError ? e.name : v.str(b.o.module.name, b.m.module.name.size) || e.name;
      findings.push(f("high", `module ${nm}`, "in /sys/module (module kset) but not in the module list", e.module!));
    });
    for (const m of list) {
      if (!inKset.has(m.kobject)) findings.push(f("high", `module ${m.name}`, "in the module list but not in /sys/module (module kset)", m.address));
    }
    return { findings, note: `${list.length} listed, ${kset.filter((e) => e.module !== null).length} in the kset (${kset.length} kset entries)` };
  },
};

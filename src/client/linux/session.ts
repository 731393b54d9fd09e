/**
 * `openLinux(vmi, profile)`: check every plugin's requirements (all missing names in one
 * error), discover the kernel, bind the tables, and install the Vmi hooks: the kernel
 * DTB, kernel symbols (slid) for `ksym` contexts, and pid → DTB for `pid` contexts.
 */
import type { Profile } from "../../shared/kernel/index.js";
import type { Vmi } from "../vmi/index.js";
import { discoverKernel } from "./discovery/discover.js";
import type { DiscoverOptions, KernelLocation } from "./discovery/types.js";
import { LinuxError } from "./errors.js";
import { LinuxKernel, type WalkLimits } from "./kernel.js";
import { type AnyRequirements, checkRequirements } from "./requirements.js";
import { mmDtb } from "./walkers/mm.js";
import { listTasks } from "./walkers/tasks.js";
import { ALL_REQUIREMENTS } from "./plugins/registry.js";

export interface OpenLinuxOptions {
  /** Requirement tables to check and bind at attach (default: every plugin's and check's). */
  readonly requirements?: readonly AnyRequirements[];
  /** Skip discovery: use this location (e.g. from an earlier run). */
  readonly location?: KernelLocation;
  readonly discover?: DiscoverOptions;
  readonly limits?: Partial<WalkLimits>;
  /** Install kernel DTB, symbol and pid hooks on the Vmi (default true). */
  readonly hooks?: boolean;
}

export async function openLinux(vmi: Vmi, profile: Profile, opts: OpenLinuxOptions = {}): Promise<LinuxKernel> {
  const reqs = opts.requirements ?? ALL_REQUIREMENTS;
  checkRequirements(profile, reqs); // before any memory is read: a wrong profile fails fast
  const location = opts.location ?? (await discoverKernel(vmi, profile, opts.discover));
  const k = new LinuxKernel(vmi, profile, location, reqs, opts.limits);
  if (opts.hooks ?? true) {
    vmi.setKernelDtb(location.dtb);
    vmi.setSymbolResolver((name) => k.symbol(name));
    vmi.setPidResolver(async (pid) => {
      const t = (await listTasks(k, { threads: true })).find((x) => x.pid === pid);
      if (t === undefined) throw new LinuxError("BAD_ARGUMENT", `no task with pid ${pid}`, { argument: "pid", pid });
      if (t.mm === 0n) throw new LinuxError("BAD_ARGUMENT", `pid ${pid} is a kernel thread (no address space)`, { argument: "pid", pid });
      return mmDtb(k, t.mm);
    });
  } else {
    vmi.setKernelDtb(vmi.kernelDtb ?? location.dtb);
  }
  return k;
}

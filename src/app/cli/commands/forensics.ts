/**
 * `seven ps`, `seven pstree`, `seven lsmod`, `seven regs`: the Linux plugins (src/client/linux)
 * on a live CVM (through the attested agent or the baseline) or on a memory image — the same
 * plugin code and the same output either way.
 */
import type { Command } from "commander";
import { lsmod, ps, pstree, regs, runPlugin, type PluginResult } from "../../../client/index.js";
import { CliUsageError } from "../errors.js";
import { untorn, withLinux } from "../owner/linux-target.js";
import { outTable } from "../owner/print.js";
import { addTargetOptions, type TargetFlags } from "../owner/target.js";

type Flags = TargetFlags & { json?: boolean; pause?: boolean };

function common(cmd: Command): Command {
  addTargetOptions(cmd, "any", { profile: true });
  return cmd.option("--no-pause", "do not pause a live guest while reading (its lists may change under the walk)").option("--json", "machine-readable output");
}

function print(r: PluginResult, o: Flags, target: string): void {
  outTable(r, o.json, { plugin: r.plugin, version: r.version, target });
}

export function register(program: Command): void {
  common(program.command("ps").description("processes: pid, ppid, uid, comm, task address, DTB").option("--threads", "list every thread, not only thread-group leaders")).action(
    async (o: Flags & { threads?: boolean }) => {
      await withLinux(o, "any", "ps", { requirements: ps.requirements, pause: o.pause !== false }, async (s) => {
        print(await untorn(s, () => runPlugin(ps, s.kernel, o.threads ? { threads: true } : {})), o, s.target.label);
      });
    },
  );
  common(program.command("pstree").description("processes as a tree by parent")).action(async (o: Flags) => {
    await withLinux(o, "any", "pstree", { requirements: pstree.requirements, pause: o.pause !== false }, async (s) => {
      print(await untorn(s, () => runPlugin(pstree, s.kernel, {})), o, s.target.label);
    });
  });
  common(program.command("lsmod").description("loaded kernel modules with their base addresses")).action(async (o: Flags) => {
    await withLinux(o, "any", "lsmod", { requirements: lsmod.requirements, pause: o.pause !== false }, async (s) => {
      print(await untorn(s, () => runPlugin(lsmod, s.kernel, {})), o, s.target.label);
    });
  });
  common(program.command("regs").description("vCPU registers (RIP symbolized)").option("--vcpu <n>", "only this vCPU")).action(async (o: Flags & { vcpu?: string }) => {
    let vcpus: number[] | undefined;
    if (o.vcpu !== undefined) {
      if (!/^\d+$/.test(o.vcpu)) throw new CliUsageError(`regs: --vcpu must be a vCPU number, not ${JSON.stringify(o.vcpu)}`);
      vcpus = [Number(o.vcpu)];
    }
    await withLinux(o, "any", "regs", { requirements: regs.requirements, pause: o.pause !== false }, async (s) => {
      if (vcpus !== undefined && vcpus[0]! >= s.vmi.vcpuCount) throw new CliUsageError(`regs: no vCPU ${vcpus[0]} (the guest has ${s.vmi.vcpuCount})`);
      print(await runPlugin(regs, s.kernel, vcpus !== undefined ? { vcpus } : {}), o, s.target.label);
    });
  });
}

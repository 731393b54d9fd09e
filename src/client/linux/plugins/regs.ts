/** `regs`: each vCPU's registers from the driver (unknown ones — e.g. MSRs in an ELF core — as none). */
import type { Cell, Column, Row } from "../../output/index.js";
import type { RegisterName, VcpuRegisters } from "../../vmi/index.js";
import type { Plugin } from "./plugin.js";

export interface RegsOptions {
  /** Only these vCPUs (default all). */
  readonly vcpus?: readonly number[];
}

const SHOWN: readonly { name: string; reg: RegisterName; get: (v: VcpuRegisters) => bigint }[] = [
  { name: "rip", reg: "rip", get: (v) => v.regs.rip },
  { name: "rsp", reg: "rsp", get: (v) => v.regs.rsp },
  { name: "rflags", reg: "rflags", get: (v) => v.regs.rflags },
  { name: "cr0", reg: "cr0", get: (v) => v.regs.cr0 },
  { name: "cr3", reg: "cr3", get: (v) => v.regs.cr3 },
  { name: "cr4", reg: "cr4", get: (v) => v.regs.cr4 },
  { name: "efer", reg: "efer", get: (v) => v.regs.efer },
  { name: "lstar", reg: "lstar", get: (v) => v.regs.lstar },
  { name: "gs_base", reg: "gs", get: (v) => v.regs.gs.base },
  { name: "kernel_gs_base", reg: "kernelGsBase", get: (v) => v.regs.kernelGsBase },
  { name: "idtr_base", reg: "idtr", get: (v) => v.regs.idtr.base },
  { name: "gdtr_base", reg: "gdtr", get: (v) => v.regs.gdtr.base },
];

export const regs: Plugin<RegsOptions> = {
  name: "regs",
  version: "1.0.0",
  description: "vCPU registers from the driver, RIP symbolized",
  requirements: [],
  columns: [
    { name: "vcpu", type: "int" },
    ...SHOWN.slice(0, 1).map((s): Column => ({ name: s.name, type: "address" })),
    { name: "symbol", type: "string", description: "RIP as kernel symbol+offset" },
    ...SHOWN.slice(1).map((s): Column => ({ name: s.name, type: "hex" })),
  ],
  async *run(k, o) {
    for (const v of await k.vmi.vcpuRegisters(o.vcpus)) {
      const row: Record<string, Cell> = { vcpu: v.vcpu };
      for (const s of SHOWN) row[s.name] = v.known.has(s.reg) ? s.get(v) : null;
      row["symbol"] = v.known.has("rip") ? (k.symbolName(v.regs.rip) ?? null) : null;
      yield row as Row;
    }
  },
};

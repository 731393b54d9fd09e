/**
 * Register sets between the wire (seven.proto `RegisterSet`, read from the VMPL1 VMSA)
 * and the VMI library's `RegisterSet`. Both keep segment attributes in the VMSA's 12-bit
 * format, so nothing is converted but types (u32 → bigint).
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { v1 } from "../../shared/protocol/index.js";
import { REGISTER_NAMES, badArgument, type RegisterName, type RegisterSet, type Segment, type VcpuRegisters } from "../vmi/index.js";

const SCALARS = [
  "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
  "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
  "rip", "rflags", "cr0", "cr2", "cr3", "cr4", "xcr0",
  "dr0", "dr1", "dr2", "dr3", "dr6", "dr7",
  "efer", "star", "lstar", "cstar", "sfmask", "kernelGsBase", "sysenterCs", "sysenterEsp", "sysenterEip",
] as const satisfies readonly (RegisterName & keyof v1.RegisterSet)[];

const SEGMENTS = ["cs", "ds", "es", "fs", "gs", "ss", "tr", "ldtr"] as const;

/** The wire's register numbers for the scalar registers (seven.proto `Register`). */
const REGISTER_ENUM: Readonly<Record<(typeof SCALARS)[number], v1.Register>> = {
  rax: v1.Register.RAX, rbx: v1.Register.RBX, rcx: v1.Register.RCX, rdx: v1.Register.RDX,
  rsi: v1.Register.RSI, rdi: v1.Register.RDI, rsp: v1.Register.RSP, rbp: v1.Register.RBP,
  r8: v1.Register.R8, r9: v1.Register.R9, r10: v1.Register.R10, r11: v1.Register.R11,
  r12: v1.Register.R12, r13: v1.Register.R13, r14: v1.Register.R14, r15: v1.Register.R15,
  rip: v1.Register.RIP, rflags: v1.Register.RFLAGS,
  cr0: v1.Register.CR0, cr2: v1.Register.CR2, cr3: v1.Register.CR3, cr4: v1.Register.CR4, xcr0: v1.Register.XCR0,
  dr0: v1.Register.DR0, dr1: v1.Register.DR1, dr2: v1.Register.DR2, dr3: v1.Register.DR3, dr6: v1.Register.DR6, dr7: v1.Register.DR7,
  efer: v1.Register.EFER, star: v1.Register.STAR, lstar: v1.Register.LSTAR, cstar: v1.Register.CSTAR, sfmask: v1.Register.SFMASK,
  kernelGsBase: v1.Register.KERNEL_GS_BASE,
  sysenterCs: v1.Register.SYSENTER_CS, sysenterEsp: v1.Register.SYSENTER_ESP, sysenterEip: v1.Register.SYSENTER_EIP,
};

const ALL_KNOWN: ReadonlySet<RegisterName> = new Set(REGISTER_NAMES);

function segment(s: v1.Segment | undefined): Segment {
  return { selector: BigInt(s?.selector ?? 0), base: s?.base ?? 0n, limit: BigInt(s?.limit ?? 0), attrib: BigInt(s?.attrib ?? 0) };
}

/** A wire register set as the library's (all registers known). */
export function fromWireRegisters(w: v1.RegisterSet): VcpuRegisters & { readonly stopped: boolean; readonly cpl: number } {
  const r: Record<string, unknown> = {};
  for (const n of SCALARS) r[n] = w[n];
  for (const s of SEGMENTS) r[s] = segment(w[s]);
  r["gdtr"] = { base: w.gdtr?.base ?? 0n, limit: BigInt(w.gdtr?.limit ?? 0) };
  r["idtr"] = { base: w.idtr?.base ?? 0n, limit: BigInt(w.idtr?.limit ?? 0) };
  return { vcpu: w.vcpu, regs: r as unknown as RegisterSet, known: ALL_KNOWN, stopped: w.stopped, cpl: w.cpl };
}

/** The library's register set on the wire (used by the test agent and the baseline). */
export function toWireRegisters(vcpu: number, regs: RegisterSet, extra: { stopped?: boolean; cpl?: number } = {}): MessageInitShape<typeof v1.RegisterSetSchema> {
  const seg = (s: Segment): MessageInitShape<typeof v1.SegmentSchema> => ({
    selector: Number(s.selector),
    attrib: Number(s.attrib),
    limit: Number(s.limit),
    base: s.base,
  });
  const out: Record<string, unknown> = { vcpu, stopped: extra.stopped ?? false, cpl: extra.cpl ?? 0 };
  for (const n of SCALARS) out[n] = regs[n];
  for (const s of SEGMENTS) out[s] = seg(regs[s]);
  out["gdtr"] = { base: regs.gdtr.base, limit: Number(regs.gdtr.limit) };
  out["idtr"] = { base: regs.idtr.base, limit: Number(regs.idtr.limit) };
  return out as MessageInitShape<typeof v1.RegisterSetSchema>;
}

/**
 * Register writes for SetRegistersRequest. Scalars map one to one; of the segments only
 * the FS and GS bases are writable (FS_BASE, GS_BASE). Anything else is BAD_ARGUMENT.
 */
export function registerWrites(regs: Partial<RegisterSet>): MessageInitShape<typeof v1.RegisterWriteSchema>[] {
  const out: MessageInitShape<typeof v1.RegisterWriteSchema>[] = [];
  for (const [name, value] of Object.entries(regs) as [RegisterName, unknown][]) {
    if (value === undefined) continue;
    if (name in REGISTER_ENUM) {
      const v = value as bigint;
      if (typeof v !== "bigint" || v < 0n || v >= 1n << 64n) throw badArgument(name, `register ${name}: value must be a u64 bigint`);
      out.push({ reg: REGISTER_ENUM[name as keyof typeof REGISTER_ENUM], value: v });
    } else if (name === "fs" || name === "gs") {
      out.push({ reg: name === "fs" ? v1.Register.FS_BASE : v1.Register.GS_BASE, value: (value as Segment).base });
    } else {
      throw badArgument(name, `register ${name} cannot be written through the agent (only scalars and the FS/GS bases)`);
    }
  }
  return out;
}

/** Wire register number → library name (for the test agent). */
export function registerNameOf(reg: v1.Register): RegisterName | "fsBase" | "gsBase" | undefined {
  if (reg === v1.Register.FS_BASE) return "fsBase";
  if (reg === v1.Register.GS_BASE) return "gsBase";
  for (const [n, r] of Object.entries(REGISTER_ENUM)) if (r === reg) return n as RegisterName;
  return undefined;
}

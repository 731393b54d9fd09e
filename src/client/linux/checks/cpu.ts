/**
 * CPU entry points.
 * idt: every present gate of idt_table (and of the table each vCPU's IDTR really points
 *   at, when registers are known) is an interrupt or trap gate in __KERNEL_CS whose
 *   handler is kernel text, user-callable (DPL 3) only for #BP, #OF and int 0x80; an
 *   IDTR whose table differs from idt_table is reported. Gate layout: Intel SDM Vol. 3
 *   §6.14.1 (64-bit IDT gate descriptors).
 * syscall-msrs: MSR_LSTAR is entry_SYSCALL_64, CSTAR and SYSENTER_EIP the compat entries
 *   (or at least kernel text) — live targets only: an ELF core holds no MSRs.
 */
import { VmiError, dtbVa, kva } from "../../vmi/index.js";
import { GATE_INTERRUPT, GATE_TRAP, IDT_ENTRIES, USER_GATES } from "../constants.js";
import { gateHandler } from "../discovery/routes.js";
import { walkReadError } from "../errors.js";
import { requirements } from "../requirements.js";
import { type IntegrityCheck, type Finding, finder, hex } from "./check.js";
import { CODE, type CodeMap } from "./code-map.js";

/** GDT_ENTRY_KERNEL_CS * 8 (arch/x86/include/asm/segment.h). */
const KERNEL_CS = 0x10;
/** NUM_EXCEPTION_VECTORS; EARLY_IDT_HANDLER_SIZE is 9 bytes, 13 with IBT (asm/segment.h). */
const NUM_EXCEPTION_VECTORS = 32;
const EARLY_IDT_HANDLER_SIZES = [9n, 13n];

const IDT = requirements("idt", { symbols: ["idt_table", "early_idt_handler_array"], uses: [CODE] });

/**
 * Reserved exception vectors keep the boot-time stubs idt_setup_early_handler() installed
 * (early_idt_handler_array, in init text): vector v's stub is at array + v·size.
 */
function earlyStub(g: Gate, early: bigint): boolean {
  return g.vector < NUM_EXCEPTION_VECTORS && EARLY_IDT_HANDLER_SIZES.some((s) => g.handler === early + BigInt(g.vector) * s);
}

export interface Gate {
  readonly vector: number;
  readonly handler: bigint;
  readonly selector: number;
  readonly type: number;
  readonly dpl: number;
  readonly present: boolean;
  readonly ist: number;
}

export function decodeGates(b: Uint8Array, count = Math.floor(b.length / 16)): Gate[] {
  const out: Gate[] = [];
  for (let v = 0; v < count; v++) {
    const o = v * 16;
    const flags = b[o + 5]!;
    out.push({
      vector: v,
      handler: gateHandler(b, o),
      selector: b[o + 2]! | (b[o + 3]! << 8),
      type: flags & 0x1f,
      dpl: (flags >> 5) & 3,
      present: (flags & 0x80) !== 0,
      ist: b[o + 4]! & 7,
    });
  }
  return out;
}

function gateFindings(gates: readonly Gate[], code: CodeMap, early: bigint, where: string, f: ReturnType<typeof finder>): Finding[] {
  const out: Finding[] = [];
  for (const g of gates) {
    if (!g.present) continue;
    const obj = `${where} vector ${g.vector} (0x${g.vector.toString(16)})`;
    if (!code.inKernelText(g.handler) && !earlyStub(g, early)) out.push(f("high", obj, `handler ${code.describe(g.handler)} is not kernel text`, g.handler));
    if (g.type !== GATE_INTERRUPT && g.type !== GATE_TRAP) out.push(f("high", obj, `gate type 0x${g.type.toString(16)} is neither an interrupt nor a trap gate`));
    if (g.selector !== KERNEL_CS) out.push(f("high", obj, `code segment selector 0x${g.selector.toString(16)} is not __KERNEL_CS`));
    if (g.dpl === 3 && !USER_GATES.has(g.vector)) out.push(f("high", obj, "user mode may raise it (DPL 3)"));
  }
  return out;
}

export const idt: IntegrityCheck = {
  name: "idt",
  version: "1.0.0",
  description: "IDT gates: kernel-text handlers, gate types, DPL; IDTR points at idt_table",
  requirements: [IDT],
  async run(ctx) {
    const k = ctx.kernel;
    const code = await ctx.code();
    const f = finder(this.name);
    let table: Uint8Array;
    try {
      table = await k.vmi.read(kva(k.bound(IDT).sym.idt_table), IDT_ENTRIES * 16);
    } catch (e) {
      if (e instanceof VmiError) throw walkReadError("idt", e, "idt_table");
      throw e;
    }
    const gates = decodeGates(table);
    const early = k.bound(IDT).sym.early_idt_handler_array;
    const findings = gateFindings(gates, code, early, "idt_table", f);
    let note = `${gates.filter((g) => g.present).length} present gates`;
    const regs = await ctx.registers();
    const withIdtr = (regs ?? []).filter((v) => v.known.has("idtr") && v.known.has("cr3") && v.regs.idtr.base !== 0n);
    for (const v of withIdtr) {
      const len = Math.min(Number(v.regs.idtr.limit) + 1, IDT_ENTRIES * 16);
      let live: Uint8Array;
      try {
        live = await k.vmi.read(dtbVa(v.regs.cr3, v.regs.idtr.base), len);
      } catch (e) {
        if (!(e instanceof VmiError)) throw e;
        findings.push(f("high", `vCPU ${v.vcpu} IDTR`, `IDTR base ${hex(v.regs.idtr.base)} is unreadable (${e.code})`, v.regs.idtr.base));
        continue;
      }
      const differ = decodeGates(live).filter((g, i) => {
        const a = live.subarray(i * 16, i * 16 + 16);
        const b = table.subarray(i * 16, i * 16 + 16);
        return g.vector < IDT_ENTRIES && a.some((x, j) => x !== b[j]);
      });
      if (len < IDT_ENTRIES * 16) findings.push(f("medium", `vCPU ${v.vcpu} IDTR`, `limit 0x${v.regs.idtr.limit.toString(16)} covers only ${len / 16} vectors`));
      if (differ.length > 0) {
        findings.push(f("high", `vCPU ${v.vcpu} IDTR`, `the table at ${hex(v.regs.idtr.base)} differs from idt_table at ${differ.length} vector(s), first ${differ[0]!.vector}`, v.regs.idtr.base));
        findings.push(...gateFindings(differ, code, early, `vCPU ${v.vcpu} IDT`, f));
      }
    }
    if (withIdtr.length > 0) note += `, IDTR of ${withIdtr.length} vCPU(s) compared`;
    return { findings, note };
  },
};

const MSRS = requirements("syscall-msrs", { symbols: ["entry_SYSCALL_64"], uses: [CODE] });

export const syscallMsrs: IntegrityCheck = {
  name: "syscall-msrs",
  version: "1.0.0",
  description: "MSR_LSTAR is entry_SYSCALL_64; CSTAR and SYSENTER_EIP are the kernel's compat entries",
  requirements: [MSRS],
  async run(ctx) {
    const k = ctx.kernel;
    const regs = await ctx.registers();
    if (regs === undefined) return { findings: [], skipped: "the driver gives no registers" };
    const known = regs.filter((v) => v.known.has("lstar"));
    if (known.length === 0) return { findings: [], skipped: "the registers hold no MSRs (e.g. an ELF core): LSTAR cannot be checked" };
    const code = await ctx.code();
    const f = finder(this.name);
    const findings: Finding[] = [];
    const lstar = k.bound(MSRS).sym.entry_SYSCALL_64;
    const compat = k.symbolOrUndefined("entry_SYSCALL_compat");
    const sysenter = k.symbolOrUndefined("entry_SYSENTER_compat");
    for (const v of known) {
      const r = v.regs;
      if (r.lstar !== lstar) findings.push(f("high", `vCPU ${v.vcpu} MSR_LSTAR`, `is ${code.describe(r.lstar)}, not entry_SYSCALL_64 (${hex(lstar)})`, r.lstar));
      if (v.known.has("cstar") && r.cstar !== 0n && r.cstar !== compat && !code.inKernelText(r.cstar)) {
        findings.push(f("high", `vCPU ${v.vcpu} MSR_CSTAR`, `is ${code.describe(r.cstar)}`, r.cstar));
      }
      if (v.known.has("sysenterEip") && r.sysenterEip !== 0n && r.sysenterEip !== sysenter && !code.inKernelText(r.sysenterEip)) {
        findings.push(f("high", `vCPU ${v.vcpu} MSR_SYSENTER_EIP`, `is ${code.describe(r.sysenterEip)}`, r.sysenterEip));
      }
    }
    return { findings, note: `${known.length} vCPU(s)` };
  },
};

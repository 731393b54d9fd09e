/**
 * VMRUN: the only way code in the CVM runs. The page must be a VMSA in the RMP (assigned
 * to this guest, VMSA bit set) — otherwise the exit is VMEXIT_INVALID before a single
 * instruction, which is what makes the agent's pause secure. Then the program of the
 * VMSA's VMPL is stepped, one instruction per `step`, until an exit:
 *   uncaught #NPF → 0x400 (info1 = EXITINFO1, info2 = GPA); VMGEXIT → 0x403; HLT → 0x78;
 *   a retired instruction that began with RFLAGS.TF set → #DB intercept (0x41); guest
 *   exception not handled by `program.exception` → SHUTDOWN (0x7f); budget used up →
 *   INTR (0x60).
 * Single-step follows the hardware: TF is latched when the instruction starts, so the #DB
 * follows an instruction that cleared TF itself (SYSCALL through SFMASK, POPF, IRET) and
 * not one that set it (the next one traps). VMGEXIT and HLT exit by themselves: the
 * intercept exit comes first and no #DB is delivered or left pending for them (a
 * single-step ends on any exit of the stepped vCPU). A step that faults retires nothing
 * and gives no #DB.
 * On every exit the hardware writes guest_exit_code, guest_exit_info_1/2,
 * guest_exit_int_info (0) and guest_nrip into the exiting VMSA. For #NPF the instruction
 * did not retire: guest_nrip is RIP + the length the program declared for it with
 * `Cpu.setInstructionLength` (the model of decode assists), or the current RIP (the
 * faulting instruction's) when it declared none.
 */
import type { Gpa } from "../shared/base/index.js";
import { SVM_EXIT } from "../shared/spec/index.js";
import type { StepResult, VcpuProgram, VmExit } from "./api.js";
import { VMEXIT_HLT, VMEXIT_INTR, VMEXIT_INVALID, VMEXIT_SHUTDOWN } from "./api.js";
import type { CpuEnv } from "./cpu.js";
import { VcpuCpu } from "./cpu.js";
import { CpuFault, PlatformError } from "./fault.js";
import type { GuestMemory } from "./memory.js";
import { PAGE } from "./memory.js";
import type { RmpTable } from "./rmp-table.js";
import { VMSA_OFF, rd64, wr64 } from "./vmsa-regs.js";

const RFLAGS_TF_BYTE = VMSA_OFF.rflags + 1; // TF is bit 8

/** The machine state VMRUN works on. */
export interface RunCore {
  readonly mem: GuestMemory;
  readonly rmp: RmpTable | undefined;
  readonly vcpuCount: number;
  readonly programs: readonly (VcpuProgram | undefined)[];
  readonly env: CpuEnv;
  /** vCPU → frame of the VMSA it is running. */
  readonly running: Map<number, number>;
  /** vCPU → frame of the VMSA it ran last. */
  readonly lastVmsa: (number | undefined)[];
  /** Retired instructions per vCPU per VMPL. */
  readonly retired: number[][];
  readonly exits: Map<number, number>;
  vmruns: number;
}

export function vmrun(core: RunCore, vcpu: number, vmsaGpa: Gpa, budget: number): VmExit {
  if (!Number.isInteger(vcpu) || vcpu < 0 || vcpu >= core.vcpuCount) {
    throw new PlatformError("BAD_VCPU", `no vCPU ${vcpu} (machine has ${core.vcpuCount})`, { vcpu });
  }
  if (!Number.isInteger(budget) || budget < 0) throw new PlatformError("BAD_ARGUMENT", `bad instruction budget ${budget}`);
  if (typeof vmsaGpa !== "bigint" || vmsaGpa < 0n || vmsaGpa >= core.mem.bytes) {
    throw new PlatformError("BAD_GPA", `VMSA GPA 0x${BigInt(vmsaGpa).toString(16)} is outside guest memory`, { gpa: vmsaGpa });
  }
  if (core.running.has(vcpu)) throw new PlatformError("BAD_VCPU", `vCPU ${vcpu} is already running`, { vcpu });
  core.vmruns++;
  if (vmsaGpa % BigInt(PAGE) !== 0n) return invalid(core);
  const pfn = Number(vmsaGpa) / PAGE;
  if (!isVmsaPage(core.rmp, pfn)) return invalid(core);
  if (core.env.vmsaInUse(pfn)) return invalid(core);
  const page = core.mem.pageForWrite(pfn);
  const vmpl = page[VMSA_OFF.vmpl]!;
  if (vmpl > 3) return invalid(core);
  const program = core.programs[vmpl];
  if (program === undefined) throw new PlatformError("BAD_ARGUMENT", `no program installed for VMPL${vmpl}`, { vmpl });

  const cpu = new VcpuCpu(core.env, vcpu, vmsaGpa, page, vmpl);
  core.running.set(vcpu, pfn);
  core.lastVmsa[vcpu] = pfn;
  let retired = 0;
  let code: number = VMEXIT_INTR;
  let info1 = 0n;
  let info2 = 0n;
  try {
    for (let i = 0; i < budget; i++) {
      // RFLAGS.TF as the instruction starts: that is what decides the single-step trap.
      const tf = (page[RFLAGS_TF_BYTE]! & 1) !== 0;
      cpu.beginInstruction();
      let r: StepResult;
      try {
        r = program.step(cpu);
      } catch (e) {
        if (!(e instanceof CpuFault)) throw e;
        const out = deliver(program, cpu, page, e);
        if (out === undefined) continue;
        [code, info1, info2] = out;
        break;
      }
      retired++;
      if (r.kind === "vmgexit") {
        code = SVM_EXIT.VMGEXIT;
        break;
      }
      if (r.kind === "hlt") {
        code = VMEXIT_HLT;
        break;
      }
      if (tf) {
        code = SVM_EXIT.EXCP_DB;
        break;
      }
    }
  } finally {
    cpu.revoke();
    core.running.delete(vcpu);
    const row = core.retired[vcpu]!;
    row[vmpl] = row[vmpl]! + retired;
  }
  const rip = rd64(page, VMSA_OFF.rip);
  wr64(page, VMSA_OFF.exitCode, BigInt(code));
  wr64(page, VMSA_OFF.exitInfo1, info1);
  wr64(page, VMSA_OFF.exitInfo2, info2);
  wr64(page, VMSA_OFF.exitIntInfo, 0n);
  wr64(page, VMSA_OFF.nrip, code === SVM_EXIT.NPF ? BigInt.asUintN(64, rip + BigInt(cpu.instructionLength)) : rip);
  count(core, code);
  return { code, info1, info2, ghcbMsr: core.env.ghcbMsr(pfn), retired };
}

/**
 * A fault escaped `step`: #NPF exits to the host; a guest exception goes to the program's
 * handler (CR2 is written first for #PF; the handler starts with no instruction length
 * declared). Returns the exit, or undefined to keep running.
 */
function deliver(program: VcpuProgram, cpu: VcpuCpu, page: Uint8Array, e: CpuFault): [number, bigint, bigint] | undefined {
  if (e.code === "npf") return [SVM_EXIT.NPF, e.errorCode, e.gpa ?? 0n];
  if (e.code === "pf" && e.va !== undefined) wr64(page, VMSA_OFF.cr2, e.va);
  // The handler is not the faulting instruction: a #NPF it raises has its own length (if any).
  cpu.beginInstruction();
  let handled = false;
  try {
    handled = program.exception?.(cpu, e) === true;
  } catch (inner) {
    if (!(inner instanceof CpuFault)) throw inner;
    if (inner.code === "npf") return [SVM_EXIT.NPF, inner.errorCode, inner.gpa ?? 0n];
    handled = false;
  }
  return handled ? undefined : [VMEXIT_SHUTDOWN, 0n, 0n];
}

/**
 * Whether VMRUN takes frame `pfn` as a VMSA: on an SEV machine its RMP entry must be
 * assigned to this guest at this GPA with the VMSA bit; without SEV any page of memory.
 */
export function isVmsaPage(rmp: RmpTable | undefined, pfn: number): boolean {
  if (rmp === undefined) return true;
  const e = rmp.view(pfn);
  return e.assigned && e.vmsa && e.asid === rmp.asid && rmp.gpaPfn(pfn) === pfn;
}

function invalid(core: RunCore): VmExit {
  count(core, VMEXIT_INVALID);
  return { code: VMEXIT_INVALID, info1: 0n, info2: 0n, ghcbMsr: 0n, retired: 0 };
}

function count(core: RunCore, code: number): void {
  core.exits.set(code, (core.exits.get(code) ?? 0) + 1);
}

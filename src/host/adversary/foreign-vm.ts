/**
 * "A report from another VM": the hostile host launches a small CVM of its own (on its own
 * simulated machine — the attacker controls that guest's code, so it can read its own
 * VMPCK0) and has it ask its ASP for an attestation report. The response page it gets is a
 * genuine guest message — encrypted under the other VM's VMPCK0 — that the host can then
 * hand to the victim in place of the victim's own response.
 */
import { createCipheriv } from "node:crypto";
import type { Clock, Gpa } from "../../shared/base/index.js";
import { PAGE_SIZE, gpa } from "../../shared/base/index.js";
import {
  GUEST_MSG_HEADER_SIZE,
  MSG_REPORT_REQ,
  QEMU_BSP_EIP,
  QEMU_DEFAULT_SEV_FEATURES,
  SNP_MSG_TYPE,
  guestMessageAad,
  guestMessageIv,
  qemuResetVmsa,
  serializeGuestMessageHeader,
  vmpckOffset,
  vmsaPage,
} from "../../shared/spec/index.js";
import { createMachine } from "../../platform/index.js";
import type { Cpu, StepResult, VcpuProgram } from "../../platform/index.js";

const VMSA_GPA = gpa(0x1000);
const SECRETS_GPA = gpa(0x2000);
const REQUEST_GPA = gpa(0x3000);
const RESPONSE_GPA = gpa(0x4000);
/** REPORT_DATA of the foreign report: recognisable in logs and tests. */
export const FOREIGN_REPORT_DATA = new TextEncoder().encode("00SEVen: a report of another VM".padEnd(64, "\0"));

/** The attacker's own VMPL0 code: one report request with VMPCK0 and seqno 1, then HLT. */
class ReportRequester implements VcpuProgram {
  step(cpu: Cpu): StepResult {
    const key = cpu.readPhys((SECRETS_GPA + BigInt(vmpckOffset(0))) as Gpa, 32);
    const payload = MSG_REPORT_REQ.serialize({ reportData: FOREIGN_REPORT_DATA, vmpl: 0, keySel: 0 });
    const page = new Uint8Array(PAGE_SIZE);
    serializeGuestMessageHeader({ msgSeqno: 1n, msgType: SNP_MSG_TYPE.REPORT_REQ, msgSz: payload.length, msgVmpck: 0 }, page);
    const c = createCipheriv("aes-256-gcm", key, guestMessageIv(1n));
    c.setAAD(guestMessageAad(page));
    page.set(c.update(payload), GUEST_MSG_HEADER_SIZE);
    c.final();
    page.set(c.getAuthTag(), 0);
    cpu.writePhys(REQUEST_GPA, page, { shared: true });
    return { kind: "hlt" };
  }
}

/** Launches the foreign VM, runs its request and returns the 4 KiB response page. */
export function foreignReportResponse(seed: string, clock: Clock): Uint8Array {
  const m = createMachine({ memoryBytes: 1n << 20n, vcpus: 1, seed: `foreign-vm/${seed}`, clock });
  const hv = m.hypervisor;
  m.installProgram(0, new ReportRequester());
  hv.asp.launchStart({ policy: 0x30000n });
  hv.asp.launchUpdate({ gpa: SECRETS_GPA, type: "secrets" });
  hv.write(VMSA_GPA, vmsaPage(qemuResetVmsa({ eip: QEMU_BSP_EIP, sevFeatures: QEMU_DEFAULT_SEV_FEATURES, rdx: 0x00a00f11n })));
  hv.asp.launchUpdate({ gpa: VMSA_GPA, type: "vmsa" });
  hv.asp.launchFinish({});
  hv.vmrun(0, VMSA_GPA, 4);
  const status = hv.asp.guestRequest(REQUEST_GPA, RESPONSE_GPA);
  if (status !== 0) throw new Error(`the foreign VM's guest request failed with status ${status}`);
  return hv.read(RESPONSE_GPA, PAGE_SIZE);
}

/**
 * Genuine attestation reports a hostile host can get hold of, for the impostor to present:
 *
 * - `otherVmReport`: the host launches a small CVM of its own on the same chip (same
 *   machine seed → the same ASP, the same ARK/ASK/VCEK the owner trusts) whose VMPL0 code
 *   it wrote: that code asks the ASP for a VMPL0 report with any REPORT_DATA — the
 *   owner's binding included. Only the measurement (the attacker's code) differs.
 * - `vmpl1Report`: a rootkit in the owner's guest hands the host VMPCK1 (it is in the
 *   guest's secrets copy); the host sends the ASP a report request under VMPCK1 through
 *   two shared pages: a genuine report of the owner's VM, with the owner's binding — at
 *   VMPL 1.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { PAGE_SIZE, gpa, type Clock, type Gpa } from "../../../src/shared/base/index.js";
import {
  GUEST_MSG_AUTHTAG_LEN,
  GUEST_MSG_HEADER_SIZE,
  KEY_SEL,
  MSG_REPORT_REQ,
  MSG_REPORT_RSP_REPORT_OFFSET,
  QEMU_BSP_EIP,
  QEMU_DEFAULT_SEV_FEATURES,
  REPORT_SIZE,
  SNP_MSG_TYPE,
  guestMessageAad,
  guestMessageIv,
  parseGuestMessage,
  parseMsgReportRsp,
  qemuResetVmsa,
  serializeGuestMessageHeader,
  vmpckOffset,
  vmsaPage,
} from "../../../src/shared/spec/index.js";
import { createMachine, type Cpu, type StepResult, type VcpuProgram } from "../../../src/platform/index.js";
import type { Evidence } from "./impostor.js";
import type { SecWorld } from "./world.js";

/** A guest request page: MSG_REPORT_REQ for `vmpl` with `reportData`, AES-256-GCM under `key`. */
export function reportRequestPage(key: Uint8Array, vmpck: number, seqno: bigint, reportData: Uint8Array, vmpl: number): Uint8Array {
  const payload = MSG_REPORT_REQ.serialize({ reportData, vmpl, keySel: KEY_SEL.DEFAULT });
  const page = new Uint8Array(PAGE_SIZE);
  serializeGuestMessageHeader({ msgSeqno: seqno, msgType: SNP_MSG_TYPE.REPORT_REQ, msgSz: payload.length, msgVmpck: vmpck }, page);
  const c = createCipheriv("aes-256-gcm", key, guestMessageIv(seqno), { authTagLength: GUEST_MSG_AUTHTAG_LEN });
  c.setAAD(guestMessageAad(page));
  page.set(Buffer.concat([c.update(payload), c.final()]), GUEST_MSG_HEADER_SIZE);
  page.set(c.getAuthTag(), 0);
  return page;
}

/** Decrypts a MSG_REPORT_RSP page under `key`; returns the report bytes (throws if the status is not success). */
export function reportFromResponse(key: Uint8Array, page: Uint8Array): Uint8Array {
  const { header, ciphertext } = parseGuestMessage(page);
  const d = createDecipheriv("aes-256-gcm", key, guestMessageIv(header.msgSeqno), { authTagLength: GUEST_MSG_AUTHTAG_LEN });
  d.setAAD(guestMessageAad(page));
  d.setAuthTag(page.subarray(0, GUEST_MSG_AUTHTAG_LEN));
  const rsp = new Uint8Array(Buffer.concat([d.update(ciphertext), d.final()]));
  const r = parseMsgReportRsp(rsp);
  if (r.status !== 0) throw new Error(`MSG_REPORT_RSP status 0x${r.status.toString(16)}`);
  return rsp.slice(MSG_REPORT_RSP_REPORT_OFFSET, MSG_REPORT_RSP_REPORT_OFFSET + REPORT_SIZE);
}

/** `report` with the certificates of the world's chip (public: AMD's KDS serves them; the host caches them for the guest). */
export function withChipCertificates(sw: SecWorld, report: Uint8Array): Evidence {
  const c = sw.world.machine.hypervisor.asp.certificates();
  return { report, vcek: c.vcek, chain: [c.ask, c.ark] };
}

const VMSA_GPA = gpa(0x1000);
const SECRETS_GPA = gpa(0x2000);
const REQUEST_GPA = gpa(0x3000);
const RESPONSE_GPA = gpa(0x4000);

/** The attacker's own VMPL0 code: one report request under its VMPCK0, then HLT. */
class AttackerCode implements VcpuProgram {
  key: Uint8Array | undefined;
  constructor(readonly reportData: Uint8Array) {}
  step(cpu: Cpu): StepResult {
    this.key = cpu.readPhys((SECRETS_GPA + BigInt(vmpckOffset(0))) as Gpa, 32);
    cpu.writePhys(REQUEST_GPA, reportRequestPage(this.key, 0, 1n, this.reportData, 0), { shared: true });
    return { kind: "hlt" };
  }
}

/** A VMPL0 report of another VM the host launched on the same chip as the world `seed`, with REPORT_DATA of its choice. */
export function otherVmReport(seed: string, clock: Clock, reportData: Uint8Array, policy = 0x30000n): Uint8Array {
  const m = createMachine({ memoryBytes: 1n << 20n, vcpus: 1, seed, clock });
  const hv = m.hypervisor;
  const code = new AttackerCode(reportData);
  m.installProgram(0, code);
  hv.asp.launchStart({ policy });
  hv.asp.launchUpdate({ gpa: SECRETS_GPA, type: "secrets" });
  hv.write(VMSA_GPA, vmsaPage(qemuResetVmsa({ eip: QEMU_BSP_EIP, sevFeatures: QEMU_DEFAULT_SEV_FEATURES, rdx: 0x00a00f11n })));
  hv.asp.launchUpdate({ gpa: VMSA_GPA, type: "vmsa" });
  hv.asp.launchFinish({});
  hv.vmrun(0, VMSA_GPA, 4);
  const status = hv.asp.guestRequest(REQUEST_GPA, RESPONSE_GPA);
  if (status !== 0) throw new Error(`the attacker VM's guest request failed with status ${status}`);
  return reportFromResponse(code.key!, hv.read(RESPONSE_GPA, PAGE_SIZE));
}

/**
 * A report of the world's own VM at VMPL 1 with `reportData`, requested by the host under
 * VMPCK1 leaked by the guest (read here from the guest's secrets copy, as the rootkit
 * would). Uses the guest's two GHCB pages (shared) as request and response pages and puts
 * their contents back; runs between scheduler rounds, so the guest never sees them change.
 * `seqno`: the next unused VMPCK1 sequence number (1 in a world where the guest never used it).
 */
export function vmpl1Report(sw: SecWorld, reportData: Uint8Array, seqno = 1n): Evidence {
  const hv = sw.world.machine.hypervisor;
  const l = sw.world.layout;
  const vmpck1 = sw.plaintext(l.guestSecrets + BigInt(vmpckOffset(1)), 32);
  const [req, rsp] = [l.guestGhcb[0]!, l.guestGhcb[1]!];
  const saved = [hv.read(req, PAGE_SIZE), hv.read(rsp, PAGE_SIZE)] as const;
  try {
    hv.write(req, reportRequestPage(vmpck1, 1, seqno, reportData, 1));
    const status = hv.asp.guestRequest(req, rsp);
    if (status !== 0) throw new Error(`the VMPCK1 guest request failed with status ${status}`);
    return withChipCertificates(sw, reportFromResponse(vmpck1, hv.read(rsp, PAGE_SIZE)));
  } finally {
    hv.write(req, saved[0]);
    hv.write(rsp, saved[1]);
  }
}

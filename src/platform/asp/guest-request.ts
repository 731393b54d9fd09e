/**
 * SNP_GUEST_REQUEST — SNP.md §6.4 and §1.5. The hypervisor hands the firmware a request page
 * and a response page (both shared, i.e. hypervisor-owned); the firmware:
 *
 *  1. parses the guest-message header strictly (shared/spec guest-message.ts);
 *  2. checks MSG_SEQNO against the sequence number it expects next for MSG_VMPCK (the first
 *     is 1; each exchange consumes two: request n, response n+1, next request n+2);
 *  3. decrypts with AES-256-GCM, key VMPCK[MSG_VMPCK], IV = MSG_SEQNO ‖ 0⁴, AAD = header
 *     bytes 0x30..0x5F, tag = AUTHTAG[0..16];
 *  4. answers MSG_REPORT_REQ with MSG_REPORT_RSP (type + 1, seqno + 1, same version and
 *     VMPCK), encrypted the same way under the same VMPCK.
 *
 * A request that fails 1–3 gets a firmware status (return value), the response page is
 * left untouched and the expected sequence number does not move. A well-formed report
 * request that the firmware refuses (VMPL below the VMPCK's, bad KEY_SEL) gets a
 * successful exchange whose MSG_REPORT_RSP carries the error STATUS.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { PAGE_SIZE, isPageAligned } from "../../shared/base/index.js";
import type { Gpa } from "../../shared/base/index.js";
import {
  GUEST_MSG_AUTHTAG_LEN,
  GUEST_MSG_HEADER_SIZE,
  KEY_SEL,
  MSG_REPORT_REQ_SIZE,
  MSG_REPORT_RSP,
  SNP_MSG_TYPE,
  guestMessageAad,
  guestMessageIv,
  parseGuestMessage,
  parseMsgReportReq,
  serializeGuestMessageHeader,
} from "../../shared/spec/index.js";
import type { GuestMessageHeader } from "../../shared/spec/index.js";
import { REPORT_STATUS, SEV_RET } from "./firmware-status.js";
import type { GuestContext } from "./guest-context.js";
import type { AspHardware } from "./hardware.js";

const U64_MAX = (1n << 64n) - 1n;

export interface GuestRequestEnv {
  readonly hw: AspHardware;
  readonly ctx: GuestContext;
  /** Whether a VLEK is installed (KEY_SEL 0 would pick it). The model has none. */
  readonly vlekInstalled: boolean;
  /** Builds and signs a report for the running guest. */
  readonly makeReport: (req: { reportData: Uint8Array; vmpl: number }) => Uint8Array;
}

export function guestRequest(env: GuestRequestEnv, requestGpa: Gpa, responseGpa: Gpa): number {
  const { hw, ctx } = env;
  if (ctx.phase !== "running") return SEV_RET.INVALID_GUEST_STATE;
  for (const g of [requestGpa, responseGpa]) {
    if (typeof g !== "bigint" || g < 0n || !isPageAligned(g) || g + BigInt(PAGE_SIZE) > hw.memoryBytes) return SEV_RET.INVALID_ADDRESS;
    if (hw.rmpGet(g).assigned) return SEV_RET.INVALID_PAGE_STATE;
  }
  const page = hw.readPage(requestGpa);
  let header: GuestMessageHeader;
  let ciphertext: Uint8Array;
  try {
    ({ header, ciphertext } = parseGuestMessage(page));
  } catch {
    return SEV_RET.INVALID_PARAM;
  }
  if (header.msgType % 2 !== 1) return SEV_RET.INVALID_PARAM;
  const vmpck = header.msgVmpck;
  const expected = ctx.nextSeqno[vmpck];
  if (expected === undefined || header.msgSeqno !== expected) return SEV_RET.INVALID_PARAM;
  if (header.msgSeqno >= U64_MAX - 1n) return SEV_RET.AEAD_OFLOW;
  const key = ctx.vmpck[vmpck];
  if (key === undefined) return SEV_RET.INVALID_PARAM;

  const plaintext = aeadOpen(key, header.msgSeqno, guestMessageAad(page), ciphertext, page.subarray(0, GUEST_MSG_AUTHTAG_LEN));
  if (plaintext === undefined) return SEV_RET.BAD_SIGNATURE;

  let payload: Uint8Array;
  switch (header.msgType) {
    case SNP_MSG_TYPE.REPORT_REQ:
      payload = reportResponse(env, vmpck, plaintext);
      break;
    default:
      return SEV_RET.UNSUPPORTED;
  }

  const seqno = header.msgSeqno + 1n;
  const out = new Uint8Array(PAGE_SIZE);
  serializeGuestMessageHeader(
    { msgSeqno: seqno, msgType: header.msgType + 1, msgVersion: header.msgVersion, msgSz: payload.length, msgVmpck: vmpck },
    out,
  );
  const { ct, tag } = aeadSeal(key, seqno, guestMessageAad(out), payload);
  out.set(tag, 0);
  out.set(ct, GUEST_MSG_HEADER_SIZE);
  hw.writePage(responseGpa, out);
  ctx.nextSeqno[vmpck] = header.msgSeqno + 2n;
  return SEV_RET.SUCCESS;
}

/** MSG_REPORT_RSP for a decrypted MSG_REPORT_REQ sent under VMPCK `vmpck`. */
function reportResponse(env: GuestRequestEnv, vmpck: number, plaintext: Uint8Array): Uint8Array {
  const refuse = (status: number) => MSG_REPORT_RSP.serialize({ status, reportSize: 0 });
  if (plaintext.length !== MSG_REPORT_REQ_SIZE) return refuse(REPORT_STATUS.INVALID_PARAM);
  let req;
  try {
    req = parseMsgReportReq(plaintext);
  } catch {
    return refuse(REPORT_STATUS.INVALID_PARAM);
  }
  // VMPCKn belongs to VMPLn: it may only ask for reports of VMPL n..3 (SNP.md §1.5).
  if (req.vmpl < vmpck) return refuse(REPORT_STATUS.INVALID_PARAM);
  const sel = req.keySel;
  const useVlek = sel === KEY_SEL.VLEK || (sel === KEY_SEL.DEFAULT && env.vlekInstalled);
  if (sel === KEY_SEL.RESERVED || (useVlek && !env.vlekInstalled)) return refuse(REPORT_STATUS.INVALID_KEY_SELECTION);
  const report = env.makeReport({ reportData: req.reportData, vmpl: req.vmpl });
  return MSG_REPORT_RSP.serialize({ status: REPORT_STATUS.SUCCESS, reportSize: report.length, report });
}

function aeadOpen(key: Uint8Array, seqno: bigint, aad: Uint8Array, ct: Uint8Array, tag: Uint8Array): Uint8Array | undefined {
  try {
    const d = createDecipheriv("aes-256-gcm", key, guestMessageIv(seqno), { authTagLength: GUEST_MSG_AUTHTAG_LEN });
    d.setAAD(aad);
    d.setAuthTag(tag);
    const a = d.update(ct);
    const b = d.final();
    return new Uint8Array(Buffer.concat([a, b]));
  } catch {
    return undefined;
  }
}

export function aeadSeal(key: Uint8Array, seqno: bigint, aad: Uint8Array, pt: Uint8Array): { ct: Uint8Array; tag: Uint8Array } {
  const c = createCipheriv("aes-256-gcm", key, guestMessageIv(seqno), { authTagLength: GUEST_MSG_AUTHTAG_LEN });
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(pt), c.final()]);
  return { ct: new Uint8Array(ct), tag: new Uint8Array(c.getAuthTag()) };
}

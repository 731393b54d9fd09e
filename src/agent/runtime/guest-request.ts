/**
 * The agent's secure channel to the AMD secure processor: SNP guest messages (SNP.md §6.4)
 * under VMPCK0, which only the agent holds. MSG_REPORT_REQ asks for a VMPL0 report
 * (SNP.md §1.5). The host carries request and response pages and may drop, replay, swap or
 * tamper with them; the response is believed only if it authenticates under VMPCK0 with
 * the expected sequence number (request + 1), type (REPORT_RSP), version and VMPCK, and
 * the report inside is a VMPL0 report of exactly the requested REPORT_DATA.
 *
 * Sequence numbers: request n, response n + 1, next request n + 2 (the first is 1). An IV
 * is never reused: after any failure once a request has left, VMPCK0 is wiped and the
 * agent stops asking (Linux `snp_disable_vmpck`); attestation is then unavailable until
 * the next boot.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { bytesEqual, isAllZero, PAGE_SIZE, readU32 } from "../../shared/base/index.js";
import {
  GUEST_MSG_AUTHTAG_LEN,
  GUEST_MSG_HEADER_SIZE,
  GUEST_MSG_VERSION,
  KEY_SEL,
  MSG_REPORT_REQ,
  MSG_REPORT_RSP_SIZE,
  REPORT_SIZE,
  SNP_MSG_TYPE,
  SNP_REPORT_STATUS,
  guestMessageAad,
  guestMessageIv,
  parseGuestMessage,
  parseMsgReportRsp,
  serializeGuestMessageHeader,
} from "../../shared/spec/index.js";
import { SevenError } from "../../shared/base/index.js";

/** Offsets in ATTESTATION_REPORT (SNP.md §10 item 3). */
const REPORT_VMPL_OFFSET = 0x30;
const REPORT_DATA_OFFSET = 0x50;

export type GuestRequestErrorCode = "DISABLED" | "BAD_RESPONSE" | "REFUSED" | "NOT_PENDING";

export class GuestRequestError extends SevenError<GuestRequestErrorCode> {
  constructor(code: GuestRequestErrorCode, message: string) {
    super("agent", code, message);
  }
}

export interface SealedRequest {
  readonly page: Uint8Array;
  readonly seqno: bigint;
  readonly reportData: Uint8Array;
}

export class GuestChannel {
  #key: Uint8Array | undefined;
  #next = 1n;
  #pending: SealedRequest | undefined;
  /** Exchanges that completed and verified. */
  completed = 0;

  constructor(vmpck0: Uint8Array) {
    if (vmpck0.length !== 32) throw new RangeError("VMPCK0 is 32 bytes");
    this.#key = isAllZero(vmpck0) ? undefined : vmpck0.slice();
  }

  get disabled(): boolean {
    return this.#key === undefined;
  }

  get pending(): SealedRequest | undefined {
    return this.#pending;
  }

  /** The request page for a VMPL0 report of `reportData`; consumes a sequence number. */
  sealReportRequest(reportData: Uint8Array): SealedRequest {
    const key = this.#key;
    if (key === undefined) throw new GuestRequestError("DISABLED", "VMPCK0 is not available");
    if (this.#pending !== undefined) throw new GuestRequestError("REFUSED", "a guest request is already in flight");
    if (reportData.length !== 64) throw new RangeError("REPORT_DATA is 64 bytes");
    const payload = MSG_REPORT_REQ.serialize({ reportData, vmpl: 0, keySel: KEY_SEL.DEFAULT });
    const seqno = this.#next;
    const page = new Uint8Array(PAGE_SIZE);
    serializeGuestMessageHeader({ msgSeqno: seqno, msgType: SNP_MSG_TYPE.REPORT_REQ, msgVersion: GUEST_MSG_VERSION, msgSz: payload.length, msgVmpck: 0 }, page);
    const c = createCipheriv("aes-256-gcm", key, guestMessageIv(seqno), { authTagLength: GUEST_MSG_AUTHTAG_LEN });
    c.setAAD(guestMessageAad(page));
    const ct = Buffer.concat([c.update(payload), c.final()]);
    page.set(c.getAuthTag(), 0);
    page.set(ct, GUEST_MSG_HEADER_SIZE);
    this.#next = seqno + 2n;
    this.#pending = { page, seqno, reportData: reportData.slice() };
    return this.#pending;
  }

  /**
   * Checks the response page of the pending request and returns the report. Any failure
   * wipes VMPCK0 (the request left; its IV must never be used again) and throws.
   */
  openReportResponse(page: Uint8Array): Uint8Array {
    const sent = this.#pending;
    const key = this.#key;
    this.#pending = undefined;
    if (sent === undefined) throw new GuestRequestError("NOT_PENDING", "no guest request in flight");
    try {
      if (key === undefined) throw new GuestRequestError("DISABLED", "VMPCK0 is not available");
      return this.#open(key, sent, page);
    } catch (e) {
      this.wipe();
      if (e instanceof GuestRequestError) throw e;
      throw new GuestRequestError("BAD_RESPONSE", "the response is not an authentic answer to our request");
    }
  }

  /** The request left but no usable answer will come (host refused, firmware error). */
  abandon(): void {
    if (this.#pending === undefined) return;
    this.#pending = undefined;
    this.wipe();
  }

  wipe(): void {
    this.#key?.fill(0);
    this.#key = undefined;
  }

  #open(key: Uint8Array, sent: SealedRequest, page: Uint8Array): Uint8Array {
    const { header: h, ciphertext } = parseGuestMessage(page);
    if (h.msgSeqno !== sent.seqno + 1n || h.msgType !== SNP_MSG_TYPE.REPORT_RSP || h.msgVersion !== GUEST_MSG_VERSION || h.msgVmpck !== 0) {
      throw new GuestRequestError("BAD_RESPONSE", "response header does not answer our request (sequence number, type, version or VMPCK)");
    }
    if (h.msgSz !== MSG_REPORT_RSP_SIZE) throw new GuestRequestError("BAD_RESPONSE", "response size is not MSG_REPORT_RSP's");
    const d = createDecipheriv("aes-256-gcm", key, guestMessageIv(h.msgSeqno), { authTagLength: GUEST_MSG_AUTHTAG_LEN });
    d.setAAD(guestMessageAad(page));
    d.setAuthTag(page.subarray(0, GUEST_MSG_AUTHTAG_LEN));
    const pt = new Uint8Array(Buffer.concat([d.update(ciphertext), d.final()]));
    const rsp = parseMsgReportRsp(pt);
    if (rsp.status !== SNP_REPORT_STATUS.SUCCESS) throw new GuestRequestError("REFUSED", `the firmware refused the report (status 0x${rsp.status.toString(16)})`);
    const report = rsp.report;
    if (report.length !== REPORT_SIZE || readU32(report, REPORT_VMPL_OFFSET) !== 0) throw new GuestRequestError("BAD_RESPONSE", "not a VMPL0 report");
    if (!bytesEqual(report.subarray(REPORT_DATA_OFFSET, REPORT_DATA_OFFSET + 64), sent.reportData)) {
      throw new GuestRequestError("BAD_RESPONSE", "the report carries other REPORT_DATA");
    }
    this.completed++;
    return report.slice();
  }
}

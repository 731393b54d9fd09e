/**
 * A fake secure processor for unit tests of the agent's guest requests (the real one is in
 * src/platform/asp and is used by the integration tests): it answers MSG_REPORT_REQ under
 * a VMPCK with an unsigned report carrying the requested VMPL and REPORT_DATA.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { PAGE_SIZE, writeU32 } from "../../shared/base/index.js";
import {
  GUEST_MSG_AUTHTAG_LEN,
  GUEST_MSG_HEADER_SIZE,
  MSG_REPORT_RSP,
  REPORT_SIZE,
  guestMessageAad,
  guestMessageIv,
  parseGuestMessage,
  parseMsgReportReq,
  serializeGuestMessageHeader,
} from "../../shared/spec/index.js";

export class FakeAsp {
  next = 1n;
  /** Overrides for tests: the VMPL written into the report, the response status. */
  reportVmpl: number | undefined;
  status = 0;
  constructor(readonly vmpck: Uint8Array) {}

  /** Answers a request page; returns the response page, or a firmware error number. */
  answer(req: Uint8Array): Uint8Array | number {
    const { header: h, ciphertext } = parseGuestMessage(req);
    if (h.msgSeqno !== this.next) return 0x16;
    const d = createDecipheriv("aes-256-gcm", this.vmpck, guestMessageIv(h.msgSeqno), { authTagLength: GUEST_MSG_AUTHTAG_LEN });
    d.setAAD(guestMessageAad(req));
    d.setAuthTag(req.subarray(0, GUEST_MSG_AUTHTAG_LEN));
    const pt = new Uint8Array(Buffer.concat([d.update(ciphertext), d.final()]));
    const r = parseMsgReportReq(pt);
    const report = new Uint8Array(REPORT_SIZE);
    writeU32(report, 0, 2);
    writeU32(report, 0x30, this.reportVmpl ?? r.vmpl);
    report.set(r.reportData, 0x50);
    const payload = MSG_REPORT_RSP.serialize({ status: this.status, reportSize: REPORT_SIZE, report });
    const seq = h.msgSeqno + 1n;
    const out = new Uint8Array(PAGE_SIZE);
    serializeGuestMessageHeader({ msgSeqno: seq, msgType: h.msgType + 1, msgVersion: h.msgVersion, msgSz: payload.length, msgVmpck: h.msgVmpck }, out);
    const c = createCipheriv("aes-256-gcm", this.vmpck, guestMessageIv(seq), { authTagLength: GUEST_MSG_AUTHTAG_LEN });
    c.setAAD(guestMessageAad(out));
    const ct = Buffer.concat([c.update(payload), c.final()]);
    out.set(c.getAuthTag(), 0);
    out.set(ct, GUEST_MSG_HEADER_SIZE);
    this.next = h.msgSeqno + 2n;
    return out;
  }
}

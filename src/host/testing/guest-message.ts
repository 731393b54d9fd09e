/** Sealing and opening SNP guest messages for the host's tests (SNP.md §6.4). */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { PAGE_SIZE } from "../../shared/base/index.js";
import {
  GUEST_MSG_AUTHTAG_LEN,
  GUEST_MSG_HEADER_SIZE,
  MSG_REPORT_REQ,
  SNP_MSG_TYPE,
  guestMessageAad,
  guestMessageIv,
  parseGuestMessage,
  serializeGuestMessageHeader,
} from "../../shared/spec/index.js";

export function sealReportRequest(key: Uint8Array, seqno: bigint, vmpck: number, reportData: Uint8Array): Uint8Array {
  const payload = MSG_REPORT_REQ.serialize({ reportData, vmpl: vmpck, keySel: 0 });
  const page = new Uint8Array(PAGE_SIZE);
  serializeGuestMessageHeader({ msgSeqno: seqno, msgType: SNP_MSG_TYPE.REPORT_REQ, msgSz: payload.length, msgVmpck: vmpck }, page);
  const c = createCipheriv("aes-256-gcm", key, guestMessageIv(seqno));
  c.setAAD(guestMessageAad(page));
  page.set(c.update(payload), GUEST_MSG_HEADER_SIZE);
  c.final();
  page.set(c.getAuthTag(), 0);
  return page;
}

/** Opens a response page; throws if the tag does not verify under `key`. */
export function openResponse(key: Uint8Array, page: Uint8Array): { seqno: bigint; msgType: number; payload: Uint8Array } {
  const { header, ciphertext } = parseGuestMessage(page);
  const d = createDecipheriv("aes-256-gcm", key, guestMessageIv(header.msgSeqno));
  d.setAAD(guestMessageAad(page));
  d.setAuthTag(page.subarray(0, GUEST_MSG_AUTHTAG_LEN));
  const payload = new Uint8Array(Buffer.concat([d.update(ciphertext), d.final()]));
  return { seqno: header.msgSeqno, msgType: header.msgType, payload };
}

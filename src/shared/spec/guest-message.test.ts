// Guest messages (SNP.md §6.4), report request/response payloads (§1.5) and the secrets page
// (§6.4). Offsets copied by hand from SNP.md.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { DecodeError, toHex } from "../base/index.js";
import {
  GUEST_MSG_HEADER,
  SNP_MSG_TYPE,
  expectedResponse,
  guestMessageAad,
  guestMessageIv,
  parseGuestMessage,
  parseGuestMessageHeader,
  serializeGuestMessageHeader,
} from "./guest-message.js";
import { KEY_SEL, MSG_REPORT_REQ, MSG_REPORT_RSP, SNP_REPORT_STATUS, parseMsgReportReq, parseMsgReportRsp } from "./msg-report.js";
import { SECRETS_PAGE, secretsPageForVmpl, vmpckOffset } from "./secrets-page.js";
import { parseAttestationReport } from "./attestation-report.js";
import { readVector } from "./testing/vectors.js";

function offsets(l: { size: number; field(n: string): { offset: number; size: number } }, size: number, rows: [string, number, number][]): void {
  assert.equal(l.size, size);
  for (const [n, o, s] of rows) assert.deepEqual([l.field(n).offset, l.field(n).size], [o, s], n);
}

test("guest message header offsets (SNP.md §6.4)", () => {
  offsets(GUEST_MSG_HEADER, 0x60, [
    ["authTag", 0x00, 32], ["msgSeqno", 0x20, 8], ["reserved_0x28", 0x28, 8], ["algo", 0x30, 1], ["hdrVersion", 0x31, 1],
    ["hdrSz", 0x32, 2], ["msgType", 0x34, 1], ["msgVersion", 0x35, 1], ["msgSz", 0x36, 2], ["reserved_0x38", 0x38, 4],
    ["msgVmpck", 0x3c, 1], ["reserved_0x3d", 0x3d, 35],
  ]);
  assert.deepEqual([SNP_MSG_TYPE.REPORT_REQ, SNP_MSG_TYPE.REPORT_RSP, SNP_MSG_TYPE.TSC_INFO_REQ, SNP_MSG_TYPE.VMRK_RSP], [5, 6, 17, 14]);
});

test("report request/response offsets (SNP.md §1.5)", () => {
  offsets(MSG_REPORT_REQ, 0x60, [["reportData", 0, 64], ["vmpl", 0x40, 4], ["keySel", 0x44, 4], ["reserved_0x48", 0x48, 24]]);
  offsets(MSG_REPORT_RSP, 0x4c0, [["status", 0, 4], ["reportSize", 4, 4], ["reserved_0x08", 8, 24], ["report", 0x20, 0x4a0]]);
  assert.deepEqual(SNP_REPORT_STATUS, { SUCCESS: 0, INVALID_PARAM: 0x16, INVALID_KEY_SELECTION: 0x27 });
  assert.deepEqual(KEY_SEL, { DEFAULT: 0, VCEK: 1, VLEK: 2, RESERVED: 3 });
});

test("secrets page offsets (SNP.md §6.4)", () => {
  offsets(SECRETS_PAGE, 4096, [
    ["version", 0, 4], ["imien", 4, 4], ["fms", 8, 4], ["gosvw", 0x10, 16], ["vmpck0", 0x20, 32], ["vmpck1", 0x40, 32],
    ["vmpck2", 0x60, 32], ["vmpck3", 0x80, 32], ["msgSeqno0", 0xa0, 4], ["msgSeqno3", 0xac, 4], ["apJumpTablePa", 0xb0, 8],
    ["guestUsage", 0xe0, 32], ["vmsaTweakBitmap", 0x100, 64], ["svsmBase", 0x140, 8], ["svsmSize", 0x148, 8],
    ["svsmCaa", 0x150, 8], ["svsmMaxVersion", 0x158, 4], ["svsmGuestVmpl", 0x15c, 1], ["tscFactor", 0x160, 4],
  ]);
  assert.deepEqual([0, 1, 2, 3].map(vmpckOffset), [0x20, 0x40, 0x60, 0x80]);
});

test("IV = seqno LE ‖ 0⁴ and AAD = header[0x30..0x60]", () => {
  assert.equal(toHex(guestMessageIv(1n)), "010000000000000000000000");
  assert.equal(toHex(guestMessageIv(0x0102030405060708n)), "080706050403020100000000");
  assert.throws(() => guestMessageIv(1n << 64n), RangeError);
  const h = serializeGuestMessageHeader({ msgSeqno: 7n, msgType: 5, msgSz: 0x60, msgVmpck: 2 });
  const aad = guestMessageAad(h);
  assert.equal(aad.length, 48);
  assert.equal(toHex(aad.subarray(0, 8)), "0101" + "6000" + "05" + "01" + "6000");
  assert.equal(aad[0x3c - 0x30], 2);
  assert.deepEqual(expectedResponse({ msgSeqno: 7n, msgType: 5, msgVersion: 1 }), { msgSeqno: 8n, msgType: 6, msgVersion: 1 });
});

test("an AES-256-GCM report request sealed by the §6.4 rules opens again; header tampering breaks the tag", () => {
  const key = randomBytes(32);
  const payload = MSG_REPORT_REQ.serialize({ reportData: new Uint8Array(64).fill(0x5a), vmpl: 0, keySel: KEY_SEL.VCEK });
  const page = new Uint8Array(4096);
  serializeGuestMessageHeader({ msgSeqno: 1n, msgType: SNP_MSG_TYPE.REPORT_REQ, msgSz: payload.length, msgVmpck: 0 }, page);
  const c = createCipheriv("aes-256-gcm", key, guestMessageIv(1n));
  c.setAAD(guestMessageAad(page));
  page.set(Buffer.concat([c.update(payload), c.final()]), 0x60);
  page.set(c.getAuthTag(), 0);
  const open = (p: Uint8Array): Uint8Array => {
    const { header, ciphertext } = parseGuestMessage(p);
    const d = createDecipheriv("aes-256-gcm", key, guestMessageIv(header.msgSeqno));
    d.setAAD(guestMessageAad(p));
    d.setAuthTag(p.subarray(0, 16));
    return new Uint8Array(Buffer.concat([d.update(ciphertext), d.final()]));
  };
  const req = parseMsgReportReq(open(page));
  assert.equal(req.keySel, 1);
  assert.equal(toHex(req.reportData), "5a".repeat(64));
  const t = page.slice();
  t[0x3c] = 1; // claim another VMPCK: inside the AAD
  assert.throws(() => open(t));
});

test("guest message header: strict order and codes", () => {
  const good = serializeGuestMessageHeader({ msgSeqno: 3n, msgType: 6, msgSz: 0x4c0, msgVmpck: 3 });
  assert.equal(parseGuestMessageHeader(good).msgVmpck, 3);
  const bad = (mut: (b: Uint8Array) => void, code: string, field: string, len = 0x60): void => {
    const b = new Uint8Array(len);
    b.set(good);
    mut(b);
    assert.throws(() => parseGuestMessageHeader(b), (e: unknown) => e instanceof DecodeError && e.code === code && e.details["field"] === field);
  };
  assert.throws(() => parseGuestMessageHeader(good.subarray(0, 0x5f)), { code: "BAD_LENGTH" });
  bad((b) => (b[0x31] = 2), "UNSUPPORTED_VERSION", "hdrVersion");
  bad((b) => (b[0x32] = 0x50), "BAD_HEADER_SIZE", "hdrSz");
  bad((b) => (b[0x2f] = 1), "RESERVED_NONZERO", "reserved_0x28");
  bad((b) => (b[0x5f] = 1), "RESERVED_NONZERO", "reserved_0x3d");
  bad((b) => (b[0x30] = 2), "BAD_ALGO", "algo");
  bad((b) => (b[0x3c] = 4), "BAD_VMPCK", "msgVmpck");
  bad((b) => (b[0x34] = 15), "BAD_MSG_TYPE", "msgType");
  bad((b) => (b[0x35] = 0), "BAD_MSG_VERSION", "msgVersion");
  bad((b) => (b[0x20] = 0), "BAD_SEQNO", "msgSeqno");
  bad((b) => (b[0x37] = 0x10), "BAD_MSG_SIZE", "msgSz");
  bad(() => {}, "BAD_MSG_SIZE", "msgSz", 0x100); // 0x4c0 payload does not fit in 0xa0 bytes
  const page = new Uint8Array(4096).fill(0xcc);
  page.set(good);
  const { ciphertext } = parseGuestMessage(page);
  assert.equal(ciphertext.length, 0x4c0);
  assert.equal(ciphertext[0x4bf], 0xcc);
});

test("MSG_REPORT_REQ / RSP strict parsers", () => {
  const req = MSG_REPORT_REQ.serialize({ vmpl: 3, keySel: 3 });
  assert.equal(parseMsgReportReq(req).keySel, 3);
  assert.throws(() => parseMsgReportReq(req.subarray(1)), { code: "BAD_LENGTH" });
  assert.throws(() => parseMsgReportReq(MSG_REPORT_REQ.serialize({ keySel: 4 })), { code: "RESERVED_NONZERO" });
  assert.throws(() => parseMsgReportReq(MSG_REPORT_REQ.serialize({ vmpl: 4 })), { code: "BAD_VMPL" });
  const r2 = req.slice();
  r2[0x5f] = 1;
  assert.throws(() => parseMsgReportReq(r2), { code: "RESERVED_NONZERO" });

  const report = readVector("trustee/test-report.bin");
  const rsp = MSG_REPORT_RSP.serialize({ status: 0, reportSize: 0x4a0, report });
  const r = parseMsgReportRsp(rsp);
  assert.equal(parseAttestationReport(r.report).guestSvn, 4);
  assert.throws(() => parseMsgReportRsp(MSG_REPORT_RSP.serialize({ status: 0, reportSize: 0x4a1, report })), { code: "BAD_REPORT_SIZE" });
  assert.equal(parseMsgReportRsp(MSG_REPORT_RSP.serialize({ status: 0x16 })).status, 0x16);
  const r3 = rsp.slice();
  r3[0x1f] = 1;
  assert.throws(() => parseMsgReportRsp(r3), { code: "RESERVED_NONZERO" });
  assert.throws(() => parseMsgReportRsp(rsp.subarray(0, 0x4bf)), { code: "BAD_LENGTH" });
});

test("secrets page copy for a lower VMPL zeroes VMPCK0..n-1 only", () => {
  const page = SECRETS_PAGE.serialize({
    version: 2, vmpck0: new Uint8Array(32).fill(1), vmpck1: new Uint8Array(32).fill(2),
    vmpck2: new Uint8Array(32).fill(3), vmpck3: new Uint8Array(32).fill(4), svsmGuestVmpl: 1,
  });
  const c = SECRETS_PAGE.parse(secretsPageForVmpl(page, 2));
  assert.deepEqual([c.vmpck0[0], c.vmpck1[31], c.vmpck2[0], c.vmpck3[0], c.svsmGuestVmpl], [0, 0, 3, 4, 1]);
  assert.equal(SECRETS_PAGE.parse(page).vmpck0[0], 1, "the original is untouched");
  assert.deepEqual(secretsPageForVmpl(page, 0), page);
});

/**
 * MSG_REPORT_REQ / MSG_REPORT_RSP — the plaintext payloads of guest-message types 5 and 6,
 * SNP.md §1.5 (coconut `SnpReportRequest`/`SnpReportResponse`; Linux uAPI `snp_report_req`).
 *
 * MSG_REPORT_REQ (0x60): REPORT_DATA[64] @0x00, VMPL u32 @0x40, KEY_SEL u32 @0x44 (bits 1:0;
 * 31:2 reserved), reserved[24] @0x48. MSG_REPORT_RSP (0x4C0): STATUS u32 @0x00,
 * REPORT_SIZE u32 @0x04, reserved[24] @0x08, REPORT[0x4A0] @0x20.
 */
import { DecodeError } from "../base/index.js";
import { bytes, defineLayout, mbz, u32 } from "./layout.js";
import type { Parsed } from "./layout.js";
import { REPORT_MAX_VMPL, REPORT_SIZE } from "./attestation-report.js";

export const MSG_REPORT_REQ_SIZE = 0x60;
export const MSG_REPORT_RSP_SIZE = 0x4c0;
export const MSG_REPORT_RSP_REPORT_OFFSET = 0x20;

export const MSG_REPORT_REQ = defineLayout({
  name: "MSG_REPORT_REQ",
  size: MSG_REPORT_REQ_SIZE,
  source: "SNP.md §1.5; coconut SnpReportRequest",
  fields: [
    bytes("reportData", 0x00, 64, "copied into the report at 0x050"),
    u32("vmpl", 0x40, "must be ≥ the requester's VMPL and ≤ 3"),
    u32("keySel", 0x44, "bits 1:0 KEY_SEL, bits 31:2 reserved"),
    mbz("reserved_0x48", 0x48, 24),
  ],
});
export type MsgReportReq = Parsed<typeof MSG_REPORT_REQ.fields>;

export const MSG_REPORT_RSP = defineLayout({
  name: "MSG_REPORT_RSP",
  size: MSG_REPORT_RSP_SIZE,
  source: "SNP.md §1.5; coconut SnpReportResponse",
  fields: [
    u32("status", 0x00, "SNP_REPORT_STATUS"),
    u32("reportSize", 0x04, "= 0x4A0 on success"),
    mbz("reserved_0x08", 0x08, 24),
    bytes("report", MSG_REPORT_RSP_REPORT_OFFSET, REPORT_SIZE, "ATTESTATION_REPORT"),
  ],
});
export type MsgReportRsp = Parsed<typeof MSG_REPORT_RSP.fields>;

/** KEY_SEL values. */
export const KEY_SEL = {
  /** VLEK if one is installed, else VCEK. */
  DEFAULT: 0,
  VCEK: 1,
  VLEK: 2,
  /** Reserved: the firmware answers INVALID_KEY_SELECTION. */
  RESERVED: 3,
} as const;
export const KEY_SEL_MASK = 0x3;

/** MSG_REPORT_RSP.STATUS values. */
export const SNP_REPORT_STATUS = { SUCCESS: 0x00, INVALID_PARAM: 0x16, INVALID_KEY_SELECTION: 0x27 } as const;

function lengthError(what: string, want: number, got: number): DecodeError {
  return new DecodeError("BAD_LENGTH", `${what} is ${got} bytes, need ${want}`, { field: what, expected: want, actual: got });
}

/**
 * Strict parse of a report request: length (exactly 0x60), reserved bytes, KEY_SEL bits 31:2,
 * VMPL ≤ 3. Whether VMPL ≥ the requester's VMPL and KEY_SEL ≠ 3 is the firmware's decision
 * (it answers with a status, not a decode error).
 */
export function parseMsgReportReq(b: Uint8Array): MsgReportReq {
  if (b.length !== MSG_REPORT_REQ_SIZE) throw lengthError("MSG_REPORT_REQ", MSG_REPORT_REQ_SIZE, b.length);
  const r = MSG_REPORT_REQ.parse(b);
  if ((r.keySel & ~KEY_SEL_MASK) !== 0) {
    throw new DecodeError("RESERVED_NONZERO", `MSG_REPORT_REQ: KEY_SEL bits 31:2 set (0x${r.keySel.toString(16)})`, { field: "keySel", value: r.keySel });
  }
  if (r.vmpl > REPORT_MAX_VMPL) {
    throw new DecodeError("BAD_VMPL", `MSG_REPORT_REQ: VMPL ${r.vmpl} > ${REPORT_MAX_VMPL}`, { field: "vmpl", value: r.vmpl });
  }
  return r;
}

/**
 * Strict parse of a report response: length (exactly 0x4C0), reserved bytes, and on
 * success REPORT_SIZE = 0x4A0. The report itself is returned raw: parse it with
 * `parseAttestationReport` (parse, verify, validate stay separate).
 */
export function parseMsgReportRsp(b: Uint8Array): MsgReportRsp {
  if (b.length !== MSG_REPORT_RSP_SIZE) throw lengthError("MSG_REPORT_RSP", MSG_REPORT_RSP_SIZE, b.length);
  const r = MSG_REPORT_RSP.parse(b);
  if (r.status === SNP_REPORT_STATUS.SUCCESS && r.reportSize !== REPORT_SIZE) {
    throw new DecodeError("BAD_REPORT_SIZE", `MSG_REPORT_RSP: REPORT_SIZE ${r.reportSize}, need ${REPORT_SIZE}`, { field: "reportSize", value: r.reportSize });
  }
  return r;
}

/**
 * SNP guest message (request/response page) — SNP.md §6.4 (Linux `struct snp_guest_msg_hdr`,
 * coconut `msg.rs`). A 0x60-byte header followed by the AES-256-GCM ciphertext of the payload.
 *
 *   key  = VMPCK[MSG_VMPCK] (32 bytes from the secrets page)
 *   IV   = MSG_SEQNO (8 bytes LE) ‖ 4 zero bytes           → `guestMessageIv`
 *   AAD  = header bytes 0x30..0x5F (48 bytes)               → `guestMessageAad`
 *   tag  = 16 bytes, in the first half of AUTHTAG[32]
 * The response has seqno = request + 1, type = request + 1 and the same MSG_VERSION; the
 * next request uses response seqno + 1; seqno 0 is invalid; an IV is never reused.
 */
import { DecodeError, readU16 } from "../base/index.js";
import { bytes, defineLayout, mbz, u8, u16, u64f } from "./layout.js";
import type { Parsed } from "./layout.js";
import { PAGE_SIZE } from "../base/index.js";

export const GUEST_MSG_HEADER_SIZE = 0x60;
export const GUEST_MSG_AAD_START = 0x30;
export const GUEST_MSG_AAD_END = 0x60;
export const GUEST_MSG_AUTHTAG_LEN = 16;
export const GUEST_MSG_IV_LEN = 12;
/** Largest payload that fits in the 4 KiB message page. */
export const GUEST_MSG_MAX_PAYLOAD = PAGE_SIZE - GUEST_MSG_HEADER_SIZE;
/** ALGO: AES-256-GCM. */
export const AEAD_ALGO_AES_256_GCM = 1;
export const GUEST_MSG_HDR_VERSION = 1;
export const GUEST_MSG_VERSION = 1;
export const VMPCK_COUNT = 4;

export const GUEST_MSG_HEADER = defineLayout({
  name: "SNP_GUEST_MSG_HDR",
  size: GUEST_MSG_HEADER_SIZE,
  source: "SNP.md §6.4; Linux struct snp_guest_msg_hdr",
  fields: [
    bytes("authTag", 0x00, 32, "GCM tag in the first 16 bytes"),
    u64f("msgSeqno", 0x20),
    mbz("reserved_0x28", 0x28, 8),
    u8("algo", 0x30, "1 = AES-256-GCM"),
    u8("hdrVersion", 0x31, "1"),
    u16("hdrSz", 0x32, "0x60"),
    u8("msgType", 0x34, "SNP_MSG_TYPE"),
    u8("msgVersion", 0x35, "1"),
    u16("msgSz", 0x36, "plaintext payload length"),
    mbz("reserved_0x38", 0x38, 4),
    u8("msgVmpck", 0x3c, "0–3"),
    mbz("reserved_0x3d", 0x3d, 35),
  ],
});
export type GuestMessageHeader = Parsed<typeof GUEST_MSG_HEADER.fields>;

/** Message types (requests are odd, their responses request + 1). */
export const SNP_MSG_TYPE = {
  CPUID_REQ: 1,
  CPUID_RSP: 2,
  KEY_REQ: 3,
  KEY_RSP: 4,
  REPORT_REQ: 5,
  REPORT_RSP: 6,
  EXPORT_REQ: 7,
  EXPORT_RSP: 8,
  IMPORT_REQ: 9,
  IMPORT_RSP: 10,
  ABSORB_REQ: 11,
  ABSORB_RSP: 12,
  VMRK_REQ: 13,
  VMRK_RSP: 14,
  TSC_INFO_REQ: 17,
  TSC_INFO_RSP: 18,
} as const;
const KNOWN_TYPES = new Set<number>(Object.values(SNP_MSG_TYPE));

export function isKnownMsgType(t: number): boolean {
  return KNOWN_TYPES.has(t);
}

/** The 12-byte AES-GCM IV of a message: MSG_SEQNO little-endian, then 4 zero bytes. */
export function guestMessageIv(seqno: bigint): Uint8Array {
  if (seqno < 0n || seqno >= 1n << 64n) throw new RangeError(`seqno ${seqno} is not a u64`);
  const iv = new Uint8Array(GUEST_MSG_IV_LEN);
  let x = seqno;
  for (let i = 0; i < 8; i++) {
    iv[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return iv;
}

/** The additional authenticated data: header bytes 0x30..0x5F (a copy). */
export function guestMessageAad(headerOrPage: Uint8Array): Uint8Array {
  if (headerOrPage.length < GUEST_MSG_HEADER_SIZE) throw new RangeError("need the 0x60-byte header");
  return headerOrPage.slice(GUEST_MSG_AAD_START, GUEST_MSG_AAD_END);
}

/** What a correct response header to `req` must carry. */
export function expectedResponse(req: Pick<GuestMessageHeader, "msgSeqno" | "msgType" | "msgVersion">): {
  msgSeqno: bigint;
  msgType: number;
  msgVersion: number;
} {
  return { msgSeqno: req.msgSeqno + 1n, msgType: req.msgType + 1, msgVersion: req.msgVersion };
}

function fail(code: string, message: string, field: string, extra: Record<string, unknown> = {}): DecodeError {
  return new DecodeError(code, `SNP guest message: ${message}`, { field, ...extra });
}

/**
 * Strict parse of a message header (the first 0x60 bytes of `b`; `b` may be the whole page).
 * Order: length; header version and size; reserved bytes; field ranges (ALGO = 1,
 * MSG_VMPCK ≤ 3, known MSG_TYPE, MSG_VERSION ≥ 1, MSG_SEQNO ≠ 0, MSG_SZ ≤ 0xFA0 and within `b`
 * when `b` is longer than the header).
 */
export function parseGuestMessageHeader(b: Uint8Array): GuestMessageHeader {
  if (b.length < GUEST_MSG_HEADER_SIZE) {
    throw fail("BAD_LENGTH", `${b.length} bytes, the header alone is ${GUEST_MSG_HEADER_SIZE}`, "header", { expected: GUEST_MSG_HEADER_SIZE, actual: b.length });
  }
  const hv = b[0x31]!;
  if (hv !== GUEST_MSG_HDR_VERSION) throw fail("UNSUPPORTED_VERSION", `HDR_VERSION ${hv}`, "hdrVersion", { value: hv });
  const hs = readU16(b, 0x32);
  if (hs !== GUEST_MSG_HEADER_SIZE) throw fail("BAD_HEADER_SIZE", `HDR_SZ ${hs}`, "hdrSz", { value: hs });
  const h = GUEST_MSG_HEADER.parse(b, 0);
  if (h.algo !== AEAD_ALGO_AES_256_GCM) throw fail("BAD_ALGO", `ALGO ${h.algo}`, "algo", { value: h.algo });
  if (h.msgVmpck >= VMPCK_COUNT) throw fail("BAD_VMPCK", `MSG_VMPCK ${h.msgVmpck}`, "msgVmpck", { value: h.msgVmpck });
  if (!isKnownMsgType(h.msgType)) throw fail("BAD_MSG_TYPE", `MSG_TYPE ${h.msgType}`, "msgType", { value: h.msgType });
  if (h.msgVersion < 1) throw fail("BAD_MSG_VERSION", `MSG_VERSION ${h.msgVersion}`, "msgVersion", { value: h.msgVersion });
  if (h.msgSeqno === 0n) throw fail("BAD_SEQNO", "MSG_SEQNO 0 is invalid", "msgSeqno");
  const room = b.length > GUEST_MSG_HEADER_SIZE ? Math.min(b.length - GUEST_MSG_HEADER_SIZE, GUEST_MSG_MAX_PAYLOAD) : GUEST_MSG_MAX_PAYLOAD;
  if (h.msgSz > room) throw fail("BAD_MSG_SIZE", `MSG_SZ ${h.msgSz} > ${room}`, "msgSz", { value: h.msgSz, max: room });
  return h;
}

/** A parsed message page: the header and a copy of its MSG_SZ ciphertext bytes. */
export function parseGuestMessage(page: Uint8Array): { header: GuestMessageHeader; ciphertext: Uint8Array } {
  const header = parseGuestMessageHeader(page);
  const end = GUEST_MSG_HEADER_SIZE + header.msgSz;
  if (page.length < end) throw fail("BAD_LENGTH", `payload of ${header.msgSz} bytes past the end`, "msgSz", { value: header.msgSz });
  return { header, ciphertext: page.slice(GUEST_MSG_HEADER_SIZE, end) };
}

/** Writes a header (fields not given are zero except the fixed ALGO/HDR_VERSION/HDR_SZ/MSG_VERSION). */
export function serializeGuestMessageHeader(h: Partial<GuestMessageHeader>, into?: Uint8Array): Uint8Array {
  return GUEST_MSG_HEADER.serialize(
    { algo: AEAD_ALGO_AES_256_GCM, hdrVersion: GUEST_MSG_HDR_VERSION, hdrSz: GUEST_MSG_HEADER_SIZE, msgVersion: GUEST_MSG_VERSION, ...h },
    into,
    0,
  );
}

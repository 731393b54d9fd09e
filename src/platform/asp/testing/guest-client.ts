/**
 * The guest's side of SNP_GUEST_REQUEST, for tests: builds request pages the way a guest
 * driver does (Linux sev-guest / coconut greq) and opens response pages. Written against the
 * wire description of SNP.md §6.4 with node:crypto, independently of guest-request.ts.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { PAGE_SIZE, writeU16, writeU64, writeU8, readU16, readU64, readU8 } from "../../../shared/base/index.js";

export interface RequestSpec {
  readonly key: Uint8Array;
  readonly vmpck: number;
  readonly seqno: bigint;
  readonly payload: Uint8Array;
  readonly msgType?: number;
  readonly msgVersion?: number;
}

/** IV = MSG_SEQNO (8 bytes LE) ‖ 4 zero bytes. */
export function ivOf(seqno: bigint): Uint8Array {
  const iv = new Uint8Array(12);
  writeU64(iv, 0, seqno);
  return iv;
}

export function buildRequestPage(r: RequestSpec): Uint8Array {
  const page = new Uint8Array(PAGE_SIZE);
  writeU64(page, 0x20, r.seqno);
  writeU8(page, 0x30, 1); // ALGO AES-256-GCM
  writeU8(page, 0x31, 1); // HDR_VERSION
  writeU16(page, 0x32, 0x60); // HDR_SZ
  writeU8(page, 0x34, r.msgType ?? 5); // MSG_REPORT_REQ
  writeU8(page, 0x35, r.msgVersion ?? 1);
  writeU16(page, 0x36, r.payload.length);
  writeU8(page, 0x3c, r.vmpck);
  const c = createCipheriv("aes-256-gcm", r.key, ivOf(r.seqno));
  c.setAAD(page.subarray(0x30, 0x60));
  const ct = Buffer.concat([c.update(r.payload), c.final()]);
  page.set(ct, 0x60);
  page.set(c.getAuthTag(), 0);
  return page;
}

/** MSG_REPORT_REQ payload (SNP.md §1.5). */
export function reportRequest(reportData: Uint8Array, vmpl: number, keySel = 0): Uint8Array {
  const p = new Uint8Array(0x60);
  p.set(reportData, 0);
  new DataView(p.buffer).setUint32(0x40, vmpl >>> 0, true);
  new DataView(p.buffer).setUint32(0x44, keySel >>> 0, true);
  return p;
}

export interface OpenedResponse {
  readonly seqno: bigint;
  readonly msgType: number;
  readonly msgVersion: number;
  readonly msgSz: number;
  readonly vmpck: number;
  readonly payload: Uint8Array;
}

/** Decrypts a response page with `key`; throws if the tag does not verify. */
export function openResponsePage(page: Uint8Array, key: Uint8Array): OpenedResponse {
  const seqno = readU64(page, 0x20);
  const msgSz = readU16(page, 0x36);
  const d = createDecipheriv("aes-256-gcm", key, ivOf(seqno));
  d.setAAD(page.subarray(0x30, 0x60));
  d.setAuthTag(page.subarray(0, 16));
  const payload = new Uint8Array(Buffer.concat([d.update(page.subarray(0x60, 0x60 + msgSz)), d.final()]));
  return { seqno, msgType: readU8(page, 0x34), msgVersion: readU8(page, 0x35), msgSz, vmpck: readU8(page, 0x3c), payload };
}

/** MSG_REPORT_RSP fields. */
export function reportResponse(payload: Uint8Array): { status: number; size: number; report: Uint8Array } {
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  return { status: dv.getUint32(0, true), size: dv.getUint32(4, true), report: payload.slice(0x20, 0x20 + 0x4a0) };
}

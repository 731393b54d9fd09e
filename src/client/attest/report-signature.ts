/**
 * The report signature (SNP.md §1.1): ECDSA P-384 with SHA-384 over bytes 0x000–0x29F,
 * R and S as 72-byte little-endian integers at 0x2A0 and 0x2E8, converted to DER for
 * node:crypto. Works on the raw bytes, so it can be checked even when the report does
 * not parse.
 */
import { verify, type KeyObject } from "node:crypto";
import { REPORT_SIZE, SIGNATURE_OFFSET, SIGNED_REGION_END, signatureToDer } from "../../shared/spec/index.js";

/** True iff `raw` is a 0x4A0-byte report whose signature verifies with `key`. Never throws. */
export function verifyReportSignature(raw: Uint8Array, key: KeyObject): boolean {
  if (raw.length !== REPORT_SIZE) return false;
  try {
    const der = signatureToDer(raw.subarray(SIGNATURE_OFFSET, REPORT_SIZE));
    return verify("sha384", raw.subarray(0, SIGNED_REGION_END), { key, dsaEncoding: "der" }, der);
  } catch {
    return false;
  }
}

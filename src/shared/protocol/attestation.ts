/**
 * Channel binding of protocol v1 (proto/seven/v1/seven.proto, header comment): the constants
 * both ends must spell identically, and the REPORT_DATA formula.
 *
 *   exporter    = TLS-Exporter(EXPORTER_LABEL, no context, EXPORTER_LENGTH) of this session
 *   REPORT_DATA = SHA-512(ATTESTATION_LABEL ‖ nonce ‖ exporter)            (64 bytes)
 *
 * ATTESTATION_LABEL is the 22 ASCII bytes "00SEVen attestation v1" with no terminator
 * (hex 30 30 53 45 56 65 6e 20 61 74 74 65 73 74 61 74 69 6f 6e 20 76 31).
 * In Node: `tlsSocket.exportKeyingMaterial(EXPORTER_LENGTH, EXPORTER_LABEL)` (no context
 * argument; in TLS 1.3 an absent context equals an empty one, RFC 8446 §7.5).
 */
import { createHash } from "node:crypto";

/** The TLS ALPN protocol name of v1. A client offering no ALPN speaks v0. */
export const ALPN_V1 = "seven/1";
export const EXPORTER_LABEL = "EXPORTER-00SEVen-attestation";
export const EXPORTER_LENGTH = 32;
export const ATTESTATION_LABEL_TEXT = "00SEVen attestation v1";
export const ATTESTATION_LABEL: Uint8Array = new TextEncoder().encode(ATTESTATION_LABEL_TEXT);
export const NONCE_MIN_BYTES = 32;
export const NONCE_MAX_BYTES = 64;
export const REPORT_DATA_BYTES = 64;

/**
 * The prototype's v0 report: the LibVMI client asks without a nonce and never checks it
 * (LEGACY-PROTOCOL.md); the agent binds the report to its TLS server key instead:
 * REPORT_DATA = SHA-512(V0_ATTESTATION_LABEL ‖ SPKI DER of the agent's TLS key).
 */
export const V0_ATTESTATION_LABEL_TEXT = "00SEVen attestation v0";
export const V0_ATTESTATION_LABEL: Uint8Array = new TextEncoder().encode(V0_ATTESTATION_LABEL_TEXT);

export class BindingInputError extends RangeError {
  readonly code = "BAD_BINDING_INPUT";
}

/** REPORT_DATA of a v1 attestation: SHA-512(label ‖ nonce ‖ exporter). */
export function attestationReportData(nonce: Uint8Array, exporter: Uint8Array): Uint8Array {
  if (nonce.length < NONCE_MIN_BYTES || nonce.length > NONCE_MAX_BYTES) {
    throw new BindingInputError(`nonce must be ${NONCE_MIN_BYTES}..${NONCE_MAX_BYTES} bytes (got ${nonce.length})`);
  }
  if (exporter.length !== EXPORTER_LENGTH) throw new BindingInputError(`exporter must be ${EXPORTER_LENGTH} bytes (got ${exporter.length})`);
  return new Uint8Array(createHash("sha512").update(ATTESTATION_LABEL).update(nonce).update(exporter).digest());
}

/** REPORT_DATA of a v0 attestation: SHA-512(v0 label ‖ agent TLS SPKI DER). */
export function v0ReportData(agentSpkiDer: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha512").update(V0_ATTESTATION_LABEL).update(agentSpkiDer).digest());
}

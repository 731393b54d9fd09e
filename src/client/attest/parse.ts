/**
 * Parse: untrusted bytes → typed values, nothing else. The report parser is the shared
 * one (src/shared/spec attestation-report.ts: length, version 2/3/5, must-be-zero
 * ranges, field ranges; it throws only ReportDecodeError naming the field). This module
 * adds the certificate inputs (DER or PEM) and a non-throwing variant.
 */
import { DecodeError } from "../../shared/base/index.js";
import { parseAttestationReport, type AttestationReport } from "../../shared/spec/index.js";
import { decodeCertificates, parseCertificate, type Certificate } from "./certificate.js";

/** A certificate or bundle: DER bytes, or PEM (text or bytes) with one or more certificates. */
export type CertInput = Uint8Array | string;

/** Strict report parse; throws ReportDecodeError (a DecodeError) naming the field. */
export function parseReport(bytes: Uint8Array): AttestationReport {
  return parseAttestationReport(bytes);
}

export type ParseOutcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: DecodeError };

/** Like `parseReport` but returns the typed error instead of throwing it. */
export function tryParseReport(bytes: Uint8Array): ParseOutcome<AttestationReport> {
  return attempt(() => parseAttestationReport(bytes));
}

/** Every certificate in `input` (DER, or PEM with several blocks), parsed. Throws DecodeError. */
export function parseCertificates(input: CertInput): Certificate[] {
  return decodeCertificates(input).map(parseCertificate);
}

/** Exactly one certificate. Throws DecodeError when there are none or several. */
export function parseOneCertificate(input: CertInput): Certificate {
  const all = parseCertificates(input);
  if (all.length !== 1) {
    throw new DecodeError("CERT_MALFORMED", `expected one certificate, found ${all.length}`, { count: all.length });
  }
  return all[0]!;
}

export function attempt<T>(f: () => T): ParseOutcome<T> {
  try {
    return { ok: true, value: f() };
  } catch (e: unknown) {
    if (e instanceof DecodeError) return { ok: false, error: e };
    throw e;
  }
}

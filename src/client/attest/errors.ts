/**
 * Error codes of attestation verification and validation. One code per reason, so tests,
 * the CLI and callers can tell exactly which check failed; `details` carries the role
 * (ARK/ASK/ASVK/VCEK/VLEK), the TCB component, expected/actual values.
 *
 * Report parse failures keep the parser's own codes (ReportDecodeError: BAD_LENGTH,
 * UNSUPPORTED_VERSION, RESERVED_NONZERO, ...).
 */
import { SevenError, type ErrorDetails } from "../../shared/base/index.js";

export const VERIFY_ERROR_CODES = [
  /** A certificate (or the chain file) does not decode as X.509 v3 DER/PEM. */
  "CERT_MALFORMED",
  /** The VCEK/VLEK lacks an AMD extension or one is malformed. */
  "AMD_EXTENSION_INVALID",
  /** The VCEK/VLEK productName is not Milan/Genoa/Turin (with or without stepping). */
  "PRODUCT_UNKNOWN",
  /** The product asked for differs from the certificate's productName. */
  "PRODUCT_MISMATCH",
  /** --vcek given a VLEK certificate or the reverse (subject CN, hwID/cspId). */
  "CERT_ROLE_MISMATCH",
  /** Not RSA (≥ 2048 bits) for ARK/ASK/ASVK, not EC P-384 for VCEK/VLEK. */
  "WRONG_KEY_TYPE",
  /** A certificate signature is not RSASSA-PSS/SHA-384/MGF1-SHA-384/salt 48, or its two AlgorithmIdentifiers differ. */
  "WRONG_SIGNATURE_ALGORITHM",
  /** ARK/ASK/ASVK without a critical basicConstraints cA=TRUE. */
  "CERT_NOT_CA",
  /** CA without keyCertSign, or a leaf keyUsage without digitalSignature. */
  "CERT_KEY_USAGE_INVALID",
  /** The VCEK/VLEK claims to be a CA. */
  "LEAF_IS_CA",
  /** A critical extension the verifier does not understand. */
  "CERT_UNKNOWN_CRITICAL_EXTENSION",
  "CERT_EXPIRED",
  "CERT_NOT_YET_VALID",
  /** No ASK/ASVK to verify the VCEK/VLEK with (none in the chain file, none built in). */
  "CHAIN_INCOMPLETE",
  /** The ARK is neither built in for the product nor passed in `trustRoots`. */
  "ARK_NOT_TRUSTED",
  "ARK_NOT_SELF_SIGNED",
  "CHAIN_ASK_NOT_SIGNED_BY_ARK",
  "CHAIN_ASVK_NOT_SIGNED_BY_ARK",
  "VCEK_NOT_SIGNED_BY_ASK",
  "VLEK_NOT_SIGNED_BY_ASVK",
  /** An SPL extension differs from the same component of REPORTED_TCB (details.component). */
  "TCB_EXTENSION_MISMATCH",
  /** VCEK hwID ≠ CHIP_ID (Turin: CHIP_ID[0..8]). */
  "HWID_MISMATCH",
  /** Signer info SIGNING_KEY says VCEK (0) / VLEK (1) but the other kind of key was given. */
  "SIGNING_KEY_MISMATCH",
  /** Signer info MASK_CHIP_KEY = 1: the firmware did not sign the report. */
  "MASK_CHIP_KEY_SET",
  /** The ECDSA P-384/SHA-384 signature over 0x000–0x29F does not verify with the VCEK/VLEK. */
  "SIGNATURE_INVALID",
] as const;

export const VALIDATE_ERROR_CODES = [
  "VMPL_MISMATCH",
  "DEBUG_ALLOWED",
  "MIGRATION_AGENT_ALLOWED",
  "SMT_ENABLED",
  "MEASUREMENT_MISMATCH",
  "REPORT_DATA_MISMATCH",
  "HOST_DATA_MISMATCH",
  "ID_KEY_DIGEST_MISMATCH",
  "AUTHOR_KEY_DIGEST_MISMATCH",
  "AUTHOR_KEY_REQUIRED",
  "FAMILY_ID_MISMATCH",
  "IMAGE_ID_MISMATCH",
  "CHIP_ID_MISMATCH",
  "TCB_TOO_LOW",
  "PRODUCT_NOT_ALLOWED",
  "FIRMWARE_TOO_OLD",
  "VERSION_NOT_ALLOWED",
  "GUEST_SVN_TOO_LOW",
  /** A policy value itself is malformed (e.g. 47-byte measurement). */
  "POLICY_INVALID",
] as const;

export type VerifyErrorCode = (typeof VERIFY_ERROR_CODES)[number];
export type ValidateErrorCode = (typeof VALIDATE_ERROR_CODES)[number];
/** Everything a failed attestation check can report (parse codes come from the report parser). */
export type AttestErrorCode = VerifyErrorCode | ValidateErrorCode | "ATTESTATION_REJECTED";

export class AttestError extends SevenError<AttestErrorCode> {
  constructor(code: AttestErrorCode, message: string, details: ErrorDetails = {}) {
    super("attest", code, message, details);
  }
}

/**
 * The top level: parse + verify + validate, all checks collected (`checkAttestation`),
 * or a throwing convenience (`verifyAndValidate`) that returns the trusted report.
 * Parse, verify and validate stay separate modules; this only sequences them.
 */
import type { AttestationReport } from "../../shared/spec/index.js";
import type { AmdExtensions } from "./amd-extensions.js";
import type { Certificate } from "./certificate.js";
import type { KeyKind } from "./chain.js";
import { failed, type Check } from "./checks.js";
import { AttestError } from "./errors.js";
import type { SnpProduct } from "./product.js";
import type { AnchorSource } from "./trust-store.js";
import { validateReport, type AttestationPolicy } from "./validate.js";
import { verifyAttestation, type VerifyInput } from "./verify.js";

export interface AttestationResult {
  readonly ok: boolean;
  /** Every check in order: parse, verify, validate. */
  readonly checks: readonly Check[];
  /** Trust its contents only when `ok`. */
  readonly report: AttestationReport | undefined;
  readonly keyKind: KeyKind;
  readonly product: SnpProduct | undefined;
  readonly certificate: Certificate | undefined;
  readonly extensions: AmdExtensions | undefined;
  readonly arkSource: AnchorSource | undefined;
  readonly arkFingerprint: string | undefined;
}

/** Runs every check and returns them all; never throws for bad evidence. */
export function checkAttestation(input: VerifyInput, policy: AttestationPolicy = {}): AttestationResult {
  const v = verifyAttestation(input);
  const validation: Check[] = v.report
    ? validateReport(v.report, policy, v.product)
    : [{ id: "policy", stage: "validate", title: "policy checks", status: "skip", reason: "the report did not parse" }];
  const checks = [...v.checks, ...validation];
  return {
    ok: checks.every((c) => c.status !== "fail"),
    checks,
    report: v.report,
    keyKind: v.keyKind,
    product: v.product,
    certificate: v.certificate,
    extensions: v.extensions,
    arkSource: v.arkSource,
    arkFingerprint: v.ark?.fingerprint,
  };
}

/** A report that passed every check. */
export interface VerifiedAttestation {
  readonly report: AttestationReport;
  readonly product: SnpProduct;
  readonly keyKind: KeyKind;
  readonly arkSource: AnchorSource;
  readonly arkFingerprint: string;
  readonly checks: readonly Check[];
}

/**
 * Thrown by `verifyAndValidate`: code ATTESTATION_REJECTED, `failures` lists every failed
 * check (each with its own error code), `codes` their codes in order.
 */
export class AttestationRejectedError extends AttestError {
  readonly failures: readonly Check[];
  readonly codes: readonly string[];
  constructor(failures: readonly Check[]) {
    const codes = failures.map((c) => c.error?.code ?? "UNKNOWN");
    super("ATTESTATION_REJECTED", `attestation rejected: ${failures.map((c) => `${c.id}: ${c.error?.code ?? "?"}`).join("; ")}`, {
      failures: failures.map((c) => ({ check: c.id, code: c.error?.code, message: c.error?.message })),
    });
    this.failures = failures;
    this.codes = codes;
  }
}

/** Verifies and validates; returns the trusted report or throws AttestationRejectedError. */
export function verifyAndValidate(input: VerifyInput, policy: AttestationPolicy = {}): VerifiedAttestation {
  const r = checkAttestation(input, policy);
  if (!r.ok || !r.report || !r.product || !r.arkSource || !r.arkFingerprint) {
    const f = failed(r.checks);
    throw new AttestationRejectedError(
      f.length > 0 ? f : [{ id: "attestation", stage: "verify", title: "attestation", status: "fail", error: new AttestError("ARK_NOT_TRUSTED", "no trusted chain", {}) }],
    );
  }
  return {
    report: r.report,
    product: r.product,
    keyKind: r.keyKind,
    arkSource: r.arkSource,
    arkFingerprint: r.arkFingerprint,
    checks: r.checks,
  };
}

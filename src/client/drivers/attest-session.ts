/**
 * Attestation of a v1 session, first and mandatory (DESIGN.md "Attestation bound to the
 * channel"): a fresh 32-byte nonce goes out in an AttestRequest; the agent answers with a
 * VMPL0 report and its certificates; the report must verify to a trusted root and satisfy
 * the owner's explicit policy, including
 *
 *   REPORT_DATA = SHA-512(ATTESTATION_LABEL ‖ nonce ‖ TLS-Exporter of THIS session).
 *
 * Why the agent's TLS certificate needs no CA: the exporter is derived from this TLS
 * session's secrets, which only its two endpoints hold. A report carrying our nonce and
 * our exporter can only have been requested by code that terminates our TLS session
 * inside a CVM whose measurement (agent image + configuration, including the owner key)
 * we expected, at VMPL0 (only VMPL0 can get a VMPL0 report; VMPCK0 never leaves the
 * agent). A man in the middle has two TLS sessions with two different exporters, so a
 * report relayed from the real agent names the wrong exporter, and a stale report names
 * an old nonce. The certificate's key is thereby bound by the handshake itself; pinning
 * it as well would add nothing.
 */
import { randomBytes } from "node:crypto";
import { systemClock, type Clock } from "../../shared/base/index.js";
import { NONCE_MIN_BYTES, attestationReportData, v1 } from "../../shared/protocol/index.js";
import { decodeSignerInfo, SIGNING_KEY, type AttestationReport } from "../../shared/spec/index.js";
import {
  AttestationRejectedError,
  tryParseReport,
  verifyAndValidate,
  type AnchorSource,
  type AttestationPolicy,
  type CertInput,
  type Check,
  type SnpProduct,
} from "../attest/index.js";
import type { V1Connection } from "./connection.js";
import { SessionError } from "./errors.js";

/** What the owner expects of the agent. VMPL 0, no debug and the channel binding are not negotiable. */
export interface AttestationExpectations {
  /** Expected launch MEASUREMENT (48 bytes, from `seven measure`). */
  readonly measurement: Uint8Array;
  /** Roots to trust besides AMD's built-in ones (e.g. the simulator's ARK, only when the owner passes it). */
  readonly trustRoots?: readonly CertInput[];
  /** Expected product (default: from the VCEK). */
  readonly product?: SnpProduct;
  /** Further policy (minimum TCB, host data, ...); VMPL, debug, measurement and REPORT_DATA are set here. */
  readonly policy?: Omit<AttestationPolicy, "vmpl" | "allowDebug" | "measurement" | "reportData">;
  /** Time for certificate validity (default: the system clock). */
  readonly clock?: Clock;
}

export interface SessionAttestation {
  readonly report: AttestationReport;
  readonly reportBytes: Uint8Array;
  readonly vcek: Uint8Array;
  readonly chain: readonly Uint8Array[];
  readonly product: SnpProduct;
  readonly arkSource: AnchorSource;
  readonly arkFingerprint: string;
  readonly checks: readonly Check[];
  readonly nonce: Uint8Array;
  readonly exporter: Uint8Array;
  readonly reportData: Uint8Array;
  /** Wall time of the exchange and the verification (ms). */
  readonly ms: number;
}

/** Runs the attestation exchange on a fresh connection; throws SessionError ATTESTATION_REJECTED naming each failed check. */
export async function attestSession(
  conn: V1Connection,
  exporter: Uint8Array,
  expect: AttestationExpectations,
  nonce: Uint8Array = new Uint8Array(randomBytes(NONCE_MIN_BYTES)),
): Promise<SessionAttestation> {
  const t0 = performance.now();
  const r = await conn.request({ case: "attest", value: { nonce } });
  if (r.status !== v1.Status.OK) {
    throw new SessionError("ATTESTATION_REJECTED", `${conn.peer} refused to attest: STATUS_${v1.Status[r.status] ?? r.status}${r.detail ? ` (${r.detail})` : ""}`, {
      peer: conn.peer,
      status: r.status,
      codes: ["AGENT_REFUSED"],
    });
  }
  if (r.body.case !== "attest") throw conn.protocolError(`expected an attestation, got ${r.body.case ?? "nothing"}`);
  const a = r.body.value;
  const reportData = attestationReportData(nonce, exporter);
  const parsed = tryParseReport(a.report);
  const keyKind = parsed.ok && decodeSignerInfo(parsed.value.signerInfo).signingKey === SIGNING_KEY.VLEK ? "vlek" : "vcek";
  const policy: AttestationPolicy = { ...expect.policy, vmpl: 0, allowDebug: false, measurement: expect.measurement, reportData };
  try {
    const v = verifyAndValidate(
      {
        report: a.report,
        keyKind,
        certificate: a.vcek,
        ...(a.chain.length > 0 ? { chain: a.chain } : {}),
        ...(expect.product !== undefined ? { product: expect.product } : {}),
        trustRoots: expect.trustRoots ?? [],
        clock: expect.clock ?? systemClock,
      },
      policy,
    );
    return {
      report: v.report,
      reportBytes: a.report,
      vcek: a.vcek,
      chain: a.chain,
      product: v.product,
      arkSource: v.arkSource,
      arkFingerprint: v.arkFingerprint,
      checks: v.checks,
      nonce,
      exporter,
      reportData,
      ms: performance.now() - t0,
    };
  } catch (e) {
    if (!(e instanceof AttestationRejectedError)) throw e;
    const named = e.failures.map((c) => `${c.id}: ${c.error?.code ?? "FAILED"}`).join("; ");
    throw new SessionError(
      "ATTESTATION_REJECTED",
      `attestation of ${conn.peer} failed: ${named}`,
      { peer: conn.peer, codes: e.codes, failures: e.failures.map((c) => ({ check: c.id, code: c.error?.code, message: c.error?.message })) },
      { cause: e },
    );
  }
}

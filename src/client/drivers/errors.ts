/**
 * Errors of the live drivers (agent v1 and the baseline) before and around a session:
 * the endpoint cannot be reached, TLS fails, the agent's attestation is refused, the
 * agent breaks the protocol or stops answering. Meaning lives in `code` and `details`.
 *
 * Inside an open session the `Driver` contract holds: a whole call that fails rejects with
 * a `VmiError` DRIVER_FAILED or DRIVER_CLOSED whose `cause` is the SessionError and whose
 * `details.reason` is its code (e.g. AGENT_TIMEOUT).
 */
import { SevenError, type ErrorDetails } from "../../shared/base/index.js";

export type SessionErrorCode =
  /** TCP connect failed (refused, unreachable, DNS) or timed out. */
  | "UNREACHABLE"
  /** The TLS handshake failed, or the peer is not TLS 1.3 with ALPN "seven/1". */
  | "TLS_FAILED"
  /** The agent's attestation report failed a check (details.failures names each). */
  | "ATTESTATION_REJECTED"
  /** The agent sent something that is not protocol v1 (bad frame, unknown id, wrong body). */
  | "PROTOCOL_ERROR"
  /** Nothing arrived within the timeout while requests were outstanding. */
  | "AGENT_TIMEOUT"
  /** The session ended (closed by us, by the agent or by the network). */
  | "SESSION_CLOSED"
  /** The agent answered a request with a non-OK status for the request as a whole. */
  | "AGENT_STATUS"
  /** The owner key file cannot be used (unreadable, not an EC P-256/P-384 private key). */
  | "BAD_OWNER_KEY";

export class SessionError extends SevenError<SessionErrorCode> {
  constructor(code: SessionErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super("client", code, message, details, options);
  }
}

export function isSessionError(e: unknown): e is SessionError {
  return e instanceof SessionError;
}

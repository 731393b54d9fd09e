/**
 * The agent's two error tiers (svsm `protocols/errors.rs`):
 *  - RequestError: the request was wrong or cannot be served now; it becomes a status code
 *    in the reply and the session goes on.
 *  - AgentInvariantError: something the agent relies on does not hold (a platform
 *    instruction refused, internal state inconsistent); the session ends (TLS close) and
 *    nothing about the cause is sent.
 * BootError: the agent cannot start (its measured configuration or image is not what it
 * expects); it refuses to serve at all.
 */
import { SevenError } from "../shared/base/index.js";
import { v1 } from "../shared/protocol/index.js";

export type Status = v1.Status;
export const Status = v1.Status;

export class RequestError extends SevenError<string> {
  readonly status: Status;
  constructor(status: Status, message: string, details: Record<string, unknown> = {}) {
    super("agent", v1.Status[status] ?? "STATUS_INTERNAL", message, details);
    this.status = status;
  }
}

export type AgentInvariantCode = "PLATFORM_REFUSED" | "STATE" | "NOT_RUNNING";

export class AgentInvariantError extends SevenError<AgentInvariantCode> {
  constructor(code: AgentInvariantCode, message: string, details: Record<string, unknown> = {}) {
    super("agent", code, message, details);
  }
}

export type BootErrorCode = "BAD_CONFIG" | "BAD_IMAGE" | "BAD_PLACEMENT" | "PLATFORM_REFUSED";

export class BootError extends SevenError<BootErrorCode> {
  constructor(code: BootErrorCode, message: string, details: Record<string, unknown> = {}) {
    super("agent", code, message, details);
  }
}

/** Backend access refused by the platform (a fault on a guest page): a per-entry status. */
export class BackendAccessError extends SevenError<"ACCESS_FAILED"> {
  readonly gpa: bigint;
  constructor(gpa: bigint, message: string) {
    super("agent", "ACCESS_FAILED", message, { gpa });
    this.gpa = gpa;
  }
}

export const fail = (status: Status, message: string, details: Record<string, unknown> = {}): never => {
  throw new RequestError(status, message, details);
};

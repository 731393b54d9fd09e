/**
 * Every attestation check is recorded, passed, failed or skipped, so a caller (and the
 * CLI) sees all that failed at once instead of the first failure only.
 */
import { jsonSafe, type ErrorDetails, type SevenError } from "../../shared/base/index.js";

export type CheckStage = "parse" | "verify" | "validate";
export type CheckStatus = "pass" | "fail" | "skip";

export interface Check {
  /** Stable identifier, e.g. "ask.signed-by-ark", "report.tcb.snp", "policy.vmpl". */
  readonly id: string;
  readonly stage: CheckStage;
  /** What is checked, for people. */
  readonly title: string;
  readonly status: CheckStatus;
  /** The error of a failed check (an AttestError, or the report parser's DecodeError). */
  readonly error?: SevenError;
  /** Why a check was skipped. */
  readonly reason?: string;
}

export const failed = (checks: readonly Check[]): Check[] => checks.filter((c) => c.status === "fail");
export const failedCodes = (checks: readonly Check[]): string[] => failed(checks).map((c) => c.error?.code ?? "UNKNOWN");

export function checkToJson(c: Check): Record<string, unknown> {
  return {
    id: c.id,
    stage: c.stage,
    title: c.title,
    status: c.status,
    ...(c.error ? { code: c.error.code, message: c.error.message, details: jsonSafe(c.error.details) as ErrorDetails } : {}),
    ...(c.reason !== undefined ? { reason: c.reason } : {}),
  };
}

/** Accumulates checks in order. */
export class CheckList {
  readonly #checks: Check[] = [];
  readonly #stage: CheckStage;

  constructor(stage: CheckStage) {
    this.#stage = stage;
  }

  pass(id: string, title: string): void {
    this.#checks.push({ id, stage: this.#stage, title, status: "pass" });
  }

  fail(id: string, title: string, error: SevenError): void {
    this.#checks.push({ id, stage: this.#stage, title, status: "fail", error });
  }

  skip(id: string, title: string, reason: string): void {
    this.#checks.push({ id, stage: this.#stage, title, status: "skip", reason });
  }

  /** Records pass when `error` is undefined, else fail. */
  record(id: string, title: string, error: SevenError | undefined): boolean {
    if (error) this.fail(id, title, error);
    else this.pass(id, title);
    return error === undefined;
  }

  get checks(): readonly Check[] {
    return this.#checks;
  }
}

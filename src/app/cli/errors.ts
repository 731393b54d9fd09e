/**
 * One-line error reasons for the CLI. A SevenError renders as "seven: <message> [<code>]";
 * anything else as its message. Set SEVEN_DEBUG=1 to get the stack.
 */
import { isSevenError } from "../../shared/base/index.js";

export class CliUsageError extends Error {
  readonly exitCode = 2;
}

export function renderError(e: unknown): string {
  if (process.env.SEVEN_DEBUG === "1" && e instanceof Error && e.stack) return `seven: ${e.stack}`;
  if (isSevenError(e)) return `seven: ${e.message} [${e.code}]`;
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("E")) return `seven: ${e.message} [${code}]`;
    return `seven: ${e.message}`;
  }
  return `seven: ${String(e)}`;
}

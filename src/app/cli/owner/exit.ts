/** Failures that are results, not errors: a non-zero exit code with a one-line reason. */
export class CommandFailure extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** `seven check` found something (distinct from 1, a failure to check at all). */
export const EXIT_FINDINGS = 3;

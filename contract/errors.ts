/**
 * The one shape of every error phonehome reports to a person or a program.
 * Each error has a stable code (logged, returned by the collector's API,
 * listed in the README), the process exit code a command ends with, and the
 * HTTP status a route answers with. Messages are made here, once, from the
 * error's fields; the edges (the CLI, Fastify's error handler) only print or
 * send them.
 */

/** How a phonehome command ends; scripts and systemd units may rely on these. */
export const ExitCode = {
  /** everything read and delivered */
  OK: 0,
  /** finished, but something was left: a corrupt record stopped a file, batches stayed in the spool */
  PARTIAL: 1,
  /** a mistake the user can fix: arguments, configuration, an input that is not a capture */
  USAGE: 2,
  /** a bug in phonehome (EX_SOFTWARE): printed with its stack */
  INTERNAL: 70,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export abstract class PhonehomeError extends Error {
  /** stable, upper snake case, e.g. CAPTURE_NOT_A_CAPTURE; never reworded */
  abstract readonly code: string;
  /** what a command exits with when this error ends it: a mistake the user can fix, unless a kind says otherwise */
  get exitCode(): ExitCode {
    return ExitCode.USAGE;
  }
  /** what a route answers with when this error ends a request */
  readonly httpStatus: number = 400;
}

export function isPhonehomeError(e: unknown): e is PhonehomeError {
  return e instanceof PhonehomeError;
}

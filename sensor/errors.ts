import { ExitCode, PhonehomeError } from '../contract/errors.js';

/**
 * Every error the sensor side reports to a user, in one place: a stable code
 * (CODE below, also in the README's table), the exit code, and a message
 * made from the error's fields. Anything else that reaches the CLI is a bug
 * (exit 70, with its stack).
 */

/** A mistake in how a command was called. */
export class UsageError extends PhonehomeError {
  override readonly name = 'UsageError';
  readonly code = 'USAGE';
}

/** Why a capture could not be read (fully). */
export type CaptureErrorCode =
  | 'NOT_A_CAPTURE' // wrong magic, empty file
  | 'UNSUPPORTED' // a capture format or version we do not read
  | 'CORRUPT_RECORD' // a record header that cannot be right; reading stops there
  | 'IO'; // the file could not be opened or read

export class CaptureError extends PhonehomeError {
  override readonly name = 'CaptureError';
  constructor(
    readonly code: CaptureErrorCode,
    readonly file: string,
    /** byte offset in the (decompressed) capture where the problem starts */
    readonly offset: number | null,
    readonly detail: string,
  ) {
    super(`${file}${offset === null ? '' : ` at byte ${offset}`}: ${detail}`);
  }

  /** Nothing of the input could be read (not a capture, or one we do not read), as against a read that stopped part-way. */
  get unreadable(): boolean {
    return this.code === 'NOT_A_CAPTURE' || this.code === 'UNSUPPORTED';
  }

  /** A read that stopped part-way keeps what came before it: the run finishes, partly. */
  override get exitCode(): ExitCode {
    return this.code === 'CORRUPT_RECORD' ? ExitCode.PARTIAL : ExitCode.USAGE;
  }
}

/** A detections file (rules/detections.yaml) that cannot be used. */
export class ConfigError extends PhonehomeError {
  override readonly name = 'ConfigError';
  readonly code = 'DETECTIONS_INVALID';
  constructor(
    readonly file: string,
    readonly line: number | null,
    readonly detail: string,
  ) {
    super(`${file}${line === null ? '' : `:${line}`}: ${detail}`);
  }
}

/** Why a device profile (YAML) or MUD file could not be loaded. */
export type ProfileErrorCode =
  | 'PROFILE_INVALID' // YAML syntax error, or a profile that breaks a rule of the format
  | 'PROFILE_IO' // the profile directory or a file in it could not be read
  | 'MUD_INVALID'; // not JSON, or JSON that is not a usable RFC 8520 MUD file

export class ProfileError extends PhonehomeError {
  override readonly name = 'ProfileError';
  constructor(
    readonly code: ProfileErrorCode,
    readonly file: string,
    /** 1-based line of the offending node; null when the problem has no single place */
    readonly line: number | null,
    readonly detail: string,
  ) {
    super(`${file}${line === null ? '' : `:${line}`}: ${detail}`);
  }
}

/** A MaxMind DB given with --geoip that cannot be used. */
export class GeoIpError extends PhonehomeError {
  override readonly name = 'GeoIpError';
  readonly code = 'GEOIP_INVALID';
  constructor(
    readonly file: string,
    readonly detail: string,
  ) {
    super(`${file}: ${detail}`);
  }
}

/** Why a threat-intel feed (--intel) could not be loaded. */
export type IntelErrorCode =
  | 'INTEL_INVALID' // not a feed phonehome reads: binary, no usable header, more malformed lines than indicators
  | 'INTEL_IO'; // the file could not be opened or read

/** A threat-intel feed given with --intel that cannot be used (at start: exit 2; on reload: logged, the feed's old indicators stay). */
export class IntelError extends PhonehomeError {
  override readonly name = 'IntelError';
  constructor(
    readonly code: IntelErrorCode,
    readonly file: string,
    /** 1-based line the problem is on; null when it has no single place */
    readonly line: number | null,
    readonly detail: string,
  ) {
    super(`${file}${line === null ? '' : `:${line}`}: ${detail}`);
  }
}

/** The spool holds --spool-max-mb: reading pauses until the collector takes batches. */
export class SpoolFullError extends PhonehomeError {
  override readonly name = 'SpoolFullError';
  readonly code = 'SPOOL_FULL';
  override readonly httpStatus = 507;
}

/**
 * The disk under the spool is full (ENOSPC, EDQUOT): reading pauses as for a
 * full spool and writing is retried until there is room.
 */
export class SpoolNoSpaceError extends PhonehomeError {
  override readonly name = 'SpoolNoSpaceError';
  readonly code = 'SPOOL_NO_SPACE';
  override readonly httpStatus = 507;
  constructor(
    readonly dir: string,
    /** the errno code: ENOSPC or EDQUOT */
    readonly errno: string,
  ) {
    super(`no space left on the disk of spool ${dir} (${errno}): reading pauses and writing is retried until there is room (nothing is dropped)`);
  }
}

/** A spool file that does not hold what was written (its sha256 differs). */
export class SpoolGarbledError extends PhonehomeError {
  override readonly name = 'SpoolGarbledError';
  readonly code = 'SPOOL_GARBLED';
  override get exitCode(): ExitCode {
    return ExitCode.PARTIAL;
  }
}

/** Events the collector refused (or that could not be sent), kept in the spool's rejected/ folder. */
export class EventsRefusedError extends PhonehomeError {
  override readonly name = 'EventsRefusedError';
  readonly code = 'EVENTS_REFUSED';
  override get exitCode(): ExitCode {
    return ExitCode.PARTIAL;
  }
}

/** Another sensor (or a stale run) holds the spool directory. */
export class SpoolLockedError extends PhonehomeError {
  override readonly name = 'SpoolLockedError';
  readonly code = 'SPOOL_LOCKED';
}

export { ExitCode };

/** Why a device profile (YAML) or MUD file could not be loaded. Turned into a one-line message at the CLI edge. */
export type ProfileErrorCode =
  | 'PROFILE_INVALID' // YAML syntax error, or a profile that breaks a rule of the format
  | 'PROFILE_IO' // the profile directory or a file in it could not be read
  | 'MUD_INVALID'; // not JSON, or JSON that is not a usable RFC 8520 MUD file

export class ProfileError extends Error {
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

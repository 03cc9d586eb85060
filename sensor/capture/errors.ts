/** Why a capture could not be read (fully). Turned into a one-line message at the CLI edge. */
export type CaptureErrorCode =
  | 'NOT_A_CAPTURE' // wrong magic, empty file
  | 'UNSUPPORTED' // a capture format or version we do not read
  | 'CORRUPT_RECORD' // a record header that cannot be right; reading stops there
  | 'IO'; // the file could not be opened or read

export class CaptureError extends Error {
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
}

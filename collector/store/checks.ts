// The schema enforces NOT NULL and CHECKs; these catch what a column type
// would silently coerce (SQLite keeps 1.5 in an INTEGER column, PostgreSQL
// refuses it), so both backends refuse the same events.

/**
 * An event value the store refuses. It never leaves the store: ingest turns
 * it into StoreError BAD_EVENT, naming the event it came from.
 */
export class Invalid extends Error {}

// PostgreSQL cannot store U+0000 in text, and a device can put one in a DNS
// name: refusing it would lose the whole batch, so columns get U+FFFD on both
// backends (the JSON record keeps the exact text).
const NUL = /\u0000/g;
const column = (v: string): string => (v.includes('\u0000') ? v.replace(NUL, '\ufffd') : v);

export function str(v: unknown, what: string): string {
  if (typeof v !== 'string' || v === '') throw new Invalid(`${what} must be a non-empty string`);
  return column(v);
}
export function optStr(v: unknown, what: string): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') throw new Invalid(`${what} must be a string or null`);
  return column(v);
}
export function num(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Invalid(`${what} must be a finite number`);
  return v;
}
export function int(v: unknown, what: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw new Invalid(`${what} must be a non-negative integer`);
  return v as number;
}
export function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Invalid(`${what} must be an object`);
  return v as Record<string, unknown>;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The bytes of base64 text, whitespace ignored. Buffer.from(.., 'base64') skips what it does not understand; a corrupt pcap must not be stored as if it were fine. */
export function base64(v: unknown, what: string): Buffer {
  const b64 = typeof v === 'string' ? v.replace(/\s+/g, '') : null;
  if (b64 === null || !BASE64.test(b64)) throw new Invalid(`${what} must be base64`);
  return Buffer.from(b64, 'base64');
}

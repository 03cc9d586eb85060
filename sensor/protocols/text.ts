/** Bytes off the wire made safe to show: printable ASCII kept, the rest escaped, bounded. */

/** b[off, end) as text of at most `max` characters: printable ASCII as is, other bytes as \xNN. */
export function printable(b: Buffer, off: number, end: number, max: number): string {
  let s = '';
  for (let i = off; i < end && s.length < max; i++) {
    const c = b[i];
    s += c >= 0x20 && c < 0x7f && c !== 0x5c ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return s.length > max ? s.slice(0, max) : s;
}

/** A string decoded from the wire, shown the same way (code points above ASCII escaped as \u{...}). */
export function printableText(t: string, max: number): string {
  let s = '';
  for (const ch of t) {
    if (s.length >= max) break;
    const c = ch.codePointAt(0) ?? 0;
    s += c >= 0x20 && c < 0x7f && c !== 0x5c ? ch : c < 0x100 ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u{${c.toString(16)}}`;
  }
  return s.length > max ? s.slice(0, max) : s;
}

/** Callers pass views into a shared capture buffer: a bad range must read nothing rather than throw. */
export const validRange = (b: Buffer, off: number, len: number): boolean =>
  Number.isInteger(off) && Number.isInteger(len) && off >= 0 && len >= 0 && off + len <= b.length;

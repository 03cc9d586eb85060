/** HTTP/1.x request line and the headers that identify the client (RFC 9112). */

export interface HttpRequest { method: string; uri: string; host: string | null; userAgent: string | null }

// Requests are identified from their head; bodies and monster headers are not worth scanning.
export const HTTP_SCAN_LIMIT = 8192;

const METHODS = [
  'GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE',
  'NOTIFY', 'M-SEARCH', 'SUBSCRIBE', 'UNSUBSCRIBE',
];
const REQUEST_HEADERS = ['host', 'user-agent'];
const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const TAB = 0x09;
const COLON = 0x3a;

/** True when b[p, end) starts with the ASCII string `s`. */
export function startsWith(b: Buffer, p: number, end: number, s: string): boolean {
  if (p + s.length > end) return false;
  for (let i = 0; i < s.length; i++) if (b[p + i] !== s.charCodeAt(i)) return false;
  return true;
}

/** Index of the next LF in b[p, end), or -1. */
export function findLf(b: Buffer, p: number, end: number): number {
  for (; p < end; p++) if (b[p] === LF) return p;
  return -1;
}

/** True when b[p, e) ends with " HTTP/1.<digit>". */
function endsWithHttp1(b: Buffer, p: number, e: number): boolean {
  if (e - p < 9 || b[e - 9] !== SP || !startsWith(b, e - 8, e, 'HTTP/1.')) return false;
  const d = b[e - 1];
  return d >= 0x30 && d <= 0x39;
}

function nameIs(b: Buffer, p: number, e: number, lower: string): boolean {
  if (e - p !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    let c = b[p + i];
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Scans header lines in b[p, end) until the blank line, storing the trimmed value of the
 * first header named `names[i]` (lower-case) into `out[i]`. A final line without its LF is
 * used only when `takeUnterminated`: on TCP it was cut by a segment boundary and its value
 * may be incomplete, while a datagram's last line is all the sender wrote.
 */
export function readHeaders(
  b: Buffer, p: number, end: number, names: readonly string[], out: (string | null)[], takeUnterminated: boolean,
): void {
  while (p < end) {
    let e = findLf(b, p, end);
    if (e < 0) {
      if (!takeUnterminated) return;
      e = end;
    }
    let le = e;
    if (le > p && b[le - 1] === CR) le--;
    if (le === p) return;
    let c = p;
    while (c < le && b[c] !== COLON) c++;
    if (c < le) {
      for (let i = 0; i < names.length; i++) {
        if (out[i] !== null || !nameIs(b, p, c, names[i])) continue;
        let vs = c + 1;
        let ve = le;
        while (vs < ve && (b[vs] === SP || b[vs] === TAB)) vs++;
        while (ve > vs && (b[ve - 1] === SP || b[ve - 1] === TAB)) ve--;
        out[i] = b.toString('latin1', vs, ve);
        break;
      }
    }
    p = e + 1;
  }
}

/** Parses the HTTP/1.x request head at b[off, off + len), or null when it is not one. */
export function parseHttpRequest(b: Buffer, off: number, len: number): HttpRequest | null {
  // Callers pass views into a shared capture buffer: a bad range must read nothing rather than throw.
  if (!(Number.isInteger(off) && Number.isInteger(len) && off >= 0 && len >= 0 && off + len <= b.length)) return null;
  const end = off + (len < HTTP_SCAN_LIMIT ? len : HTTP_SCAN_LIMIT);
  let method: string | null = null;
  for (const m of METHODS) {
    if (startsWith(b, off, end, m) && off + m.length < end && b[off + m.length] === SP) {
      method = m;
      break;
    }
  }
  if (method === null) return null;
  const lf = findLf(b, off, end);
  if (lf < 0) return null;
  const lineEnd = lf > off && b[lf - 1] === CR ? lf - 1 : lf;
  if (!endsWithHttp1(b, off, lineEnd)) return null;
  const uriStart = off + method.length + 1;
  const uriEnd = lineEnd - 9;
  if (uriEnd <= uriStart) return null;

  const found: (string | null)[] = [null, null];
  readHeaders(b, lf + 1, end, REQUEST_HEADERS, found, false);
  return { method, uri: b.toString('latin1', uriStart, uriEnd), host: found[0], userAgent: found[1] };
}

/**
 * HTTP credentials in a request head (RFC 9110 §11): Basic (RFC 7617) sends
 * the user name and password base64-encoded, in effect in clear; Digest
 * (RFC 7616) sends the user name in clear and a hash of the password. Only
 * the user name and the password's length come out of here, never the password.
 */
import { findLf, HTTP_SCAN_LIMIT, readHeaders, startsWith } from './http.js';
import { printable, printableText, validRange } from './text.js';

/** An HTTP/1.x request head: the headers phonehome's payload facts read, and where its body starts. */
export interface RequestHead {
  method: string;
  authorization: string | null;
  proxyAuthorization: string | null;
  soapAction: string | null;
  /** the Content-Length header as a number; null when absent or not a number */
  contentLength: number | null;
  /** index in the buffer of the body's first byte; -1 when the head does not end in this segment */
  bodyOff: number;
}

export interface HttpCredential {
  scheme: 'basic' | 'digest';
  /** escaped, at most USER_MAX characters; null when the header names none */
  user: string | null;
  /** Basic: the password's length in bytes; Digest sends a hash, not the password: null */
  passwordLength: number | null;
}

const USER_MAX = 64;
const HEADERS = ['authorization', 'proxy-authorization', 'soapaction', 'content-length'];
/** Longer credentials are not what a device sends; the header is not decoded. */
const TOKEN_MAX = 4096;

/** Parses the head of an HTTP/1.x request at b[off, off + len), or null when it does not start one. */
export function parseRequestHead(b: Buffer, off: number, len: number): RequestHead | null {
  if (!validRange(b, off, len) || len < 16) return null;
  const c0 = b[off];
  // Methods are upper-case tokens: most payloads are rejected on their first byte.
  if (c0 < 0x41 || c0 > 0x5a) return null;
  const end = off + Math.min(len, HTTP_SCAN_LIMIT);
  const lf = findLf(b, off, end);
  if (lf < 0) return null;
  let sp = off;
  while (sp < lf && b[sp] >= 0x41 && b[sp] <= 0x5a) sp++;
  if (sp === off || sp - off > 16 || b[sp] !== 0x20) return null;
  const lineEnd = lf > off && b[lf - 1] === 0x0d ? lf - 1 : lf;
  if (lineEnd - off < 14 || !startsWith(b, lineEnd - 9, lineEnd, ' HTTP/1.')) return null;
  const v: (string | null)[] = [null, null, null, null];
  readHeaders(b, lf + 1, end, HEADERS, v, false);
  const n = v[3] !== null && /^\d{1,9}$/.test(v[3]) ? Number(v[3]) : null;
  return { method: b.toString('latin1', off, sp), authorization: v[0], proxyAuthorization: v[1], soapAction: v[2], contentLength: n, bodyOff: headEnd(b, lf + 1, end) };
}

/** Index just past the blank line that ends the head in b[p, end), or -1. */
function headEnd(b: Buffer, p: number, end: number): number {
  while (p < end) {
    const lf = findLf(b, p, end);
    if (lf < 0) return -1;
    if (lf === p || (lf === p + 1 && b[p] === 0x0d)) return lf + 1;
    p = lf + 1;
  }
  return -1;
}

/** The credential an Authorization (or Proxy-Authorization) header value carries, or null for other schemes. */
export function parseAuthorization(value: string): HttpCredential | null {
  const m = /^(basic|digest)[ \t]+(.*)$/is.exec(value);
  if (!m || m[2].length > TOKEN_MAX) return null;
  if (m[1].toLowerCase() === 'digest') return { scheme: 'digest', user: digestUser(m[2]), passwordLength: null };
  const token = m[2].trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(token)) return null;
  const raw = Buffer.from(token, 'base64');
  const colon = raw.indexOf(0x3a);
  // Without the colon the whole token is the secret.
  if (colon < 0) return { scheme: 'basic', user: null, passwordLength: raw.length };
  return { scheme: 'basic', user: colon > 0 ? printable(raw, 0, colon, USER_MAX) : null, passwordLength: raw.length - colon - 1 };
}

/** The username parameter of Digest credentials, quoted or not. */
function digestUser(params: string): string | null {
  const m = /(?:^|[\s,])username[ \t]*=[ \t]*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))/i.exec(params);
  if (!m) return null;
  const u = m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2];
  return u.length > 0 ? printableText(u, USER_MAX) : null;
}

/** SSDP (UPnP discovery): HTTP-formatted NOTIFY, M-SEARCH and search responses over UDP. */
import { HTTP_SCAN_LIMIT, findLf, readHeaders, startsWith } from './http.js';

export interface SsdpMessage {
  kind: 'notify' | 'search' | 'response';
  server: string | null;
  location: string | null;
  usn: string | null;
  nt: string | null;
  st: string | null;
  userAgent: string | null;
}

const HEADERS = ['server', 'location', 'usn', 'nt', 'st', 'user-agent'];

/** Parses the SSDP datagram at b[off, off + len), or null when it is not one. */
export function parseSsdp(b: Buffer, off: number, len: number): SsdpMessage | null {
  // Callers pass views into a shared capture buffer: a bad range must read nothing rather than throw.
  if (!(Number.isInteger(off) && Number.isInteger(len) && off >= 0 && len >= 0 && off + len <= b.length)) return null;
  const end = off + (len < HTTP_SCAN_LIMIT ? len : HTTP_SCAN_LIMIT);
  let kind: SsdpMessage['kind'];
  if (startsWith(b, off, end, 'NOTIFY ')) kind = 'notify';
  else if (startsWith(b, off, end, 'M-SEARCH ')) kind = 'search';
  else if (startsWith(b, off, end, 'HTTP/1.') && off + 8 < end && b[off + 8] === 0x20) kind = 'response';
  else return null;
  const lf = findLf(b, off, end);
  if (lf < 0) return null;

  const v: (string | null)[] = [null, null, null, null, null, null];
  // A datagram is the whole message, so a last header line missing its CRLF is still
  // complete, unless we are the ones who cut it short.
  readHeaders(b, lf + 1, end, HEADERS, v, len <= HTTP_SCAN_LIMIT);
  return { kind, server: v[0], location: v[1], usn: v[2], nt: v[3], st: v[4], userAgent: v[5] };
}

/**
 * TLS ClientHello: the client's version, SNI and ALPN (RFC 5246, 8446, 6066, 7301), and the
 * lists the JA3 and JA4 fingerprints are made of (fingerprint.ts).
 */

import { u16 } from '../util/bytes.js';

export interface ClientHello {
  sni: string | null;
  alpn: string[] | null;
  /** client_version of the hello (the legacy field: TLS 1.3 clients say 0x0303 here) */
  version: number;
  // What the JA3 and JA4 fingerprints are made of, in wire order, GREASE values included.
  ciphers: number[];
  /** extension types */
  extensions: number[];
  /** supported_groups (named curves) */
  groups: number[];
  /** ec_point_formats */
  pointFormats: number[];
  /** signature_algorithms */
  sigAlgs: number[];
  /** supported_versions; null when the extension is absent */
  versions: number[] | null;
  /** a server_name extension is present (whatever it holds) */
  sniSeen: boolean;
}
export type TlsResult = ClientHello | { error: 'tls_truncated' | 'tls_malformed' } | { needMore: number };

const RECORD_HEADER = 5;
const HANDSHAKE_HEADER = 4;
const MAX_RECORD = 16384; // RFC 8446 5.1: TLSPlaintext.length must not exceed 2^14
// Callers buffer at most this much of a connection waiting for a ClientHello.
const MAX_NEED = MAX_RECORD + RECORD_HEADER;
const CONTENT_HANDSHAKE = 0x16;
const CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const EXT_SUPPORTED_GROUPS = 10;
const EXT_POINT_FORMATS = 11;
const EXT_SIGNATURE_ALGORITHMS = 13;
const EXT_SUPPORTED_VERSIONS = 43;

function isHandshakeRecord(b: Buffer, p: number): boolean {
  return b[p] === CONTENT_HANDSHAKE && b[p + 1] === 3 && b[p + 2] <= 4;
}

function needMore(n: number): TlsResult {
  // A hello that cannot fit in the caller's buffer will never be complete: say so rather
  // than ask for bytes the caller will not keep.
  return n > MAX_NEED ? { error: 'tls_truncated' } : { needMore: n };
}

function malformed(): TlsResult {
  return { error: 'tls_malformed' };
}

/**
 * Parses the ClientHello at b[off, off + len). Returns null when the bytes do not start a
 * TLS handshake record carrying a ClientHello, and `{ needMore: n }` when the first n bytes
 * from `off` are needed (call again once they have been reassembled).
 */
export function parseClientHello(b: Buffer, off: number, len: number): TlsResult | null {
  // Callers pass views into a shared capture buffer: a bad range must read nothing rather than throw.
  if (!(Number.isInteger(off) && Number.isInteger(len) && off >= 0 && len >= 0 && off + len <= b.length)) return null;
  const end = off + len;

  // Judge on whatever prefix we have: a hello's first segment may be tiny.
  if (len < 3 || !isHandshakeRecord(b, off)) return null;
  if (len < RECORD_HEADER) return needMore(RECORD_HEADER + HANDSHAKE_HEADER);
  if (len > RECORD_HEADER && b[off + RECORD_HEADER] !== CLIENT_HELLO) return null;
  const recLen = u16(b, off + 3);
  // The first record must at least hold the handshake header for us to size the hello.
  if (recLen < HANDSHAKE_HEADER || recLen > MAX_RECORD) return malformed();
  // Until the hello's own length is visible, the whole first record is a lower bound.
  if (len < RECORD_HEADER + HANDSHAKE_HEADER) return needMore(RECORD_HEADER + recLen);
  const hsLen = (b[off + 6] << 16) | (b[off + 7] << 8) | b[off + 8];
  const total = HANDSHAKE_HEADER + hsLen;

  if (total <= recLen) {
    const need = RECORD_HEADER + total;
    if (len < need) return needMore(need);
    return parseBody(b, off + RECORD_HEADER + HANDSHAKE_HEADER, off + need);
  }

  // The hello continues in further handshake records (RFC 8446 5.1 allows fragmenting).
  let have = recLen;
  let pos = off + RECORD_HEADER + recLen;
  while (have < total) {
    if (pos + RECORD_HEADER > end) return needMore(pos - off + RECORD_HEADER + (total - have));
    // Other content types may not be interleaved with a fragmented handshake message.
    if (!isHandshakeRecord(b, pos)) return malformed();
    const rl = u16(b, pos + 3);
    if (rl === 0 || rl > MAX_RECORD) return malformed();
    const take = rl < total - have ? rl : total - have;
    if (pos + RECORD_HEADER + take > end) return needMore(pos - off + RECORD_HEADER + (total - have));
    have += take;
    pos += RECORD_HEADER + rl;
  }
  // Rare enough that copying the fragments together is cheaper than teaching the parser about them.
  const joined = Buffer.allocUnsafe(total);
  let w = 0;
  for (let p = off; w < total; ) {
    const rl = u16(b, p + 3);
    const take = rl < total - w ? rl : total - w;
    b.copy(joined, w, p + RECORD_HEADER, p + RECORD_HEADER + take);
    w += take;
    p += RECORD_HEADER + rl;
  }
  return parseBody(joined, HANDSHAKE_HEADER, total);
}

/** Parses a ClientHello body at b[p, e) (after the handshake header). */
function parseBody(b: Buffer, p: number, e: number): TlsResult {
  if (p + 2 + 32 + 1 > e) return malformed();
  const version = u16(b, p);
  p += 2 + 32; // client_version, random
  p += 1 + b[p]; // session_id
  if (p + 2 > e) return malformed();
  const cipherEnd = p + 2 + u16(b, p);
  if (cipherEnd > e) return malformed();
  const h: ClientHello = { sni: null, alpn: null, version, ciphers: u16List(b, p + 2, cipherEnd), extensions: [], groups: [], pointFormats: [], sigAlgs: [], versions: null, sniSeen: false };
  p = cipherEnd;
  if (p + 1 > e) return malformed();
  p += 1 + b[p]; // compression_methods
  if (p > e) return malformed();
  // Pre-TLS-1.0-era clients may send no extensions at all.
  if (p === e) return h;
  if (p + 2 > e) return malformed();
  const extEnd = p + 2 + u16(b, p);
  if (extEnd !== e) return malformed();
  p += 2;
  while (p < extEnd) {
    if (p + 4 > extEnd) return malformed();
    const type = u16(b, p);
    const dataEnd = p + 4 + u16(b, p + 2);
    if (dataEnd > extEnd) return malformed();
    h.extensions.push(type);
    if (!extension(h, type, b, p + 4, dataEnd)) return malformed();
    p = dataEnd;
  }
  return h;
}

/** Reads one extension's data b[p, e) into the hello; false when it is malformed. */
function extension(h: ClientHello, type: number, b: Buffer, p: number, e: number): boolean {
  switch (type) {
    case EXT_SERVER_NAME:
      h.sniSeen = true;
      return h.sni !== null || p === e || serverName(h, b, p, e);
    case EXT_ALPN:
      return h.alpn !== null || alpnList(h, b, p, e);
    case EXT_SUPPORTED_GROUPS:
      h.groups = p + 2 <= e ? u16List(b, p + 2, Math.min(e, p + 2 + u16(b, p))) : [];
      return true;
    case EXT_POINT_FORMATS:
      h.pointFormats = p < e ? [...b.subarray(p + 1, Math.min(e, p + 1 + b[p]))] : [];
      return true;
    case EXT_SIGNATURE_ALGORITHMS:
      h.sigAlgs = p + 2 <= e ? u16List(b, p + 2, Math.min(e, p + 2 + u16(b, p))) : [];
      return true;
    case EXT_SUPPORTED_VERSIONS:
      h.versions = p < e ? u16List(b, p + 1, Math.min(e, p + 1 + b[p])) : [];
      return true;
    default:
      return true;
  }
}

/** The 16-bit values in b[p, e) (a trailing odd byte is ignored). */
function u16List(b: Buffer, p: number, e: number): number[] {
  const out: number[] = [];
  for (; p + 2 <= e; p += 2) out.push(u16(b, p));
  return out;
}

function serverName(h: ClientHello, b: Buffer, p: number, e: number): boolean {
  // An empty server_name extension is the server's acknowledgement form; a client's has a list.
  if (p + 2 > e || p + 2 + u16(b, p) !== e) return false;
  for (let q = p + 2; q < e; ) {
    if (q + 3 > e) return false;
    const nameEnd = q + 3 + u16(b, q + 1);
    if (nameEnd > e) return false;
    if (b[q] === 0 && h.sni === null) h.sni = b.toString('latin1', q + 3, nameEnd);
    q = nameEnd;
  }
  return true;
}

function alpnList(h: ClientHello, b: Buffer, p: number, e: number): boolean {
  if (p + 2 > e || p + 2 + u16(b, p) !== e) return false;
  const list: string[] = [];
  for (let q = p + 2; q < e; ) {
    const l = b[q];
    // RFC 7301 3.1: protocol names are never empty.
    if (l === 0 || q + 1 + l > e) return false;
    list.push(b.toString('latin1', q + 1, q + 1 + l));
    q += 1 + l;
  }
  h.alpn = list;
  return true;
}

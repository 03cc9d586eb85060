/**
 * The server's first flight of a TLS connection (RFC 5246 7.3): the ServerHello, then the
 * Certificate message whose first entry is the server's own (leaf) certificate. Up to TLS 1.2
 * that message is in cleartext; from TLS 1.3 on it is encrypted, and nothing is read.
 * Only the leaf is needed, so it is taken as soon as its bytes are there, however the rest of
 * the chain is split over records and segments.
 */

import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { evictOldest, lowWater } from '../util/bounded.js';
import { u16 } from '../util/bytes.js';

export type ServerFlight =
  /** the leaf certificate, DER */
  | { cert: Buffer } /* a view of the bytes given: copy it to keep it */
  /** no cleartext certificate will come: TLS 1.3, a resumed session, or not a TLS server */
  | { none: 'tls13' | 'no_certificate' | 'not_tls' | 'malformed' }
  /** the leaf is not complete yet: call again with more of the server's bytes */
  | { needMore: true };

const RECORD_HEADER = 5;
const CONTENT_HANDSHAKE = 0x16;
const SERVER_HELLO = 2;
const CERTIFICATE = 11;
const EXT_SUPPORTED_VERSIONS = 43;
const TLS13 = 0x0304;
const MORE: ServerFlight = { needMore: true };

/**
 * The handshake bytes carried by the handshake records at the start of b: records are
 * concatenated (a message may span several), the last one possibly cut short. `closed`
 * when another kind of record follows them (no more handshake bytes will come in the
 * clear); null when the server's bytes do not start with a TLS handshake record.
 */
function handshakeBytes(b: Buffer): { hs: Buffer; closed: boolean } | null {
  const parts: Buffer[] = [];
  let closed = false;
  for (let p = 0; p < b.length; ) {
    if (p + 3 <= b.length && (b[p] !== CONTENT_HANDSHAKE || b[p + 1] !== 3)) {
      closed = true;
      break;
    }
    if (p + RECORD_HEADER > b.length) break;
    const end = p + RECORD_HEADER + u16(b, p + 3);
    parts.push(b.subarray(p + RECORD_HEADER, Math.min(end, b.length)));
    p = end;
  }
  if (parts.length === 0 && closed) return null;
  return { hs: parts.length === 1 ? parts[0] : Buffer.concat(parts), closed };
}

const u24 = (b: Buffer, p: number) => (b[p] << 16) | (b[p + 1] << 8) | b[p + 2];

/** Whether the ServerHello body b[p, e) selects TLS 1.3 (RFC 8446 4.2.1: in supported_versions). */
function selectsTls13(b: Buffer, p: number, e: number): boolean | null {
  if (p + 2 + 32 + 1 > e) return null;
  if (u16(b, p) >= TLS13) return true;
  p += 2 + 32;
  p += 1 + b[p] + 2 + 1; // session_id, cipher_suite, compression_method
  if (p + 2 > e) return p === e ? false : null;
  const extEnd = Math.min(e, p + 2 + u16(b, p));
  for (p += 2; p + 4 <= extEnd; ) {
    const type = u16(b, p);
    const len = u16(b, p + 2);
    if (type === EXT_SUPPORTED_VERSIONS && len === 2 && p + 6 <= extEnd) return u16(b, p + 4) >= TLS13;
    p += 4 + len;
  }
  return false;
}

/** Reads the server's bytes so far (from its first payload byte) for the leaf certificate. */
export function serverCertificate(b: Buffer): ServerFlight {
  const got = handshakeBytes(b);
  if (got === null) return { none: 'not_tls' };
  const { hs, closed } = got;
  // Past the bytes the handshake records hold, nothing more of the flight is readable.
  const more = (): ServerFlight => (closed ? { none: 'no_certificate' } : MORE);
  if (hs.length < 4) return more();
  if (hs[0] !== SERVER_HELLO) return { none: 'not_tls' };
  const helloEnd = 4 + u24(hs, 1);
  if (hs.length < helloEnd) return more();
  const v13 = selectsTls13(hs, 4, helloEnd);
  if (v13 === null) return { none: 'malformed' };
  if (v13) return { none: 'tls13' };
  if (hs.length < helloEnd + 4) return more();
  // A resumed session goes straight to ChangeCipherSpec; anonymous suites skip the certificate.
  if (hs[helloEnd] !== CERTIFICATE) return { none: 'no_certificate' };
  if (hs.length < helloEnd + 7) return more();
  const listLen = u24(hs, helloEnd + 4);
  if (listLen === 0) return { none: 'no_certificate' };
  if (hs.length < helloEnd + 10) return more();
  const leafLen = u24(hs, helloEnd + 7);
  if (leafLen === 0 || leafLen + 3 > listLen) return { none: 'malformed' };
  const leafAt = helloEnd + 10;
  if (hs.length < leafAt + leafLen) return more();
  return { cert: hs.subarray(leafAt, leafAt + leafLen) };
}

export interface CertificateFacts {
  /** the certificate is issued by itself and its signature verifies with its own key */
  selfSigned: boolean;
  /** its notAfter is before the flow's time */
  expired: boolean | null;
  /** the name the client asked for (SNI) is not covered by its names; null without an SNI */
  nameMismatch: boolean | null;
}

/** What is known of a certificate whatever the flow: parsed once per distinct certificate. */
interface Parsed {
  cert: X509Certificate;
  selfSigned: boolean;
  /** notAfter in epoch milliseconds, NaN when unreadable */
  notAfter: number;
  /** names asked for (SNI) and whether the certificate covers them: OpenSSL's check costs more than the rest of a flow */
  covers: Map<string, boolean>;
}

/** Names remembered per certificate. */
const NAMES_MAX = 64;

/**
 * A certificate's key in the cache: its length and last bytes (the end of its signature).
 * Two certificates may share one, so a hit counts only when the DER is the same.
 */
const certKey = (b: Buffer) => `${b.length}:${b.toString('latin1', Math.max(0, b.length - 12), b.length)}`;

/** Distinct certificates remembered: devices meet the same few servers again and again. */
const CACHE_MAX = 512;

/**
 * What leaf certificates say about their servers. Parsing one costs about a tenth of a
 * millisecond, far more than a flow's other work, so each distinct certificate is parsed
 * once (of the last CACHE_MAX seen); the answers do not depend on what is cached.
 */
export class CertificateJudge {
  /** by certKey: the DER (two may share a key) and what it parsed to, null when it did not */
  private readonly seen = new Map<string, { der: Buffer; parsed: Parsed | null }>();

  /**
   * The leaf's facts, judged at `ts` (epoch seconds) for a client that asked for `sni`.
   * Names follow RFC 6125 as OpenSSL checks them: DNS names of the subjectAltName when
   * there are any, else the subject's CN; a wildcard covers exactly one whole left-most
   * label. null when the DER does not parse.
   */
  facts(der: Buffer, sni: string | null, ts: number): CertificateFacts | null {
    const key = certKey(der);
    let known = this.seen.get(key);
    if (known === undefined || !known.der.equals(der)) {
      const copy = Buffer.from(der);
      known = { der: copy, parsed: parse(copy) };
      if (this.seen.size >= CACHE_MAX) evictOldest(this.seen, lowWater(CACHE_MAX));
      this.seen.set(key, known);
    }
    const p = known.parsed;
    if (p === null) return null;
    return {
      selfSigned: p.selfSigned,
      expired: Number.isNaN(p.notAfter) ? null : ts * 1000 > p.notAfter,
      nameMismatch: sni === null ? null : !coversName(p, sni),
    };
  }
}

/** certificateFacts without remembering the certificate: for one-off questions. */
export function certificateFacts(der: Buffer, sni: string | null, ts: number): CertificateFacts | null {
  return new CertificateJudge().facts(der, sni, ts);
}

function coversName(p: Parsed, sni: string): boolean {
  let yes = p.covers.get(sni);
  if (yes === undefined) {
    if (p.covers.size >= NAMES_MAX) p.covers.clear();
    p.covers.set(sni, (yes = covers(p.cert, sni)));
  }
  return yes;
}

function parse(der: Buffer): Parsed | null {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    return null;
  }
  return { cert, selfSigned: selfSigned(cert), notAfter: Date.parse(cert.validTo), covers: new Map() };
}

function selfSigned(cert: X509Certificate): boolean {
  try {
    return cert.checkIssued(cert) && cert.verify(cert.publicKey);
  } catch {
    // A key type this OpenSSL cannot verify with: issued by itself is all that can be said.
    return cert.subject === cert.issuer;
  }
}

function covers(cert: X509Certificate, sni: string): boolean {
  const name = sni.endsWith('.') ? sni.slice(0, -1) : sni;
  try {
    if (isIP(name)) return cert.checkIP(name) !== undefined;
    return cert.checkHost(name, { subject: 'default', wildcards: true, partialWildcards: false, multiLabelWildcards: false, singleLabelSubdomains: false }) !== undefined;
  } catch {
    // A name OpenSSL refuses to compare (a NUL, say) is not one the certificate covers.
    return false;
  }
}

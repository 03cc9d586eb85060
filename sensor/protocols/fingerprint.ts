/**
 * TLS client fingerprints of a ClientHello: JA3 (Salesforce's, an MD5 of the
 * hello's lists in wire order) and JA4 (FoxIO's TLS client fingerprint, BSD
 * 3-Clause: a readable prefix, then truncated SHA-256 hashes of the sorted
 * cipher and extension lists). GREASE values (RFC 8701) are left out of both.
 * JA4 here is always the TCP form ("t"): QUIC and DTLS hellos are not read.
 */

import { createHash } from 'node:crypto';
import type { ClientHello } from './tls.js';

const EXT_SERVER_NAME = 0x0000;
const EXT_ALPN = 0x0010;
const NO_VALUES = '000000000000';

/** RFC 8701 reserves 0x0a0a, 0x1a1a, ... 0xfafa so that peers learn to ignore unknown values. */
export function isGrease(v: number): boolean {
  return (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);
}

const real = (list: number[]) => list.filter((v) => !isGrease(v));

/** JA3's string: version, ciphers, extensions, curves, point formats, in decimal and in wire order. */
export function ja3String(h: ClientHello): string {
  const join = (list: number[]) => real(list).join('-');
  return [String(h.version), join(h.ciphers), join(h.extensions), join(h.groups), h.pointFormats.join('-')].join(',');
}

export function ja3(h: ClientHello): string {
  return createHash('md5').update(ja3String(h)).digest('hex');
}

const VERSIONS: Record<number, string> = { 0x0304: '13', 0x0303: '12', 0x0302: '11', 0x0301: '10', 0x0300: 's3', 0x0002: 's2' };

/** The highest version in supported_versions when the client sent it, else the hello's own version. */
function ja4Version(h: ClientHello): string {
  const offered = real(h.versions ?? []);
  const v = offered.length > 0 ? Math.max(...offered) : h.version;
  return VERSIONS[v] ?? '00';
}

const alnum = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

/** First and last character of the first ALPN value; of its hex form when either is not alphanumeric. */
export function ja4Alpn(first: string | null | undefined): string {
  if (!first) return '00';
  const a = first.charCodeAt(0);
  const z = first.charCodeAt(first.length - 1);
  if (alnum(a) && alnum(z)) return first[0] + first[first.length - 1];
  const hex = Buffer.from(first, 'latin1').toString('hex');
  return hex[0] + hex[hex.length - 1];
}

const hex4 = (v: number) => v.toString(16).padStart(4, '0');
const count = (n: number) => String(Math.min(n, 99)).padStart(2, '0');
const sha12 = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 12);

/** JA4's raw (sorted) form, "JA4_r": the prefix, the sorted ciphers, the sorted extensions and the signature algorithms. */
export function ja4Raw(h: ClientHello): { prefix: string; ciphers: string; extensions: string; sigAlgs: string } {
  const ciphers = real(h.ciphers);
  const extensions = real(h.extensions);
  const prefix = `t${ja4Version(h)}${h.sniSeen ? 'd' : 'i'}${count(ciphers.length)}${count(extensions.length)}${ja4Alpn(h.alpn?.[0])}`;
  // SNI and ALPN are in the prefix already: the same client keeps its hash whatever it connects to.
  const hashed = extensions.filter((t) => t !== EXT_SERVER_NAME && t !== EXT_ALPN);
  return {
    prefix,
    ciphers: ciphers.map(hex4).sort().join(','),
    extensions: hashed.map(hex4).sort().join(','),
    sigAlgs: real(h.sigAlgs).map(hex4).join(','),
  };
}

export function ja4(h: ClientHello): string {
  const r = ja4Raw(h);
  const b = r.ciphers === '' ? NO_VALUES : sha12(r.ciphers);
  const c = r.extensions === '' ? NO_VALUES : sha12(r.sigAlgs === '' ? r.extensions : `${r.extensions}_${r.sigAlgs}`);
  return `${r.prefix}_${b}_${c}`;
}

/**
 * Both fingerprints of a hello. A device sends the same hello over and over,
 * and hashing is most of a fingerprint's cost, so they are remembered by what
 * they are made of (bounded: cleared when full). The look-up hashes the
 * inputs as numbers and compares them on a hit: building a string key per
 * hello showed in profiles.
 */
export function fingerprints(h: ClientHello): { ja3: string; ja4: string } {
  const key = inputsHash(h);
  const bucket = remembered.get(key);
  const hit = bucket?.find((r) => sameInputs(r.h, h));
  if (hit) return hit.f;
  if (remembered.size >= MAX_REMEMBERED) remembered.clear();
  const f = { ja3: ja3(h), ja4: ja4(h) };
  const entry = { h, f };
  if (bucket) bucket.push(entry);
  else remembered.set(key, [entry]);
  return f;
}

const MAX_REMEMBERED = 4096;
const remembered = new Map<number, { h: ClientHello; f: { ja3: string; ja4: string } }[]>();

/** The lists (and values) both fingerprints are made of, in the order fingerprints() compares them. */
const lists = (h: ClientHello): (number[] | null)[] => [h.ciphers, h.extensions, h.groups, h.pointFormats, h.sigAlgs, h.versions];

function sameInputs(a: ClientHello, b: ClientHello): boolean {
  if (a.version !== b.version || a.sniSeen !== b.sniSeen || (a.alpn?.[0] ?? null) !== (b.alpn?.[0] ?? null)) return false;
  const la = lists(a);
  const lb = lists(b);
  for (let i = 0; i < la.length; i++) if (!sameList(la[i], lb[i])) return false;
  return true;
}

function sameList(x: number[] | null, y: number[] | null): boolean {
  if (x === null || y === null) return x === y;
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** FNV-1a over every input of both fingerprints; a list's length goes first, so lists cannot run into each other. */
function inputsHash(h: ClientHello): number {
  let x = mix(0x811c9dc5, h.version + (h.sniSeen ? 0x10000 : 0));
  for (const list of lists(h)) {
    x = mix(x, list === null ? 0x20000 : list.length);
    if (list) for (const v of list) x = mix(x, v);
  }
  const alpn = h.alpn?.[0] ?? '';
  for (let i = 0; i < alpn.length; i++) x = mix(x, alpn.charCodeAt(i));
  return x;
}

const mix = (x: number, v: number): number => Math.imul(x ^ v, 0x01000193) >>> 0;

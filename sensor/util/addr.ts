/** Address formatting and classification shared by every stage. */

import { isIP } from 'node:net';
import { u32 } from './bytes.js';

// A network's packets name the same few thousand addresses over and over (flow
// endpoints, DNS answers): their text is cached in small direct-mapped tables,
// so a repeat costs a compare instead of a string and its garbage.
const SLOTS = 8192;
const v4Num = new Uint32Array(SLOTS);
const v4Str: (string | undefined)[] = new Array(SLOTS);
const v6Words = new Uint32Array(SLOTS * 4);
const v6Str: (string | undefined)[] = new Array(SLOTS);

export function ip4String(n: number): string {
  const slot = Math.imul(n, 0x9e3779b1) >>> 19;
  const hit = v4Str[slot];
  if (hit !== undefined && v4Num[slot] === n >>> 0) return hit;
  const s = `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  v4Num[slot] = n;
  v4Str[slot] = s;
  return s;
}

/** RFC 5952 text form of the IPv6 address at b[off, off + 16). */
export function ip6String(b: Buffer, off: number): string {
  const w0 = u32(b, off);
  const w1 = u32(b, off + 4);
  const w2 = u32(b, off + 8);
  const w3 = u32(b, off + 12);
  const slot = Math.imul(w0 ^ Math.imul(w1, 0x85ebca6b) ^ Math.imul(w2, 0xc2b2ae35) ^ Math.imul(w3, 0x27d4eb2f), 0x9e3779b1) >>> 19;
  const hit = v6Str[slot];
  const k = slot * 4;
  if (hit !== undefined && v6Words[k] === w0 && v6Words[k + 1] === w1 && v6Words[k + 2] === w2 && v6Words[k + 3] === w3) return hit;
  const s = formatIp6(b, off);
  v6Words[k] = w0;
  v6Words[k + 1] = w1;
  v6Words[k + 2] = w2;
  v6Words[k + 3] = w3;
  v6Str[slot] = s;
  return s;
}

function formatIp6(b: Buffer, off: number): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push(b.readUInt16BE(off + i * 2));
  // IPv4-mapped addresses are written with a dotted quad.
  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff) {
    return `::ffff:${w[6] >> 8}.${w[6] & 255}.${w[7] >> 8}.${w[7] & 255}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = w.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

const macCache = new Map<number, string>();

export function macString(n: number): string {
  if (n < 0) return '';
  const hit = macCache.get(n);
  if (hit !== undefined) return hit;
  const s = formatMac(n);
  // A network has a bounded set of MACs; a flood of forged ones must not grow the cache.
  if (macCache.size >= 65536) macCache.clear();
  macCache.set(n, s);
  return s;
}

function formatMac(n: number): string {
  const s = n.toString(16).padStart(12, '0');
  return `${s.slice(0, 2)}:${s.slice(2, 4)}:${s.slice(4, 6)}:${s.slice(6, 8)}:${s.slice(8, 10)}:${s.slice(10, 12)}`;
}

/** Parses "a.b.c.d" to an unsigned 32-bit number, or null. */
export function parseIp4(s: string): number | null {
  // By hand: this runs several times per flow, and a regex plus arrays showed in profiles.
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return null;
    } else if (c === 46 && digits > 0 && dots < 3) {
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else return null;
  }
  if (dots !== 3 || digits === 0) return null;
  return n * 256 + part;
}

/**
 * Addresses that are not somewhere on the Internet: private, loopback,
 * link-local, CGNAT, multicast, broadcast, documentation and reserved ranges.
 * Hosts with these addresses are local; flows to them are not outbound.
 */
export function isSpecial4(n: number): boolean {
  const a = n >>> 24;
  const b = (n >>> 16) & 255;
  return (
    a === 0 || a === 10 || a === 127 || a >= 224 || // this-network, private, loopback, multicast, reserved, broadcast
    (a === 100 && b >= 64 && b < 128) || // CGNAT 100.64/10
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b < 32) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0 && ((n >>> 8) & 255) === 0) || // IETF protocol assignments 192.0.0/24
    (a === 192 && b === 0 && ((n >>> 8) & 255) === 2) || // TEST-NET-1
    (a === 198 && (b === 18 || b === 19)) || // benchmarking
    (a === 198 && b === 51 && ((n >>> 8) & 255) === 100) || // TEST-NET-2
    (a === 203 && b === 0 && ((n >>> 8) & 255) === 113) // TEST-NET-3
  );
}

/** IPv6 counterpart of isSpecial4 for the address at b[off]. */
export function isSpecial6(b: Buffer, off: number): boolean {
  const w0 = b.readUInt16BE(off);
  if (w0 === 0) {
    // ::, ::1, IPv4-mapped and IPv4-compatible: judge by the embedded IPv4 address when mapped
    const mapped = b.readUInt32BE(off + 4) === 0 && b.readUInt16BE(off + 8) === 0 && b.readUInt16BE(off + 10) === 0xffff;
    return mapped ? isSpecial4(b.readUInt32BE(off + 12)) : true;
  }
  if ((w0 & 0xfe00) === 0xfc00) return true; // unique local fc00::/7
  if ((w0 & 0xffc0) === 0xfe80) return true; // link-local fe80::/10
  if ((w0 & 0xffc0) === 0xfec0) return true; // site-local (deprecated) fec0::/10
  if ((w0 & 0xff00) === 0xff00) return true; // multicast
  if (w0 === 0x2001 && b.readUInt16BE(off + 2) === 0x0db8) return true; // documentation
  if (w0 === 0x3fff && (b.readUInt16BE(off + 2) & 0xf000) === 0) return true; // documentation 3fff::/20
  if (w0 === 0x0100 && b.readUInt32BE(off + 2) === 0 && b.readUInt16BE(off + 6) === 0) return true; // discard-only 100::/64
  // NAT64 64:ff9b::/96 carries public IPv4; the local-use prefix 64:ff9b:1::/48 (RFC 8215) does not
  if (w0 === 0x64 && b.readUInt16BE(off + 2) === 0xff9b) return b.readUInt16BE(off + 4) === 1;
  if (w0 === 0x5f00) return true; // SRv6 SIDs 5f00::/16 (RFC 9602)
  if (w0 === 0x2001 && b.readUInt16BE(off + 2) < 0x0200) return true; // IETF protocol assignments 2001::/23
  return false;
}

/** Classifies an address given as text (used outside the hot path). */
export function isSpecialIp(ip: string): boolean {
  const v4 = parseIp4(ip);
  if (v4 !== null) return isSpecial4(v4);
  const buf = parseIp6(ip);
  return buf === null ? true : isSpecial6(buf, 0);
}

export function parseIp6(s: string): Buffer | null {
  if (!s.includes(':')) return null;
  let head = s;
  let tailV4: number | null = null;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    tailV4 = parseIp4(s.slice(lastColon + 1));
    if (tailV4 === null) return null;
    head = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split('::');
  if (halves.length > 2) return null;
  const parse = (x: string) => (x === '' ? [] : x.split(':'));
  const left = parse(halves[0]);
  const right = halves.length === 2 ? parse(halves[1]) : [];
  const fill = 8 - left.length - right.length;
  if ((halves.length === 1 && fill !== 0) || fill < 0) return null;
  const words = [...left, ...Array(halves.length === 2 ? fill : 0).fill('0'), ...right];
  if (words.length !== 8) return null;
  const out = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(words[i])) return null;
    out.writeUInt16BE(parseInt(words[i], 16), i * 2);
  }
  if (tailV4 !== null) out.writeUInt32BE(tailV4, 12);
  return out;
}

/**
 * The 4 or 16 bytes of an address a person wrote (a profile, a MUD file), or
 * null. Stricter than parseIp4 and parseIp6, which read what a packet or the
 * sensor itself produced: IPv4 parts with leading zeros are refused (some
 * tools read them as octal), and IPv6 text must be what node:net accepts,
 * without a zone id (a zone names an interface, not a destination).
 */
export function parseIpText(s: string): Buffer | null {
  const v4 = /(?:^|\.)0\d/.test(s) ? null : parseIp4(s);
  if (v4 !== null) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v4, 0);
    return b;
  }
  return s.includes('%') || isIP(s) !== 6 ? null : parseIp6(s);
}

/** The text form of an address given as its 4 or 16 bytes. */
export function ipString(b: Buffer): string {
  return b.length === 4 ? ip4String(b.readUInt32BE(0)) : ip6String(b, 0);
}

/** A copy of the address `b` with every bit after the first `prefix` cleared: the network it is in. */
export function networkOf(b: Buffer, prefix: number): Buffer {
  const out = Buffer.from(b);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] &= (0xff << (8 - keep)) & 0xff;
  }
  return out;
}

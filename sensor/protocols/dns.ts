/** DNS, mDNS and LLMNR messages (RFC 1035 wire format; all three share it). */
import { ip4String, ip6String } from '../util/addr.js';
import { u16, u32 } from '../util/bytes.js';

export interface DnsAnswerRR { name: string; type: string; data: string; ttl: number }
export interface DnsMessage {
  id: number;
  isResponse: boolean;
  rcode: number;
  query: string | null;
  qtype: string | null;
  answers: DnsAnswerRR[];
  additionals: DnsAnswerRR[];
  /** ANCOUNT of the header: answers sent, whether or not they were parsed into `answers` */
  answerCount: number;
}
export type DnsError = 'dns_truncated' | 'dns_bad_pointer' | 'dns_pointer_loop' | 'dns_bad_label' | 'dns_too_many_records';
export type DnsResult = DnsMessage | { error: DnsError };

const HEADER = 12;
// A question is at least a root name (1) plus type and class (4); an RR adds TTL and RDLENGTH (6).
const MIN_QUESTION = 5;
const MIN_RR = 11;
const MAX_RECORDS = 512;
// Legitimate names need a handful of jumps; anything past this is a cycle, even one that
// alternates labels and pointers and so never revisits the same byte as a pointer.
const MAX_JUMPS = 64;
const MAX_NAME_WIRE = 255;
const MAX_HEX_RDATA = 64;
const ROOT = '<Root>'; // what tshark shows for the empty name

const TYPE_NAMES = new Map<number, string>([
  [1, 'A'], [2, 'NS'], [5, 'CNAME'], [6, 'SOA'], [12, 'PTR'], [13, 'HINFO'], [15, 'MX'], [16, 'TXT'],
  [28, 'AAAA'], [33, 'SRV'], [35, 'NAPTR'], [41, 'OPT'], [43, 'DS'], [46, 'RRSIG'], [47, 'NSEC'],
  [48, 'DNSKEY'], [50, 'NSEC3'], [64, 'SVCB'], [65, 'HTTPS'], [251, 'IXFR'], [252, 'AXFR'], [255, 'ANY'],
  [257, 'CAA'],
]);

export function dnsTypeName(t: number): string {
  return TYPE_NAMES.get(t) ?? `TYPE${t}`;
}

// Name and rdata readers return either text or one of these codes, so the hot path
// never allocates an error object unless the message is actually bad.
const E_TRUNCATED = 0;
const E_BAD_POINTER = 1;
const E_LOOP = 2;
const E_BAD_LABEL = 3;
const ERROR_KINDS: readonly DnsError[] = ['dns_truncated', 'dns_bad_pointer', 'dns_pointer_loop', 'dns_bad_label'];

// Second return value of readName: where the bytes after the name start. Module-level so
// reading a name allocates nothing but the name itself; nothing can interleave (no awaits).
let nameNext = 0;

// Names repeat endlessly (every lookup, every mDNS announcement): a name is decoded
// into `scratch` and its string taken from a small cache, so a repeat allocates nothing.
// Building strings per character had made names the largest allocation of a DNS-heavy run.
const scratch = Buffer.alloc(MAX_NAME_WIRE + 1);
const INTERN_SLOTS = 4096;
const interned: (string | undefined)[] = new Array(INTERN_SLOTS);

function intern(n: number, h: number): string {
  const slot = (h >>> 0) & (INTERN_SLOTS - 1);
  const hit = interned[slot];
  if (hit !== undefined && hit.length === n) {
    let i = 0;
    while (i < n && hit.charCodeAt(i) === scratch[i]) i++;
    if (i === n) return hit;
  }
  const s = scratch.toString('latin1', 0, n);
  interned[slot] = s;
  return s;
}

/**
 * Reads the (possibly compressed) name at `pos`. `base`/`end` bound the message, which is
 * where pointers may land; `lim` bounds the uncompressed prefix (an RDATA field's end).
 * With `build` false the name is only checked (same errors) and '' returned.
 */
function readName(b: Buffer, base: number, end: number, pos: number, lim: number, build = true): string | number {
  let n = 0; // name bytes in `scratch`, with the dots
  let h = 0x811c9dc5;
  let wire = 1; // the terminating root byte
  let jumps = 0;
  let next = -1;
  for (;;) {
    if (pos >= lim) return E_TRUNCATED;
    const l = b[pos];
    if (l === 0) {
      nameNext = next < 0 ? pos + 1 : next;
      if (!build) return '';
      return n === 0 ? ROOT : intern(n, h);
    }
    const kind = l & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= lim) return E_TRUNCATED;
      const target = ((l & 0x3f) << 8) | b[pos + 1];
      if (next < 0) next = pos + 2;
      if (target >= end - base) return E_BAD_POINTER;
      if (++jumps > MAX_JUMPS) return E_LOOP;
      pos = base + target;
      lim = end;
      continue;
    }
    // 0x40 (extended label types, RFC 6891) and 0x80 are reserved: we cannot know their length.
    if (kind !== 0) return E_BAD_LABEL;
    wire += l + 1;
    if (wire > MAX_NAME_WIRE) return E_BAD_LABEL;
    if (pos + 1 + l > lim) return E_TRUNCATED;
    // Byte by byte: Buffer#toString per label (slice, then decode) dominated DNS-heavy captures.
    if (build) {
      if (n !== 0) {
        scratch[n++] = 0x2e;
        h = Math.imul(h ^ 0x2e, 0x01000193);
      }
      for (let i = pos + 1, e = pos + 1 + l; i < e; i++) {
        const c = b[i];
        scratch[n++] = c;
        h = Math.imul(h ^ c, 0x01000193);
      }
    }
    pos += 1 + l;
  }
}

/** Checks one RR's data as rdataText would, without building text: the same errors for the same bytes. */
function rdataCheck(b: Buffer, base: number, end: number, type: number, p: number, n: number): number {
  const e = p + n;
  switch (type) {
    case 2:
    case 5:
    case 12: {
      const r = readName(b, base, end, p, e, false);
      return typeof r === 'number' ? r : -1;
    }
    case 15:
    case 33: {
      const skip = type === 15 ? 2 : 6;
      if (n < skip + 1) return E_TRUNCATED;
      const r = readName(b, base, end, p + skip, e, false);
      return typeof r === 'number' ? r : -1;
    }
    case 16:
      for (let q = p; q < e; q += 1 + b[q]) if (q + 1 + b[q] > e) return E_TRUNCATED;
  }
  return -1;
}

/** Presentation text of one RR's data at b[p, p + n). */
function rdataText(b: Buffer, base: number, end: number, type: number, p: number, n: number): string | number {
  const e = p + n;
  switch (type) {
    case 1:
      if (n === 4) return ip4String(u32(b, p));
      break;
    case 28:
      if (n === 16) return ip6String(b, p);
      break;
    case 2:
    case 5:
    case 12:
      return readName(b, base, end, p, e);
    case 15: {
      if (n < 3) return E_TRUNCATED;
      const name = readName(b, base, end, p + 2, e);
      return typeof name === 'number' ? name : `${u16(b, p)} ${name}`;
    }
    case 33: {
      if (n < 7) return E_TRUNCATED;
      const name = readName(b, base, end, p + 6, e);
      return typeof name === 'number' ? name : `${u16(b, p)} ${u16(b, p + 2)} ${u16(b, p + 4)} ${name}`;
    }
    case 16: {
      let out = '';
      for (let q = p; q < e; ) {
        const l = b[q];
        if (q + 1 + l > e) return E_TRUNCATED;
        const s = b.toString('latin1', q + 1, q + 1 + l);
        out = q === p ? s : `${out} ${s}`;
        q += 1 + l;
      }
      return out;
    }
  }
  // Unparsed or odd-sized data stays inspectable without letting one RR bloat the output.
  return b.toString('hex', p, p + (n < MAX_HEX_RDATA ? n : MAX_HEX_RDATA));
}

/**
 * Parses the DNS message at b[off, off + len). Never throws; malformed input yields `{ error }`.
 * `addressesOnly` keeps only A and AAAA records (all that naming flows and hosts needs) and
 * skips building the rest, with the same errors for the same bytes.
 */
export function parseDns(b: Buffer, off: number, len: number, addressesOnly = false): DnsResult {
  // Callers pass views into a shared capture buffer: a bad range must read nothing rather than throw.
  if (!(Number.isInteger(off) && Number.isInteger(len) && off >= 0 && len >= 0 && off + len <= b.length)) {
    return { error: 'dns_truncated' };
  }
  if (len < HEADER) return { error: 'dns_truncated' };
  const end = off + len;
  const flags = u16(b, off + 2);
  const qd = u16(b, off + 4);
  const an = u16(b, off + 6);
  const rrs = an + u16(b, off + 8) + u16(b, off + 10);
  // Reject impossible counts before looping over them: counts are attacker-chosen.
  if (qd * MIN_QUESTION + rrs * MIN_RR > len - HEADER) return { error: 'dns_truncated' };
  if (qd + rrs > MAX_RECORDS) return { error: 'dns_too_many_records' };

  let p = off + HEADER;
  let query: string | null = null;
  let qtype: string | null = null;
  for (let i = 0; i < qd; i++) {
    const name = readName(b, off, end, p, end);
    if (typeof name === 'number') return { error: ERROR_KINDS[name] };
    p = nameNext;
    if (p + 4 > end) return { error: 'dns_truncated' };
    if (i === 0) {
      query = name;
      qtype = dnsTypeName(u16(b, p));
    }
    p += 4; // qtype, qclass (its top bit is mDNS's unicast-response flag, not part of the class)
  }

  const answers: DnsAnswerRR[] = [];
  const additionals: DnsAnswerRR[] = [];
  for (let i = 0; i < rrs; i++) {
    const at = p;
    let name = readName(b, off, end, p, end, !addressesOnly);
    if (typeof name === 'number') return { error: ERROR_KINDS[name] };
    p = nameNext;
    if (p + 10 > end) return { error: 'dns_truncated' };
    const type = u16(b, p);
    const ttl = u32(b, p + 4);
    const rdlen = u16(b, p + 8);
    p += 10;
    if (p + rdlen > end) return { error: 'dns_truncated' };
    if (addressesOnly) {
      if (!((type === 1 && rdlen === 4) || (type === 28 && rdlen === 16))) {
        const bad = rdataCheck(b, off, end, type, p, rdlen);
        if (bad >= 0) return { error: ERROR_KINDS[bad] };
        p += rdlen;
        continue;
      }
      name = readName(b, off, end, at, end) as string;
    }
    const data = rdataText(b, off, end, type, p, rdlen);
    if (typeof data === 'number') return { error: ERROR_KINDS[data] };
    (i < an ? answers : additionals).push({ name, type: dnsTypeName(type), data, ttl });
    p += rdlen;
  }

  return {
    id: u16(b, off),
    isResponse: (flags & 0x8000) !== 0,
    rcode: flags & 0xf,
    query,
    qtype,
    answers,
    additionals,
    answerCount: an,
  };
}

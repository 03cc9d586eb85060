// The values a device profile holds (names, domains, networks, protocols,
// ports, MACs, MUD URLs), checked and brought to one canonical form. Both
// profile sources use them: the YAML format and the MUD import must agree on
// what a value means, or one device documented both ways would match
// differently.
import { isIP } from 'node:net';
import type { DocumentedDestination } from '../../../contract/types.js';
import { ipString, networkOf, parseIpText } from '../../util/addr.js';

export const PROFILE_NAME_RE = /^[a-z0-9][a-z0-9._-]*$/i;

/** A port range wider than this is almost certainly "any port" in disguise; we refuse to expand it. */
export const MAX_PORT_RANGE = 1024;

/** RFC 8520 "local-networks": the private and link-local ranges a device may reach on its own network. */
export const LOCAL_NETWORKS: readonly string[] = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7', 'fe80::/10'];

/** Either a normalised value or a one-line description of why the input is not acceptable. */
export type Checked<T> = { value: T; problem?: undefined } | { value?: undefined; problem: string };

export const ok = <T>(value: T): Checked<T> => ({ value });
export const bad = <T>(problem: string): Checked<T> => ({ problem });

const LABEL_RE = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** Lower-cases, strips a trailing dot, and checks host-name syntax; "*.example.com" is the only wildcard form. */
export function normaliseDomain(raw: string): Checked<string> {
  let s = raw.toLowerCase();
  if (s.endsWith('.')) s = s.slice(0, -1);
  if (s === '') return bad('is empty');
  let wildcard = false;
  if (s.startsWith('*.')) {
    wildcard = true;
    s = s.slice(2);
  }
  if (s.includes('*')) return bad('has a "*" that is not a whole first label (the wildcard form is "*.example.com")');
  if (isIP(s) !== 0) return bad('is an IP address; use cidr for addresses');
  if (s.length > 253) return bad(`is ${s.length} characters long (a host name has at most 253)`);
  for (const label of s.split('.')) {
    if (label === '') return bad('has an empty label (two dots in a row, or a leading dot)');
    if (!LABEL_RE.test(label)) {
      return bad(`has an invalid label ${JSON.stringify(label)} (letters, digits, "-" and "_", at most 63 characters, no "-" at either end)`);
    }
  }
  return ok(wildcard ? `*.${s}` : s);
}

/**
 * Checks "address" or "address/prefix" for IPv4 and IPv6 and returns the
 * canonical text (RFC 5952 for IPv6). A prefix with host bits set is refused:
 * "10.0.0.1/8" is more likely a mistake than a way to write 10.0.0.0/8.
 */
export function normaliseCidr(raw: string): Checked<string> {
  const slash = raw.indexOf('/');
  const bytes = parseIpText((slash < 0 ? raw : raw.slice(0, slash)).toLowerCase());
  if (!bytes) return bad('is not an IPv4 or IPv6 address or network (expected e.g. 192.0.2.0/24 or 2001:db8::/32)');
  const family = bytes.length === 4 ? 4 : 6;
  const bits = bytes.length * 8;
  const text = ipString(bytes);
  if (slash < 0) return ok(text);
  const p = raw.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p) || Number(p) > bits) return bad(`has an invalid prefix length "/${p}" (expected 0-${bits} for IPv${family})`);
  const prefix = Number(p);
  const net = networkOf(bytes, prefix);
  if (!net.equals(bytes)) return bad(`has host bits set (the network is ${ipString(net)}/${prefix})`);
  return ok(`${text}/${prefix}`);
}

/** The name for an IP protocol number as FlowRecord.proto spells it. */
export function protoName(n: number): string {
  switch (n) {
    case 1:
      return 'icmp';
    case 6:
      return 'tcp';
    case 17:
      return 'udp';
    case 58:
      return 'icmp6';
    default:
      return String(n);
  }
}

const PROTO_NUMBERS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, icmp6: 58 };

export function normaliseProto(raw: string | number): Checked<string> {
  if (typeof raw === 'number') {
    return Number.isInteger(raw) && raw >= 0 && raw <= 255 ? ok(protoName(raw)) : bad('is not an IP protocol number 0-255');
  }
  const s = raw.toLowerCase();
  if (s in PROTO_NUMBERS) return ok(s);
  if (/^\d{1,3}$/.test(s) && Number(s) <= 255) return ok(protoName(Number(s)));
  return bad('is not tcp, udp, icmp, icmp6 or an IP protocol number 0-255');
}

/** IP protocols with port numbers (TCP, UDP, DCCP, SCTP, UDP-Lite): ports on anything else can never match. */
const PORTED = new Set(['tcp', 'udp', '33', '132', '136']);

/** Whether a protocol (as normaliseProto spells it) has ports. */
export const hasPorts = (proto: string): boolean => PORTED.has(proto);

/** The largest 32-bit AS number (RFC 6793). */
const MAX_ASN = 4_294_967_295;

/** An autonomous system number: 16509, "16509" or "AS16509". */
export function normaliseAsn(raw: string | number): Checked<number> {
  const text = typeof raw === 'number' ? String(raw) : raw.trim();
  const m = /^(?:AS)?(\d{1,10})$/i.exec(text);
  const n = m ? Number(m[1]) : NaN;
  if (typeof raw === 'number' ? !Number.isInteger(raw) || raw < 1 || raw > MAX_ASN : !(n >= 1 && n <= MAX_ASN)) {
    return bad(`is not an AS number 1-${MAX_ASN} (like 16509 or "AS16509")`);
  }
  return ok(typeof raw === 'number' ? raw : n);
}

export function expandPortRange(lo: number, hi: number): Checked<number[]> {
  if (lo > hi) return bad(`is a range whose start is after its end (${lo}-${hi})`);
  const n = hi - lo + 1;
  if (n > MAX_PORT_RANGE) return bad(`spans ${n} ports, more than the ${MAX_PORT_RANGE} a range may cover`);
  return ok(Array.from({ length: n }, (_, i) => lo + i));
}

/** Sorted, without duplicates: the order ports were written in carries no meaning. */
export function sortPorts(ports: Iterable<number>): number[] {
  return [...new Set(ports)].sort((a, b) => a - b);
}

const MAC_RE = /^[0-9a-f]{2}([:-])[0-9a-f]{2}\1[0-9a-f]{2}\1[0-9a-f]{2}\1[0-9a-f]{2}\1[0-9a-f]{2}$/i;
// 24-bit MA-L "aa:bb:cc", 28-bit MA-M "aa:bb:cc:d", 36-bit MA-S "aa:bb:cc:dd:e"
const OUI_RE = /^[0-9a-f]{2}([:-])[0-9a-f]{2}\1[0-9a-f]{2}(?:\1[0-9a-f](?:[0-9a-f]\1[0-9a-f])?)?$/i;

const colonForm = (s: string) => s.toLowerCase().replace(/-/g, ':');

/** Lower-case colon form; the same key the rest of the sensor uses for MACs. */
export function normaliseMac(raw: string): Checked<string> {
  return MAC_RE.test(raw) ? ok(colonForm(raw)) : bad('is not a MAC address (expected aa:bb:cc:dd:ee:ff)');
}

/**
 * Lower-case colon form. Every form is a string prefix of the MACs it
 * covers, so a matcher only needs mac.startsWith(oui).
 */
export function normaliseOui(raw: string): Checked<string> {
  if (OUI_RE.test(raw)) return ok(colonForm(raw));
  if (MAC_RE.test(raw)) return bad('is a full MAC address; list it under match.mac');
  return bad('is not an OUI prefix (expected aa:bb:cc, or aa:bb:cc:d / aa:bb:cc:dd:e for 28/36-bit blocks)');
}

export function checkMudUrl(raw: string): Checked<string> {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return bad('is not a URL');
  }
  // RFC 8520 section 1.5: MUD URLs MUST use https.
  if (u.protocol !== 'https:') return bad(`is not an https URL (scheme "${u.protocol.slice(0, -1)}")`);
  return ok(raw);
}

const destKey = (d: DocumentedDestination) => JSON.stringify([d.domain ?? null, d.cidr ?? null, d.asn ?? null, d.proto ?? null, d.ports ?? null]);

/** Drops repeated destinations (same target, proto and ports); the first note wins. */
export function dedupeDestinations(list: DocumentedDestination[]): DocumentedDestination[] {
  const seen = new Set<string>();
  return list.filter((d) => {
    const k = destKey(d);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Ports in words: runs of three or more as "low-high" ("80,443,8000-8003"). */
export function portsText(ports: readonly number[]): string {
  const list = sortPorts(ports);
  const out: string[] = [];
  for (let i = 0; i < list.length; ) {
    let j = i;
    while (j + 1 < list.length && list[j + 1] === list[j] + 1) j++;
    if (j - i >= 2) out.push(`${list[i]}-${list[j]}`);
    else for (let k = i; k <= j; k++) out.push(String(list[k]));
    i = j + 1;
  }
  return out.join(',');
}

/** A documented entry in words, for messages: "*.meethue.com tcp/80,443", "AS16509 tcp/443", "203.0.113.7". */
export function describeEntry(e: DocumentedDestination): string {
  const target = e.domain ?? e.cidr ?? (e.asn ?? []).map((a) => `AS${a}`).join(', ');
  const ports = e.ports ? portsText(e.ports) : null;
  return `${target}${e.proto ? ` ${e.proto}${ports ? `/${ports}` : ''}` : ports ? ` port ${ports}` : ''}`;
}

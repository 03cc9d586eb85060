import { domainToASCII } from 'node:url';
import { parseIpText } from '../util/addr.js';

/**
 * The lines of threat-intel feeds, one at a time: plain lists (one indicator
 * per line), Zeek Intel framework files (tab-separated, a #fields line) and
 * CSV with a header. Only what phonehome can match on a flow becomes an
 * indicator: an address, a network, a domain (and every name under it), a
 * JA4 TLS client fingerprint. Other kinds a feed lists (file hashes, e-mail
 * addresses, URLs on named hosts) are skipped and counted by kind; values
 * that are not what their line says they are are malformed.
 */

export type IndicatorType = 'addr' | 'subnet' | 'domain' | 'ja4';

/** What a line says, once read. */
export type LineVerdict =
  | { ok: true; type: IndicatorType; value: string; text: string; source: string | null; description: string | null }
  /** a kind of indicator phonehome does not match on flows (hashes, e-mail, URLs on named hosts) */
  | { ok: false; skip: string }
  /** not what the line should hold: what was expected */
  | { ok: false; malformed: string };

/** What a column or Zeek type says a value is; 'ip' is an address or a network, 'any' is inferred from the value. */
export type Declared = IndicatorType | 'ip' | 'url' | 'any';

/** Longest indicator, source or description kept (longer ones are malformed or cut). */
const MAX_INDICATOR = 512;
const MAX_LABEL = 256;

/** FoxIO JA4: protocol, TLS version, SNI flag, counts, ALPN, then two 12-hex hashes (raw JA4_r forms are not matched). */
const JA4 = /^[tqd](?:1[0-3]|s3|s2|00)[di]\d{4}[0-9a-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}$/;
/** one DNS label: letters, digits, hyphens and underscores (seen in real names), 1 to 63 */
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

export const label = (s: string | undefined | null): string | null => {
  const t = s?.trim();
  if (!t || t === '-' || t === '(empty)' || t.toLowerCase() === 'none') return null;
  return t.length > MAX_LABEL ? `${t.slice(0, MAX_LABEL - 1)}…` : t;
};

const ok = (type: IndicatorType, value: string, text: string): LineVerdict => ({ ok: true, type, value, text, source: null, description: null });
const malformed = (raw: string, expected: string): LineVerdict => ({ ok: false, malformed: `'${shown(raw)}' is not ${expected}` });
const shown = (s: string) => (s.length > 60 ? `${s.slice(0, 57)}...` : s).replace(/[\x00-\x1f\x7f]/g, '?');

/** An address: 4 or 16 bytes in canonical text, an IPv4-mapped IPv6 address as its IPv4 address. */
function address(s: string): string | null {
  const b = parseIpText(s);
  if (!b) return null;
  if (b.length === 16 && b.readUInt32BE(0) === 0 && b.readUInt32BE(4) === 0 && b.readUInt32BE(8) === 0xffff) return b.subarray(12).join('.');
  return b.length === 4 ? b.join('.') : s.toLowerCase();
}

function subnet(s: string): LineVerdict {
  const slash = s.indexOf('/');
  const addr = address(s.slice(0, slash));
  const len = s.slice(slash + 1);
  const max = addr?.includes(':') ? 128 : 32;
  if (addr === null || !/^\d{1,3}$/.test(len) || Number(len) > max) return malformed(s, 'a network (address/prefix length)');
  // A /0 (or anything shorter than a /8) would call a large part of the Internet malicious: a feed's mistake, not an indicator.
  if (Number(len) < (max === 32 ? 8 : 16)) return malformed(s, `a network of at most /${max === 32 ? 8 : 16} (wider ones cover too much of the Internet)`);
  return Number(len) === max ? ok('addr', addr, s) : ok('subnet', `${addr}/${len}`, s);
}

/** A domain in the form flows give names: lower-case ASCII (punycode), no trailing dot; at least two labels. */
export function domain(s: string): string | null {
  let d = s.trim().toLowerCase();
  if (d.startsWith('*.')) d = d.slice(2);
  else if (d.startsWith('.')) d = d.slice(1);
  if (d.endsWith('.')) d = d.slice(0, -1);
  if (/[^\x00-\x7f]/.test(d)) d = domainToASCII(d);
  if (d.length === 0 || d.length > 253) return null;
  const labels = d.split('.');
  // One label would be a whole top-level domain (every name under .com).
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l)) || /^\d+$/.test(labels[labels.length - 1])) return null;
  return d;
}

/** The host of a URL: an address becomes an addr indicator; a named host is skipped (the path, not the host, is what the feed lists). */
function url(s: string): LineVerdict {
  let host: string;
  try {
    host = new URL(s).hostname;
  } catch {
    return malformed(s, 'a URL');
  }
  if (host.startsWith('[')) host = host.slice(1, -1);
  const a = address(host);
  return a === null ? { ok: false, skip: 'url' } : ok('addr', a, s);
}

/** "1.2.3.4:443" and "[2001:db8::1]:443" (ThreatFox's ip:port): the address; the port is not matched. */
function addressWithPort(s: string): string | null {
  const m = /^\[([0-9a-fA-F:.]+)\]:\d{1,5}$/.exec(s) ?? /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(s);
  return m ? address(m[1]) : null;
}

/** A value read as what it is declared to be. */
export function indicator(raw: string, declared: Declared): LineVerdict {
  const s = raw.trim();
  if (s.length === 0) return malformed(s, 'an indicator (the field is empty)');
  if (s.length > MAX_INDICATOR) return malformed(s, `an indicator of at most ${MAX_INDICATOR} characters`);
  if (declared === 'url') return url(s);
  if (declared === 'ja4') return JA4.test(s.toLowerCase()) ? ok('ja4', s.toLowerCase(), s) : malformed(s, 'a JA4 fingerprint');
  if (declared === 'domain') {
    const d = domain(s);
    return d === null ? malformed(s, 'a domain of two or more labels') : ok('domain', d, s);
  }
  if (declared === 'addr' || declared === 'subnet' || declared === 'ip') {
    if (s.includes('/')) return declared === 'addr' ? malformed(s, 'an address') : subnet(s);
    const a = address(s) ?? addressWithPort(s);
    if (a === null) return malformed(s, declared === 'subnet' ? 'a network (address/prefix length)' : 'an IP address');
    return ok('addr', a, s);
  }
  return inferred(s);
}

/** A value of a plain list, or of a CSV column that does not say what it holds. */
function inferred(s: string): LineVerdict {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) return url(s);
  if (s.includes('/')) return subnet(s);
  const a = address(s) ?? addressWithPort(s);
  if (a !== null) return ok('addr', a, s);
  if (JA4.test(s.toLowerCase())) return ok('ja4', s.toLowerCase(), s);
  const d = domain(s);
  if (d !== null) return ok('domain', d, s);
  return malformed(s, 'an IP address, network (CIDR), domain or JA4 fingerprint');
}

/** Addresses hosts files send blocked names to: "0.0.0.0 evil.example" lists the name. */
const SINKHOLES = new Set(['0.0.0.0', '127.0.0.1', '::', '::1']);

/**
 * A line of a plain list: its first word is the indicator ('#' and ';' start
 * comments, what follows the first word is ignored), except in hosts-file
 * form, where the name after a sinkhole address is.
 */
export function plainLine(line: string): LineVerdict | null {
  const cut = line.search(/[#;]/);
  const words = (cut < 0 ? line : line.slice(0, cut)).trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return null;
  if (words.length >= 2 && SINKHOLES.has(words[0])) return indicator(words[1], 'domain');
  return indicator(words[0], 'any');
}

/** Zeek Intel::Type values, as what phonehome matches them as; the other types are skipped. */
const ZEEK_TYPES: Record<string, Declared> = {
  'Intel::ADDR': 'addr',
  'Intel::SUBNET': 'subnet',
  'Intel::DOMAIN': 'domain',
  'Intel::URL': 'url',
  'Intel::JA4': 'ja4',
};

/** A Zeek intel type read off a line: how to read its value, or the verdict for a type that is not matched. */
export function zeekType(t: string): Declared | LineVerdict {
  const d = ZEEK_TYPES[t];
  if (d) return d;
  if (/^Intel::[A-Z0-9_]+$/.test(t)) return { ok: false, skip: t };
  return { ok: false, malformed: `'${shown(t)}' is not a Zeek indicator type (Intel::ADDR, Intel::SUBNET, Intel::DOMAIN, Intel::URL, ...)` };
}

/** Type column values of CSV feeds (ThreatFox's ioc_type, MISP-like and Zeek names), as what phonehome matches them as. */
const CSV_TYPES: Record<string, Declared> = {
  ip: 'ip', ipv4: 'ip', ipv6: 'ip', 'ip-dst': 'ip', 'ip-src': 'ip', addr: 'addr', address: 'addr', 'ip:port': 'addr', 'ip-dst|port': 'addr',
  cidr: 'subnet', subnet: 'subnet', network: 'subnet', netblock: 'subnet',
  domain: 'domain', hostname: 'domain', host: 'domain', fqdn: 'domain',
  url: 'url', uri: 'url', ja4: 'ja4',
};

/** A CSV type column's value: how to read the indicator, or the verdict for a kind that is not matched. */
export function csvType(t: string): Declared | LineVerdict {
  const d = CSV_TYPES[t.trim().toLowerCase()];
  if (d) return d;
  const z = ZEEK_TYPES[t.trim()];
  if (z) return z;
  return t.trim() === '' ? { ok: false, malformed: 'an indicator type (the type field is empty)' } : { ok: false, skip: shown(t.trim().toLowerCase()) };
}

/**
 * One CSV record on one line (RFC 4180 quoting; spaces around fields are
 * dropped, as ThreatFox writes `", "`); null when a quote is left open (the
 * feeds read here never break a field across lines).
 */
export function csvFields(line: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    while (line[i] === ' ' || line[i] === '\t') i++;
    let field = '';
    if (line[i] === '"') {
      for (i++; ; i++) {
        if (i >= line.length) return null;
        if (line[i] === '"') {
          if (line[i + 1] !== '"') break;
          i++;
        }
        field += line[i];
      }
      i++;
      while (line[i] === ' ' || line[i] === '\t') i++;
      if (i < line.length && line[i] !== ',') return null;
    } else {
      const end = line.indexOf(',', i);
      field = (end < 0 ? line.slice(i) : line.slice(i, end)).trim();
      i = end < 0 ? line.length : end;
    }
    out.push(field);
    if (i >= line.length) return out;
    i++;
  }
}

/** How a CSV feed's columns are read: the indicator column, and what its values are. */
export interface CsvLayout {
  value: number;
  /** what the indicator column holds; with a type column, each row says */
  declared: Declared;
  type: number | null;
  source: number | null;
  description: number | null;
  columns: number;
}

/** Indicator columns by name, first match wins: generic ones (with a type column, or inferred), then typed ones. */
const VALUE_COLUMNS: [string, Declared][] = [
  ['ioc_value', 'any'], ['indicator', 'any'], ['ioc', 'any'], ['value', 'any'],
  ['dst_ip', 'ip'], ['ip', 'ip'], ['ip_address', 'ip'], ['ipaddress', 'ip'], ['ipv4', 'ip'], ['ipv6', 'ip'], ['address', 'ip'], ['addr', 'ip'],
  ['cidr', 'subnet'], ['network', 'subnet'], ['subnet', 'subnet'], ['netblock', 'subnet'],
  ['domain', 'domain'], ['hostname', 'domain'], ['fqdn', 'domain'], ['host', 'domain'],
  ['url', 'url'], ['ja4', 'ja4'],
];
const TYPE_COLUMNS = ['ioc_type', 'indicator_type', 'type'];
const SOURCE_COLUMNS = ['source', 'meta.source', 'feed'];
const DESCRIPTION_COLUMNS = ['malware_printable', 'malware', 'threat', 'meta.desc', 'description', 'desc'];

export const CSV_COLUMNS_HELP = VALUE_COLUMNS.map(([c]) => c).join(', ');

/** The layout a header names, or null when it names no indicator column. */
export function csvLayout(header: string[]): CsvLayout | null {
  const names = header.map((h) => h.trim().toLowerCase());
  const find = (list: string[]) => {
    for (const c of list) {
      const i = names.indexOf(c);
      if (i >= 0) return i;
    }
    return null;
  };
  const hit = VALUE_COLUMNS.find(([c]) => names.includes(c));
  if (!hit) return null;
  const generic = hit[1] === 'any';
  return {
    value: names.indexOf(hit[0]), declared: hit[1], type: generic ? find(TYPE_COLUMNS) : null,
    source: find(SOURCE_COLUMNS), description: find(DESCRIPTION_COLUMNS), columns: names.length,
  };
}

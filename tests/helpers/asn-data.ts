// The embedded AS data read independently of the sensor: the package's other
// CSV files (IPv4 as dotted text, IPv6 as 128-bit decimal numbers, where the
// sensor reads IPv4 numbers and IPv6 text), parsed by a plain RFC 4180
// reader, searched by scanning every row. And libmaxminddb's mmdblookup for
// the AS of an address in a MaxMind database.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './repo.js';

export const ASN_PACKAGE_DIR = dirname(createRequire(join(ROOT, 'package.json')).resolve('@ip-location-db/asn/package.json'));

export interface AsnRow<N> {
  start: N;
  end: N;
  asn: number;
  org: string;
  /** line in the CSV file */
  line: number;
}

/** Fields of one CSV line: quoted fields may hold commas, "" is a quote. */
export function csvFields(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) throw new Error(`unterminated quote: ${line}`);
        v += line.slice(i, q);
        if (line[q + 1] === '"') {
          v += '"';
          i = q + 2;
        } else {
          i = q + 2; // past the quote and the comma
          break;
        }
      }
      out.push(v);
    } else {
      const c = line.indexOf(',', i);
      const end = c < 0 ? line.length : c;
      out.push(line.slice(i, end));
      i = end + 1;
    }
  }
  return out;
}

function rows<N>(file: string, num: (s: string) => N): AsnRow<N>[] {
  const lines = readFileSync(join(ASN_PACKAGE_DIR, file), 'utf8').split('\n');
  const out: AsnRow<N>[] = [];
  lines.forEach((l, i) => {
    if (l.trim() === '') return;
    const [start, end, asn, org, ...rest] = csvFields(l.replace(/\r$/, ''));
    if (rest.length || org === undefined) throw new Error(`${file}:${i + 1}: not 4 fields`);
    out.push({ start: num(start), end: num(end), asn: Number(asn), org, line: i + 1 });
  });
  return out;
}

export const dottedToNumber = (s: string): number => s.split('.').reduce((n, o) => n * 256 + Number(o), 0);
export const numberToDotted = (n: number): string => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

let cache4: AsnRow<number>[] | null = null;
let cache6: AsnRow<bigint>[] | null = null;

/** asn-ipv4.csv: ranges written as dotted addresses. */
export function asnRows4(): AsnRow<number>[] {
  return (cache4 ??= rows('asn-ipv4.csv', dottedToNumber));
}

/** asn-ipv6-num.csv: ranges written as 128-bit decimal numbers. */
export function asnRows6(): AsnRow<bigint>[] {
  return (cache6 ??= rows('asn-ipv6-num.csv', (s) => BigInt(s)));
}

/** The text form of a 128-bit number, in full (node:net and the sensor read it). */
export function bigintToIp6(n: bigint): string {
  const hex = n.toString(16).padStart(32, '0');
  return hex.match(/.{4}/g)!.join(':');
}

/**
 * AS numbers that stand for no operator (IANA special-purpose AS numbers):
 * 0 (RFC 7607), AS_TRANS 23456 (RFC 6793), documentation 64496-64511 and
 * 65536-65551 (RFC 5398), private use 64512-65534 and 4200000000-4294967294
 * (RFC 6996), last ones 65535 and 4294967295 (RFC 7300), IANA-reserved 65552-131071.
 */
export function specialPurposeAsn(n: number): boolean {
  return n === 0 || n === 23456 || (n >= 64496 && n <= 65535) || (n >= 65536 && n <= 131071) || n >= 4200000000;
}

/** Rows as columns, for scanning: a full scan per address is the oracle, so it has to be quick. */
interface Columns<N> {
  rows: AsnRow<N>[];
  starts: N[] | Float64Array;
  ends: N[] | Float64Array;
}

const columns = new WeakMap<object, Columns<number | bigint>>();

function columnsOf<N extends number | bigint>(all: AsnRow<N>[]): Columns<N> {
  let c = columns.get(all) as Columns<N> | undefined;
  if (!c) {
    const kept = all.filter((r) => !specialPurposeAsn(r.asn));
    const num = typeof kept[0]?.start === 'number';
    c = {
      rows: kept,
      starts: num ? Float64Array.from(kept, (r) => r.start as number) : kept.map((r) => r.start),
      ends: num ? Float64Array.from(kept, (r) => r.end as number) : kept.map((r) => r.end),
    };
    columns.set(all, c as Columns<number | bigint>);
  }
  return c;
}

/**
 * What the data says of an address: of the rows holding it (special-purpose
 * AS numbers left out), the one starting last; the organisation as written,
 * null when it only repeats the number.
 */
export function oracleAsn<N extends number | bigint>(all: AsnRow<N>[], ip: N): { asn: number; as_org: string | null; row: AsnRow<N> } | null {
  const { rows: kept, starts, ends } = columnsOf(all);
  const best = typeof ip === 'number' ? scan4(starts as Float64Array, ends as Float64Array, ip) : scan6(starts as bigint[], ends as bigint[], ip as bigint);
  if (best < 0) return null;
  const r = kept[best];
  return { asn: r.asn, as_org: r.org === `AS${r.asn}` ? null : r.org, row: r };
}

function scan4(starts: Float64Array, ends: Float64Array, ip: number): number {
  let best = -1;
  for (let i = 0; i < starts.length; i++) if (starts[i] <= ip && ip <= ends[i] && (best < 0 || starts[i] > starts[best])) best = i;
  return best;
}

function scan6(starts: bigint[], ends: bigint[], ip: bigint): number {
  let best = -1;
  for (let i = 0; i < starts.length; i++) if (starts[i] <= ip && ip <= ends[i] && (best < 0 || starts[i] > starts[best])) best = i;
  return best;
}

/** AS number and organisation of an address per mmdblookup (one run, the whole record), or null when the database has no record. */
export function mmdbAsn(db: string, ip: string): { asn: number; as_org: string | null } | null {
  let out: string;
  try {
    out = execFileSync('mmdblookup', ['--file', db, '--ip', ip], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  } catch {
    return null; // exit 6: no entry for the address
  }
  const n = /"autonomous_system_number":\s*(\d+) <uint32>/.exec(out);
  if (!n) return null;
  const o = /"autonomous_system_organization":\s*"((?:[^"\\]|\\.)*)" <utf8_string>/.exec(out);
  return { asn: Number(n[1]), as_org: o ? o[1] : null };
}

/** One watch.organisations entry as the YAML file writes it, read with the yaml package alone. */
export interface OperatorEntry {
  operator: string;
  country: string;
  asn?: number[];
  name?: string[];
  source: string;
}

/** The shipped operators list, parsed here rather than by the sensor. */
export function shippedOperators(): OperatorEntry[] {
  return parse(readFileSync(join(ROOT, 'rules/watch/operators.yaml'), 'utf8')) as OperatorEntry[];
}

/** An entry's name patterns as tests of an organisation name: /regex/ (case-insensitive) or a case-insensitive substring. */
export function nameMatcher(e: OperatorEntry): (org: string) => boolean {
  const tests = (e.name ?? []).map((p) => {
    if (p.length > 2 && p.startsWith('/') && p.endsWith('/')) {
      const re = new RegExp(p.slice(1, -1), 'i');
      return (o: string) => re.test(o);
    }
    return (o: string) => o.toLowerCase().includes(p.toLowerCase());
  });
  return (org) => tests.some((t) => t(org));
}

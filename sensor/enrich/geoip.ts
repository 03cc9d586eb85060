import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Reader, Response } from 'maxmind';
import { GeoIpError } from '../errors.js';
import { parseIp4, parseIp6 } from '../util/addr.js';
import { embeddedAsnFiles, embeddedAsnTable, type AsnTable } from './asn-table.js';
import { Ip4Tree } from './mmdb-tree.js';
import { verifyMmdb } from './mmdb-verify.js';


export interface GeoInfo {
  country: string | null;
  asn: number | null;
  as_org: string | null;
}

const NONE: GeoInfo = { country: null, asn: null, as_org: null };

type MaxMind = typeof import('maxmind');
let maxmindLib: MaxMind | null = null;
/** The MaxMind DB reader is loaded when a database is opened: a run that looks nothing up (an empty capture) never pays for it. */
const maxmind = (): MaxMind => (maxmindLib ??= createRequire(import.meta.url)('maxmind') as MaxMind);

type Family = 'ip4' | 'ip6';

/**
 * The embedded default: CC0 country data from RIR delegations and geofeeds,
 * no key or download needed. The package's IPv4 and IPv6 files hold the
 * same answers as its combined file; each is read at its family's first
 * lookup, so a capture of IPv4 destinations reads 3 MB instead of 7.8
 * (fresh memory costs a page fault per 4 kB, 4 ms a megabyte on some VMs).
 */
export function defaultDatabases(): Record<Family, string> {
  const req = createRequire(import.meta.url);
  const file = (family: 4 | 6) => req.resolve(`@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country-ipv${family}.mmdb`);
  return { ip4: file(4), ip6: file(6) };
}

interface Db {
  file: string;
  reader: Reader<Response>;
  hasCountry: boolean;
  hasAsn: boolean;
  ip4: Ip4Tree;
  /** decoded data records by pointer: a database has far fewer records than addresses */
  records: Map<number, Record<string, unknown> | null>;
}

/** Cached records or combinations at most, per map: bounds memory whatever the database. */
const CACHE_MAX = 100_000;

// Spread over the address space so a damaged tree or data section shows at start-up, not mid-capture.
const PROBES = [
  '1.1.1.1', '8.8.8.8', '23.1.2.3', '41.0.0.1', '52.49.65.150', '81.2.69.150', '89.160.20.120', '101.0.0.1',
  '114.114.114.114', '128.101.101.101', '175.16.199.1', '185.0.0.1', '200.1.1.1', '216.160.83.60', '223.5.5.5',
  '2001:218::1', '2001:4860:4860::8888', '2a02:cf40::1', '2c0f:fb50::1', '2400:cb00::1', '2001:480::1',
];

const KNOWN_KEYS = ['country', 'country_code', 'registered_country', 'autonomous_system_number', 'autonomous_system_organization', 'city', 'continent', 'location'];

function countryOf(r: Record<string, unknown>): string | null {
  // ip-location-db writes country_code; MaxMind GeoIP2/GeoLite2 write country.iso_code.
  if (typeof r.country_code === 'string') return r.country_code.toUpperCase();
  const c = (r.country ?? r.registered_country) as { iso_code?: unknown } | undefined;
  return c && typeof c.iso_code === 'string' ? c.iso_code.toUpperCase() : null;
}

function check(db: Db, ipVersion: number): void {
  for (const ip of PROBES) {
    // An IPv4 database cannot be asked an IPv6 address.
    if (ipVersion === 4 && ip.includes(':')) continue;
    let r: unknown;
    try {
      r = db.reader.get(ip);
    } catch (e) {
      throw new GeoIpError(db.file, `the database is corrupt: looking up ${ip} failed (${(e as Error).message})`);
    }
    if (r === null || r === undefined) continue;
    if (typeof r !== 'object' || !Object.keys(r).some((k) => KNOWN_KEYS.includes(k))) {
      throw new GeoIpError(db.file, `the database is corrupt or not a GeoIP database: ${ip} gave a record with fields ${JSON.stringify(Object.keys(r as object))}`);
    }
    const country = countryOf(r as Record<string, unknown>);
    if (country !== null && !/^[A-Z]{2}$/.test(country)) throw new GeoIpError(db.file, `the database is corrupt: ${ip} has country code ${JSON.stringify(country)}`);
  }
}

/** A MaxMind DB file, read whole, its tree and some records checked; GeoIpError when it is not one or is damaged. */
function openDb(file: string): Db {
  if (!existsSync(file)) throw new GeoIpError(file, 'no such file');
  let buf: Buffer;
  let reader: Reader<Response>;
  try {
    buf = readFileSync(file);
    // No cache in the library: ours is per address and bounded.
    reader = new (maxmind().Reader)<Response>(buf);
  } catch (e) {
    throw new GeoIpError(file, `not a readable MaxMind DB file (${(e as Error).message})`);
  }
  const m = reader.metadata;
  // The embedded database is checked by the test suite; a user's file is checked on every start.
  const embedded = defaultDatabases();
  const problem = file === embedded.ip4 || file === embedded.ip6 ? null : verifyMmdb(buf, m.nodeCount, m.recordSize);
  if (problem) throw new GeoIpError(file, `the database is corrupt: ${problem}`);
  const type = m.databaseType.toLowerCase();
  const db: Db = {
    file, reader, hasCountry: !type.includes('asn') || type.includes('country'), hasAsn: type.includes('asn') || type.includes('isp'),
    ip4: new Ip4Tree(buf, m.nodeCount, m.recordSize, m.ipVersion), records: new Map(),
  };
  check(db, m.ipVersion);
  return db;
}

/**
 * Country and ASN of public addresses from MaxMind DB files. Databases are
 * asked in the order given; the embedded default country database answers
 * when none of them knows a country, and the embedded AS table (read on the
 * first lookup) when none of them knows an AS.
 */
export class GeoIp {
  /** IPv6 answers by address */
  private readonly cache = new Map<string, GeoInfo>();
  /** IPv4 answers by the records the address leads to in each database */
  private readonly byRecords = new Map<number | string, GeoInfo>();
  /**
   * IPv4 answers completed from the embedded AS table: the last one made for
   * each row of it (rows seldom span countries), as its place in rowAnswers
   * plus one. Zeroed typed memory is touched only where written; an array
   * of 412,000 holes took 14 ms to make.
   */
  private byRow: Int32Array | null = null;
  private readonly rowAnswers: GeoInfo[] = [];
  /** the databases asked for each family: the user's, then the embedded file of that family once a lookup opened it */
  private readonly dbs: Record<Family, Db[]>;

  private constructor(
    dbs: Db[],
    /** the embedded AS number and organisation table; null without the defaults */
    private readonly asn: AsnTable | null,
    /** the embedded country database of each family, until a lookup of that family opens it */
    private readonly pending: Record<Family, string | null>,
  ) {
    this.dbs = { ip4: [...dbs], ip6: [...dbs] };
  }

  /** The databases for one family's addresses, its embedded file read on first use. */
  private databases(family: Family): Db[] {
    const file = this.pending[family];
    if (file !== null) {
      this.dbs[family].push(openDb(file));
      this.pending[family] = null;
    }
    return this.dbs[family];
  }

  static async open(files: string[], opts: { withDefault?: boolean } = {}): Promise<GeoIp> {
    const withDefault = opts.withDefault !== false;
    let embedded: Record<Family, string | null> = { ip4: null, ip6: null };
    if (withDefault) {
      // Read on the first lookup; a package missing its files is refused now, not mid-capture.
      let country: Record<Family, string>;
      let asn: Record<Family, string>;
      try {
        country = defaultDatabases();
        asn = embeddedAsnFiles();
      } catch (e) {
        throw new GeoIpError('@ip-location-db', `the embedded databases are not installed (${(e as Error).message.split('\n')[0]})`);
      }
      for (const file of [country.ip4, country.ip6, asn.ip4, asn.ip6]) if (!existsSync(file)) throw new GeoIpError(file, 'no such file');
      embedded = country;
    }
    // A user's databases are opened and checked now; the embedded ones (checked by the test suite) at the first lookup of their family.
    const dbs = files.map((file) => openDb(file));
    return new GeoIp(dbs, withDefault ? embeddedAsnTable() : null, embedded);
  }

  lookup(ip: string): GeoInfo {
    const v4 = parseIp4(ip);
    if (v4 !== null) return this.lookup4(v4, ip);
    const hit = this.cache.get(ip);
    if (hit) return hit;
    const b = parseIp6(ip);
    // ::a.b.c.d: a MaxMind DB tree keeps IPv4 under these 96 zero bits, where the combined embedded file answered it.
    if (b !== null && b.readUInt32BE(0) === 0 && b.readUInt32BE(4) === 0 && b.readUInt32BE(8) === 0) return this.lookup4(b.readUInt32BE(12), `${b[12]}.${b[13]}.${b[14]}.${b[15]}`);
    const dbs = this.databases('ip6');
    let info = this.combine(dbs, dbs.map((db) => {
      try {
        return (db.reader.get(ip) as Record<string, unknown> | null) ?? null;
      } catch {
        return null;
      }
    }));
    if (info.asn === null && this.asn) info = this.withTableAsn6(info, ip);
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(ip, info);
    return info;
  }

  /**
   * IPv4 by number: the tree walk finds each database's record, and each
   * distinct record (or combination of records) is decoded and combined
   * once, so a scan of millions of addresses costs walks, not parses. When
   * no database knows the AS, the embedded table's row for the address
   * completes the answer.
   */
  private lookup4(n: number, ip: string): GeoInfo {
    const info = this.databases4(n, ip);
    return info.asn === null && this.asn ? this.withTableAsn4(info, this.asn.lookup4().find(n)) : info;
  }

  private databases4(n: number, ip: string): GeoInfo {
    const dbs = this.databases('ip4');
    if (dbs.length === 0) return NONE;
    let key: number | string = dbs[0].ip4.find(n);
    for (let i = 1; i < dbs.length; i++) key = `${key},${dbs[i].ip4.find(n)}`;
    const hit = this.byRecords.get(key);
    if (hit) return hit;
    const info = this.combine(dbs, dbs.map((db) => this.recordAt(db, db.ip4.find(n), ip)));
    if (this.byRecords.size >= CACHE_MAX) this.byRecords.clear();
    this.byRecords.set(key, info);
    return info;
  }

  /** `info` (which has no AS) with the AS number and organisation of row `row` of the embedded IPv4 table. */
  private withTableAsn4(info: GeoInfo, row: number): GeoInfo {
    if (row < 0) return info;
    const t = this.asn!.lookup4();
    const byRow = (this.byRow ??= new Int32Array(t.rows));
    const k = byRow[row];
    if (k > 0 && this.rowAnswers[k - 1].country === info.country) return this.rowAnswers[k - 1];
    const asn = t.asnAt(row);
    const answer = { country: info.country, asn, as_org: t.orgOf(asn) };
    if (k > 0) this.rowAnswers[k - 1] = answer;
    else byRow[row] = this.rowAnswers.push(answer);
    return answer;
  }

  /** Likewise for IPv6 (answers are cached by address); IPv4-mapped and IPv4-compatible addresses are read as IPv4, as MaxMind DB trees do. */
  private withTableAsn6(info: GeoInfo, ip: string): GeoInfo {
    const b = parseIp6(ip);
    if (!b) return info;
    const w0 = b.readUInt32BE(0);
    const w1 = b.readUInt32BE(4);
    const w2 = b.readUInt32BE(8);
    const w3 = b.readUInt32BE(12);
    if (w0 === 0 && w1 === 0 && (w2 === 0 || w2 === 0xffff)) return this.withTableAsn4(info, this.asn!.lookup4().find(w3));
    const t = this.asn!.ip6;
    const row = t.find(w0, w1, w2, w3);
    if (row < 0) return info;
    const asn = t.asns[row];
    return { country: info.country, asn, as_org: t.orgs.of(asn) };
  }

  /** The record at a tree pointer, decoded by the library on first use (through an address that leads there). */
  private recordAt(db: Db, pointer: number, ip: string): Record<string, unknown> | null {
    if (pointer === 0) return null;
    let r = db.records.get(pointer);
    if (r !== undefined) return r;
    try {
      r = (db.reader.get(ip) as Record<string, unknown> | null) ?? null;
    } catch {
      r = null;
    }
    if (db.records.size >= CACHE_MAX) db.records.clear();
    db.records.set(pointer, r);
    return r;
  }

  /** Country from the first database that has one, ASN likewise; records in the order of `dbs`. */
  private combine(dbs: Db[], records: (Record<string, unknown> | null)[]): GeoInfo {
    let country: string | null = null;
    let asn: number | null = null;
    let asOrg: string | null = null;
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      if (!r) continue;
      if (country === null && dbs[i].hasCountry) country = countryOf(r);
      if (asn === null && typeof r.autonomous_system_number === 'number') {
        asn = r.autonomous_system_number;
        asOrg = typeof r.autonomous_system_organization === 'string' ? r.autonomous_system_organization : null;
      }
    }
    return country === null && asn === null ? NONE : { country, asn, as_org: asOrg };
  }
}

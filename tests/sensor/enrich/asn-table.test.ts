// The embedded AS database: every answer is checked against the package's
// CSV rows as an independent reader parses them (the other file of each
// pair, scanned row by row), at random addresses inside random rows, at the
// rows' first and last addresses and just outside them, and at random
// addresses; a MaxMind ASN database given with --geoip answers first, as
// mmdblookup reads it. The table is read on the first lookup, not before.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AsnTable, embeddedAsnFiles } from '../../../sensor/enrich/asn-table.js';
import { GeoIp } from '../../../sensor/enrich/geoip.js';
import { isSpecialIp } from '../../../sensor/util/addr.js';
import { asnRows4, asnRows6, bigintToIp6, dottedToNumber, mmdbAsn, numberToDotted, oracleAsn, specialPurposeAsn, type AsnRow } from '../../helpers/asn-data.js';
import { GEOIP_DIR } from '../../helpers/corpus.js';
import { rng } from '../../helpers/scenarios.js';

const ASN_TEST_DB = join(GEOIP_DIR, 'GeoLite2-ASN-Test.mmdb');
const haveGeo = existsSync(ASN_TEST_DB);

let rows4: AsnRow<number>[];
let rows6: AsnRow<bigint>[];
let geo: GeoIp;

beforeAll(async () => {
  rows4 = asnRows4();
  rows6 = asnRows6();
  geo = await GeoIp.open([]);
}, 60_000);

const expected = (o: ReturnType<typeof oracleAsn>) => (o ? { asn: o.asn, as_org: o.as_org } : { asn: null, as_org: null });
const got = (ip: string) => ({ asn: geo.lookup(ip).asn, as_org: geo.lookup(ip).as_org });

/** Addresses to try around a row: its first and last, random ones inside, and the ones just outside it. */
function around4(r: AsnRow<number>, inside: number): number[] {
  return [r.start, r.end, inside, ...(r.start > 0 ? [r.start - 1] : []), ...(r.end < 2 ** 32 - 1 ? [r.end + 1] : [])];
}

function around6(r: AsnRow<bigint>, inside: bigint): bigint[] {
  return [r.start, r.end, inside, ...(r.start > 0n ? [r.start - 1n] : []), ...(r.end < 2n ** 128n - 1n ? [r.end + 1n] : [])];
}

describe('the embedded AS table', () => {
  it('has the rows of the data, IPv4 and IPv6, less those of special-purpose AS numbers, and names the organisations', () => {
    const t = new AsnTable();
    expect(t.loaded()).toEqual({ ip4: false, ip6: false });
    expect(t.ip4.rows).toBe(rows4.filter((r) => !specialPurposeAsn(r.asn)).length);
    expect(t.ip6.rows).toBe(rows6.filter((r) => !specialPurposeAsn(r.asn)).length);
    expect(t.loaded()).toEqual({ ip4: true, ip6: true });
    expect(rows4.length).toBeGreaterThan(300_000);
    expect(rows6.length).toBeGreaterThan(50_000);
    // Quoted names with commas and doubled quotes come back as written.
    const quoted = rows4.find((r) => r.org.includes('"') && r.org.includes(','))!;
    expect(t.ip4.orgs.of(quoted.asn)).toBe(quoted.org);
  });

  for (const seed of [1, 7, 42]) {
    it(`IPv4, seed ${seed}: inside random rows, at their edges and at random addresses, the answer is the data's`, () => {
      const rand = rng(seed);
      const ips: number[] = [];
      for (let k = 0; k < 150; k++) {
        const r = rows4[Math.floor(rand() * rows4.length)];
        ips.push(...around4(r, r.start + Math.floor(rand() * (r.end - r.start + 1))));
      }
      for (let k = 0; k < 150; k++) ips.push(Math.floor(rand() * 2 ** 32));
      let known = 0;
      for (const n of ips) {
        const ip = numberToDotted(n);
        if (isSpecialIp(ip)) continue;
        const want = expected(oracleAsn(rows4, n));
        expect(got(ip), `${ip}`).toEqual(want);
        if (want.asn !== null) known++;
      }
      expect(known).toBeGreaterThan(500);
    });

    it(`IPv6, seed ${seed}: inside random rows, at their edges and at random addresses, the answer is the data's`, () => {
      const rand = rng(seed);
      const big = (bits: number) => BigInt(Math.floor(rand() * 2 ** 32)) << BigInt(bits);
      const ips: bigint[] = [];
      for (let k = 0; k < 60; k++) {
        const r = rows6[Math.floor(rand() * rows6.length)];
        const span = r.end - r.start + 1n;
        const offset = (big(96) | big(64) | big(32) | big(0)) % span;
        ips.push(...around6(r, r.start + offset));
      }
      // random addresses in the global unicast range 2000::/3
      for (let k = 0; k < 60; k++) ips.push((1n << 125n) | ((big(96) | big(64) | big(32) | big(0)) & ((1n << 125n) - 1n)));
      let known = 0;
      for (const n of ips) {
        const ip = bigintToIp6(n);
        if (isSpecialIp(ip)) continue;
        const want = expected(oracleAsn(rows6, n));
        expect(got(ip), ip).toEqual(want);
        if (want.asn !== null) known++;
      }
      expect(known).toBeGreaterThan(150);
    });
  }

  it('rows that overlap in the data: the later row answers where they meet, the earlier one before it', () => {
    const overlaps = rows4.filter((r, i) => i > 0 && r.start <= rows4[i - 1].end && !specialPurposeAsn(r.asn) && !specialPurposeAsn(rows4[i - 1].asn));
    for (const r of overlaps) {
      const prev = rows4[rows4.indexOf(r) - 1];
      for (const n of [r.start - 1, r.start, Math.min(r.end, prev.end), r.end]) expect(got(numberToDotted(n)), numberToDotted(n)).toEqual(expected(oracleAsn(rows4, n)));
      expect(got(numberToDotted(r.start)).asn).toBe(r.asn);
      expect(got(numberToDotted(r.start - 1)).asn).toBe(prev.asn);
    }
  });

  it('IPv4-mapped and IPv4-compatible IPv6 addresses get the IPv4 answer', () => {
    const rand = rng(5);
    for (let k = 0; k < 50; k++) {
      const r = rows4[Math.floor(rand() * rows4.length)];
      const ip = numberToDotted(r.start);
      if (isSpecialIp(ip)) continue;
      expect(geo.lookup(`::ffff:${ip}`).asn, ip).toBe(geo.lookup(ip).asn);
      expect(geo.lookup(`::${ip}`).asn, ip).toBe(geo.lookup(ip).asn);
    }
  });

  it('the databases only: GeoIp without the defaults has no AS from the embedded table', async () => {
    const bare = await GeoIp.open([], { withDefault: false });
    expect(bare.lookup('8.8.8.8')).toEqual({ country: null, asn: null, as_org: null });
  });

  it('its files come with the package and name their licence', () => {
    const f = embeddedAsnFiles();
    expect(existsSync(f.ip4) && existsSync(f.ip6)).toBe(true);
    for (const lic of ['ROUTEVIEWS-LICENSE', 'DBIP-LICENSE']) expect(existsSync(join(f.ip4, '..', lic)), lic).toBe(true);
  });
});

describe.skipIf(!haveGeo)('a MaxMind ASN database given with --geoip', () => {
  it('answers first, as mmdblookup reads it; the embedded table answers where it has no record', async () => {
    const both = await GeoIp.open([ASN_TEST_DB]);
    const rand = rng(11);
    let fromMaxMind = 0;
    let differs = 0;
    let fromTable = 0;
    // Addresses of the test database's networks, and random ones (mostly outside them).
    const source = JSON.parse(readFileSync(join(GEOIP_DIR, 'GeoLite2-ASN-Test.source.json'), 'utf8')) as Record<string, unknown>[];
    const networks = source.flatMap((e) => Object.keys(e)).filter((c) => !c.includes(':'));
    const ips = [...networks.filter(() => rand() < 0.5).map((c) => c.split('/')[0]), ...Array.from({ length: 120 }, () => numberToDotted(Math.floor(rand() * 2 ** 32)))];
    for (const ip of ips) {
      if (isSpecialIp(ip)) continue;
      const maxmind = mmdbAsn(ASN_TEST_DB, ip);
      const table = expected(oracleAsn(rows4, dottedToNumber(ip)));
      const answer = both.lookup(ip);
      if (maxmind) {
        fromMaxMind++;
        if (maxmind.asn !== table.asn) differs++;
        expect({ asn: answer.asn, as_org: answer.as_org }, ip).toEqual(maxmind);
      } else {
        if (table.asn !== null) fromTable++;
        expect({ asn: answer.asn, as_org: answer.as_org }, ip).toEqual(table);
      }
    }
    // Both sources answered, and where they disagree MaxMind's answer was the one given.
    expect(fromMaxMind).toBeGreaterThan(20);
    expect(differs).toBeGreaterThan(5);
    expect(fromTable).toBeGreaterThan(50);
  }, 60_000);
});

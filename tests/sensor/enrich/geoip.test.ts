// GeoIP lookups agree with the networks MaxMind's test databases were built
// from and with libmaxminddb's mmdblookup; damaged databases are refused at
// start-up with the file and the problem named.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import maxmind from 'maxmind';
import { defaultDatabases, GeoIp, GeoIpError } from '../../../sensor/enrich/geoip.js';
import { verifyMmdb } from '../../../sensor/enrich/mmdb-verify.js';
import { isSpecialIp } from '../../../sensor/util/addr.js';
import { phonehome } from '../../helpers/cli.js';
import { fixture, GEOIP_DIR } from '../../helpers/corpus.js';
import { COMBINED_COUNTRY_MMDB, mmdbCountry } from '../../helpers/mmdblookup.js';
import { phonehomeView } from '../../helpers/phonehome.js';

const GEO = GEOIP_DIR;
const haveGeo = existsSync(GEO);
if (!haveGeo) console.warn(`skipping MaxMind test database checks: ${GEO} is not there`);

type Source = Record<string, Record<string, any>>[];

function firstAddress(cidr: string): string {
  return cidr.split('/')[0];
}

describe.skipIf(!haveGeo)('MaxMind test databases', () => {
  for (const name of ['GeoLite2-Country-Test', 'GeoLite2-City-Test', 'GeoLite2-ASN-Test']) {
    it(`${name}: every network of its source answers as the source says (IPv4 and IPv6)`, async () => {
      const geo = await GeoIp.open([join(GEO, `${name}.mmdb`)], { withDefault: false });
      const source = JSON.parse(readFileSync(join(GEO, `${name}.source.json`), 'utf8')) as Source;
      let checked = 0;
      for (const entry of source) {
        for (const [cidr, rec] of Object.entries(entry)) {
          const ip = firstAddress(cidr);
          const got = geo.lookup(ip);
          const country = rec.country?.iso_code ?? rec.registered_country?.iso_code ?? null;
          if (name.includes('ASN')) {
            expect(got.asn, cidr).toBe(rec.autonomous_system_number ?? null);
            expect(got.as_org, cidr).toBe(rec.autonomous_system_organization ?? null);
          } else expect(got.country, cidr).toBe(country);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(20);
    });
  }

  it('IPv4 addresses walked as numbers land on the records the library finds for the same address, inside and outside every network', async () => {
    // The library's own walk of ::a.b.c.d (an IPv6 string, so phonehome hands it over unparsed) is the oracle.
    const networks: [number, number][] = [];
    for (const name of ['GeoLite2-Country-Test', 'GeoLite2-City-Test', 'GeoLite2-ASN-Test']) {
      for (const entry of JSON.parse(readFileSync(join(GEO, `${name}.source.json`), 'utf8')) as Source) {
        for (const cidr of Object.keys(entry)) {
          const [addr, len] = cidr.split('/');
          if (addr.includes(':')) continue;
          const base = addr.split('.').reduce((n, o) => n * 256 + Number(o), 0);
          networks.push([base, Number(len)]);
        }
      }
    }
    expect(networks.length).toBeGreaterThan(50);
    const sets = [
      await GeoIp.open([join(GEO, 'GeoLite2-Country-Test.mmdb'), join(GEO, 'GeoLite2-ASN-Test.mmdb')]),
      await GeoIp.open([join(GEO, 'GeoLite2-City-Test.mmdb')], { withDefault: false }),
      await GeoIp.open([]),
    ];
    const dotted = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
    const inside = fc.tuple(fc.constantFrom(...networks), fc.nat()).map(([[base, len], host]) => base + (len === 32 ? 0 : host % 2 ** (32 - len)));
    let known = 0;
    fc.assert(
      fc.property(fc.oneof(inside, fc.nat({ max: 2 ** 32 - 1 })), (n) => {
        const ip = dotted(n);
        for (const geo of sets) {
          const got = geo.lookup(ip);
          expect(got, ip).toEqual(geo.lookup(`::${ip}`));
          if (got.country || got.asn) known++;
        }
      }),
      { numRuns: 3000 },
    );
    // Most draws land in a known network: the comparison is not of empty answers.
    expect(known).toBeGreaterThan(3000);
  });

  it('Country and ASN databases together give both, and the City record shape is read', async () => {
    const geo = await GeoIp.open([join(GEO, 'GeoLite2-City-Test.mmdb'), join(GEO, 'GeoLite2-ASN-Test.mmdb')], { withDefault: false });
    expect(geo.lookup('175.16.199.10')).toEqual({ country: 'CN', asn: null, as_org: null });
    expect(geo.lookup('1.128.0.1')).toMatchObject({ asn: 1221, as_org: 'Telstra Pty Ltd' });
    expect(geo.lookup('2001:218::1').country).toBe('JP');
  });

  for (const broken of ['GeoIP2-City-Test-Broken-Double-Format', 'MaxMind-DB-test-broken-pointers-24', 'MaxMind-DB-test-broken-search-tree-24']) {
    it(`${broken} is refused at start-up, naming the file`, async () => {
      const file = join(GEO, `${broken}.mmdb`);
      await expect(GeoIp.open([file])).rejects.toThrow(GeoIpError);
      await expect(GeoIp.open([file])).rejects.toThrow(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the database is corrupt`));
      const r = phonehome(['analyze', fixture('Withings'), '--geoip', file]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(file);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  }
});

describe('GeoIP errors and defaults', () => {
  it('a missing or non-database file is a one-line start-up error', async () => {
    await expect(GeoIp.open(['/nonexistent/GeoLite2-City.mmdb'])).rejects.toThrow('/nonexistent/GeoLite2-City.mmdb: no such file');
    const r = phonehome(['analyze', fixture('Withings'), '--geoip', fixture('Withings')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not a readable MaxMind DB file/);
  });

  it('the embedded country database is well formed in every value, in each family\'s file (they are not re-checked at start-up)', async () => {
    const files = defaultDatabases();
    for (const [family, file] of [[4, files.ip4], [6, files.ip6]] as const) {
      const reader = await maxmind.open(file);
      expect(reader.metadata.ipVersion, file).toBe(family);
      expect(verifyMmdb(readFileSync(file), reader.metadata.nodeCount, reader.metadata.recordSize), file).toBeNull();
    }
  });

  it('the embedded country database answers as mmdblookup does for every public address in the fixtures', async () => {
    const geo = await GeoIp.open([]);
    const view = await phonehomeView(['HueBridge', 'TP-LinkPlugHS110', 'WeMoSwitch', 'D-LinkCam', 'EdimaxCam1', 'Withings'].map(fixture));
    const ips = [...new Set(view.flows.flatMap((f) => [f.src_ip, f.dst_ip]).filter((ip) => !isSpecialIp(ip)))];
    expect(ips.length).toBeGreaterThan(10);
    for (const ip of ips) expect(geo.lookup(ip).country, ip).toBe(mmdbCountry(COMBINED_COUNTRY_MMDB, ip));
  });

  it('the per-family files answer as mmdblookup does on the package\'s combined file: IPv4, IPv6, and IPv4 written ::a.b.c.d', async () => {
    const geo = await GeoIp.open([]);
    const ips = fc.sample(
      fc.oneof(fc.ipV4(), fc.ipV6().filter((ip) => !ip.includes('.')), fc.ipV4().map((v4) => `::${v4}`)),
      { numRuns: 240, seed: 16 },
    );
    let known = 0;
    for (const ip of ips) {
      const want = mmdbCountry(COMBINED_COUNTRY_MMDB, ip);
      expect(geo.lookup(ip).country, ip).toBe(want);
      if (want !== null) known++;
    }
    // The comparison compared something: most random IPv4 addresses have a country.
    expect(known).toBeGreaterThan(60);
  });
});

describe('local and special addresses', () => {
  // IANA IPv4/IPv6 special-purpose registries (RFC 6890 and successors).
  const special = [
    '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '127.0.0.1', '169.254.10.10', '100.64.0.1', '100.127.255.254',
    '224.0.0.251', '239.255.255.250', '255.255.255.255', '0.0.0.0', '192.0.2.5', '198.51.100.7', '203.0.113.9', '198.18.0.1', '240.0.0.1',
    '::1', '::', 'fe80::1', 'fd00::1', 'fc00::1', 'ff02::fb', '2001:db8::1', '::ffff:192.168.1.1',
  ];
  const publicIps = ['8.8.8.8', '52.49.65.150', '100.63.255.255', '100.128.0.1', '172.32.0.1', '192.169.0.1', '2a00:1450:4001::1', '2606:4700::1111', '::ffff:8.8.8.8'];

  it('private, link-local, CGNAT, multicast, broadcast and documentation ranges are never public', () => {
    for (const ip of special) expect(isSpecialIp(ip), ip).toBe(true);
    for (const ip of publicIps) expect(isSpecialIp(ip), ip).toBe(false);
  });
});

// geo-callback: a connection to a watched country (an address there, an
// operator headquartered there, a name under its ccTLD), autonomous system,
// network or name suffix; one alert per device and watched party, listing
// the addresses. Countries and AS numbers come from MaxMind's test databases
// (expected ones read from the JSON they were built from), or from the
// embedded databases with the expected answers read by mmdblookup and an
// independent reader of the AS data's CSV rows.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AlertRecord } from '../../../../contract/types.js';
import { loadDetectionConfig } from '../../../../sensor/detect/config.js';
import { ConfigError } from '../../../../sensor/errors.js';
import { isSpecialIp } from '../../../../sensor/util/addr.js';
import { asnRows4, nameMatcher, numberToDotted, oracleAsn, shippedOperators, type AsnRow } from '../../../helpers/asn-data.js';
import { type Endpoint } from '../../../helpers/build.js';
import { alertsOf, ASN_DB, capture, COUNTRY_DB, detectionsFile, runPipeline, sourceRecord, tempDir, type PipelineRun } from '../../../helpers/detection.js';
import { tcp6Session } from '../../../helpers/frames.js';
import { mmdbCountry, COMBINED_COUNTRY_MMDB } from '../../../helpers/mmdblookup.js';
import { ROUTER, rng, Scenario } from '../../../helpers/scenarios.js';

const T0 = 1_700_000_000;
const dev = (n: number): Endpoint => ({ mac: `02:9e:00:00:00:0${n}`, ip: `192.168.77.${40 + n}`, port: 41000 + n * 100 });
const server = (ip: string, port = 443): Endpoint => ({ mac: ROUTER.mac, ip, port });
const port = (d: Endpoint, i: number) => ({ ...d, port: d.port + i });
const geoAlerts = (r: PipelineRun) => r.alerts.filter((a) => a.rule === 'geo-callback');

describe('geo-callback on MaxMind test databases: country, AS and network', () => {
  const cnDev = dev(1);
  const asnDev = dev(2);
  const netDev = dev(3);
  const v6Dev: Endpoint = { mac: '02:9e:00:00:00:04', ip: 'fd00::44', port: 41400 };
  const quiet = dev(5);

  const CN1 = server('111.235.160.9');
  const CN2 = server('111.235.160.10');
  const TELSTRA = server('1.128.0.1');
  const WATCHED_NET = server('45.33.10.10', 8883);
  const V6_NET = server('2a02:d0c0::1');
  const SWEDEN = server('89.160.20.115');
  const LOCAL = server('10.1.2.3', 8080);

  const CN = sourceRecord('GeoLite2-Country-Test', '111.235.160.0/22').country.iso_code as string;
  const AS = sourceRecord('GeoLite2-ASN-Test', '1.128.0.0/11');

  let file = '';
  let base: PipelineRun;
  const of = (r: PipelineRun, d: Endpoint) => alertsOf(r.alerts, 'geo-callback', d.mac);

  function watching(countries: string[], asns: number[], networks: string[]) {
    return runPipeline([file], {
      profilesDir: null, geoip: [COUNTRY_DB, ASN_DB],
      detectionsFile: detectionsFile((doc) => (doc.watch = { countries, asns, networks })),
    });
  }

  beforeAll(async () => {
    const s = new Scenario(T0, 3600);
    await s.background(['TP-LinkPlugHS110', 'Withings'], [100, 900]);
    s.tls(T0 + 10, port(cnDev, 1), CN1, 'cdn.cn-cloud.example');
    s.tls(T0 + 600, port(cnDev, 2), CN1, 'cdn.cn-cloud.example');
    s.tls(T0 + 700, port(cnDev, 3), CN2, null);
    s.tls(T0 + 20, port(asnDev, 1), TELSTRA, null);
    s.tls(T0 + 30, port(netDev, 1), WATCHED_NET, null);
    s.packets.push(...tcp6Session(T0 + 40, port(v6Dev, 1), V6_NET));
    s.tls(T0 + 50, port(quiet, 1), SWEDEN, null);
    s.tls(T0 + 60, port(quiet, 2), LOCAL, null);
    file = capture(s);
    expect(CN).toBe('CN');
    expect(AS.autonomous_system_number).toBe(1221);
    base = await watching([CN], [AS.autonomous_system_number], ['45.33.0.0/16', '2a02:d0c0::/29', '10.0.0.0/8']);
  }, 120_000);

  it('fires once for a watched country, whatever addresses there the device used, listing them, with the server name in the message', () => {
    const a = of(base, cnDev);
    expect(a).toHaveLength(1);
    expect([a[0].destination?.ip, a[0].destination?.country, a[0].destination?.name, a[0].evidence.flows]).toEqual([CN1.ip, 'CN', 'cdn.cn-cloud.example', 3]);
    expect(a[0].evidence.addresses).toEqual([CN1.ip, CN2.ip]);
    expect(a[0].evidence.watch).toMatchObject({ by: ['country'], country: 'CN', operator: null, name: null });
    expect(a[0].evidence.reason).toMatch(/^hosted in CN, a watched country/);
    expect(a[0].message).toContain(`connected to cdn.cn-cloud.example (${CN1.ip}): hosted in CN, a watched country`);
    expect(a[0].severity).toBe('high');
  });

  it('fires for a watched autonomous system, naming it and its operator', () => {
    const a = of(base, asnDev);
    expect(a).toHaveLength(1);
    expect(a[0].destination).toMatchObject({ ip: TELSTRA.ip, asn: 1221, as_org: AS.autonomous_system_organization });
    // Its country (from the embedded database) is not watched: the AS is the reason.
    expect(a[0].destination?.country).not.toBe('CN');
    expect(a[0].evidence.watch).toEqual({ by: ['asn'], country: null, operator: null, asn: 1221, name: null });
    expect(a[0].evidence.reason).toContain(`AS1221 ${AS.autonomous_system_organization}, a watched AS`);
  });

  it('fires for an address in a watched network, IPv4 or IPv6, naming the network', () => {
    expect(of(base, netDev).map((x) => [x.destination?.ip, x.destination?.port, x.evidence.watch?.by])).toEqual([[WATCHED_NET.ip, 8883, ['network']]]);
    expect(of(base, netDev)[0].evidence.reason).toContain('in 45.33.0.0/16, a watched network');
    expect(of(base, v6Dev).map((x) => [x.destination?.ip, x.evidence.watch?.by])).toEqual([[V6_NET.ip, ['network']]]);
    expect(of(base, v6Dev)[0].evidence.reason).toContain('in 2a02:d0c0::/29, a watched network');
  });

  it('stays quiet for an unwatched country and AS, and for a local address even inside a watched network', () => {
    const flows = base.flows.filter((f) => f.src_ip === quiet.ip).map((f) => [f.dst_ip, f.dst_country, f.dst_asn]);
    expect(flows).toEqual([[SWEDEN.ip, 'SE', 29518], [LOCAL.ip, null, null]]);
    expect(of(base, quiet)).toEqual([]);
  });

  it('stays quiet when nothing is watched', async () => {
    const none = await watching([], [], []);
    expect(geoAlerts(none)).toEqual([]);
    // and the same capture's other rules still ran
    expect(none.alerts.filter((a) => a.rule !== 'geo-callback').length).toBeGreaterThan(3);
  });

  it('watches each list on its own: only the AS watched, only the AS\'s address fires', async () => {
    const asOnly = await watching([], [1221], []);
    expect(geoAlerts(asOnly).map((a) => [a.device.mac, a.destination?.ip])).toEqual([[asnDev.mac, TELSTRA.ip]]);
  });
});

// ---------------------------------------------------------------------------
// Operators and names, on the embedded databases, in generated scenarios.

const WATCHED = ['CN', 'HK', 'MO', 'RU', 'BY', 'IR', 'KP'];
const operators = shippedOperators();
const operatorAsns = new Set(operators.flatMap((e) => e.asn ?? []));
const operatorNames = operators.map(nameMatcher);
const countryCache = new Map<string, string | null>();
/** The embedded country database's answer per mmdblookup. */
const countryOf = (ip: string) => {
  if (!countryCache.has(ip)) countryCache.set(ip, mmdbCountry(COMBINED_COUNTRY_MMDB, ip));
  return countryCache.get(ip)!;
};
/** The AS of an address per the CSV rows, and whether the shipped list names its operator. */
function asOf(ip: string): { asn: number | null; org: string | null; operator: boolean } {
  const o = oracleAsn(asnRows4(), ip.split('.').reduce((n, x) => n * 256 + Number(x), 0));
  return { asn: o?.asn ?? null, org: o?.as_org ?? null, operator: !!o && (operatorAsns.has(o.asn) || operatorNames.some((m) => m(o.row.org))) };
}

/** Random public addresses of random rows passing `ok`, drawn until `n` are found. */
function pick(rand: () => number, rows: AsnRow<number>[], n: number, ok: (ip: string) => boolean): string[] {
  const out: string[] = [];
  for (let tries = 0; out.length < n; tries++) {
    if (tries > 20_000) throw new Error('no address found');
    const r = rows[Math.floor(rand() * rows.length)];
    const ip = numberToDotted(r.start + Math.floor(rand() * (r.end - r.start + 1)));
    if (!isSpecialIp(ip) && !out.includes(ip) && ok(ip)) out.push(ip);
  }
  return out;
}

const unwatchedHost = (ip: string) => {
  const a = asOf(ip);
  return a.asn !== null && !a.operator && (() => { const c = countryOf(ip); return c !== null && !WATCHED.includes(c); })();
};

interface Planted {
  file: string;
  nameDev: Endpoint;
  nameIps: string[];
  names: string[];
  opDev: Endpoint;
  opIps: string[];
  countryDev: Endpoint;
  countryIps: string[];
  quietDev: Endpoint;
  quietIps: string[];
}

/** One scenario per seed: a device calling .cn names hosted outside watched countries, one calling Alibaba Cloud addresses hosted outside them, one calling several addresses of one watched country, one calling nothing watched. */
async function plant(seed: number): Promise<Planted> {
  const rand = rng(seed);
  const rows = asnRows4();
  const alibaba = operators.find((e) => e.operator === 'Alibaba Cloud')!;
  const alibabaRows = rows.filter((r) => alibaba.asn!.includes(r.asn));
  const p: Planted = {
    file: '', nameDev: dev(6), opDev: dev(7), countryDev: dev(8), quietDev: dev(9),
    nameIps: pick(rand, rows, 2, unwatchedHost),
    names: [`api${seed}.iot-vendor.com.cn`, `dev${seed}.hub.cn`],
    opIps: pick(rand, alibabaRows, 2, (ip) => {
      const c = countryOf(ip);
      return alibaba.asn!.includes(asOf(ip).asn!) && c !== null && !WATCHED.includes(c);
    }),
    countryIps: pick(rand, rows, 4, (ip) => !asOf(ip).operator && countryOf(ip) === 'RU'),
    quietIps: pick(rand, rows, 3, unwatchedHost),
  };
  const s = new Scenario(T0, 3600);
  await s.background(['TP-LinkPlugHS110', 'Withings'], [100, 900]);
  let t = T0 + 5;
  const at = () => (t += 20 + Math.floor(rand() * 60));
  s.tls(at(), port(p.nameDev, 1), server(p.nameIps[0]), p.names[0]);
  s.tls(at(), port(p.nameDev, 2), server(p.nameIps[0]), p.names[0]);
  s.tls(at(), port(p.nameDev, 3), server(p.nameIps[1]), p.names[1]);
  p.opIps.forEach((ip, i) => s.tls(at(), port(p.opDev, i + 1), server(ip), null));
  p.countryIps.forEach((ip, i) => s.tls(at(), port(p.countryDev, i + 1), server(ip), null));
  p.quietIps.forEach((ip, i) => s.tls(at(), port(p.quietDev, i + 1), server(ip), `svc${i}.example.com`));
  p.file = capture(s);
  return p;
}

const noWatch = () => detectionsFile((doc) => (doc.watch = { countries: [], asns: [], networks: [], organisations: [], name_suffixes: [] }));

for (const seed of [3, 17, 101]) {
  describe(`geo-callback by operator and by name, embedded databases, seed ${seed}`, () => {
    let p: Planted;
    let run: PipelineRun;
    let off: PipelineRun;

    beforeAll(async () => {
      p = await plant(seed);
      run = await runPipeline([p.file], { profilesDir: null });
      off = await runPipeline([p.file], { profilesDir: null, detectionsFile: noWatch() });
    }, 180_000);

    it('a .cn name hosted outside the watched countries: one alert, made by the name', () => {
      const a = alertsOf(run.alerts, 'geo-callback', p.nameDev.mac);
      expect(a).toHaveLength(1);
      expect(a[0].evidence.watch).toEqual({ by: ['name'], country: 'CN', operator: null, asn: null, name: p.names[0] });
      expect(a[0].evidence.addresses).toEqual(p.nameIps);
      expect(a[0].evidence.flows).toBe(3);
      expect(a[0].destination).toMatchObject({ ip: p.nameIps[0], name: p.names[0], country: countryOf(p.nameIps[0]), asn: asOf(p.nameIps[0]).asn });
      expect(a[0].message).toContain(`connected to ${p.names[0]} (${p.nameIps[0]}): name under .cn (CN, a watched country), hosted in ${countryOf(p.nameIps[0])}`);
    });

    it('Alibaba Cloud addresses hosted outside the watched countries: one alert, made by the operator', () => {
      const a = alertsOf(run.alerts, 'geo-callback', p.opDev.mac);
      expect(a).toHaveLength(1);
      const first = p.opIps[0];
      expect(a[0].evidence.watch).toEqual({ by: ['operator'], country: 'CN', operator: 'Alibaba Cloud', asn: asOf(first).asn, name: null });
      expect(a[0].evidence.addresses).toEqual(p.opIps);
      expect(a[0].destination).toMatchObject({ ip: first, country: countryOf(first), asn: asOf(first).asn, as_org: asOf(first).org });
      expect(a[0].message).toContain(`connected to ${first}: destination operated by Alibaba Cloud (AS${asOf(first).asn} ${asOf(first).org}, headquartered CN), hosted in ${countryOf(first)}`);
    });

    it('several addresses in one watched country: one alert listing them', () => {
      const a = alertsOf(run.alerts, 'geo-callback', p.countryDev.mac);
      expect(a).toHaveLength(1);
      expect(a[0].evidence.watch).toMatchObject({ by: ['country'], country: 'RU', operator: null, name: null });
      expect(a[0].evidence.addresses).toEqual(p.countryIps);
      expect(a[0].evidence.flows).toBe(p.countryIps.length);
      expect(a[0].destination?.country).toBe('RU');
    });

    it('nothing watched, nothing raised; every other alert and every flow as with no watch list at all', () => {
      expect(alertsOf(run.alerts, 'geo-callback', p.quietDev.mac)).toEqual([]);
      const planted = new Set([p.nameDev, p.opDev, p.countryDev].map((d) => d.mac));
      expect(geoAlerts(off)).toEqual([]);
      const others = (r: PipelineRun) => r.alerts.filter((a) => a.rule !== 'geo-callback');
      expect(others(run)).toEqual(others(off));
      expect(run.flows).toEqual(off.flows);
      // The only geo-callbacks are the planted devices' three and the background devices' own.
      const fired = geoAlerts(run).filter((a) => planted.has(a.device.mac!));
      expect(fired).toHaveLength(3);
    });

    it('--watch-countries RU leaves the Chinese operator and the .cn names unwatched', async () => {
      const ru = await runPipeline([p.file], { profilesDir: null, watchCountries: ['RU'] });
      const byDevice = (mac: string) => alertsOf(ru.alerts, 'geo-callback', mac);
      expect(byDevice(p.nameDev.mac)).toEqual([]);
      expect(byDevice(p.opDev.mac)).toEqual([]);
      expect(byDevice(p.countryDev.mac).map((a: AlertRecord) => a.evidence.addresses)).toEqual([p.countryIps]);
    }, 60_000);
  });
}

describe('watch.name_suffixes and inline organisations', () => {
  it('a watched suffix fires with no country; an inline organisation is watched while its country is', async () => {
    const d = dev(1);
    const s = new Scenario(T0, 600);
    const ip = '8.8.8.8';
    s.tls(T0 + 1, port(d, 1), server(ip), 'hub.vendor-cloud.example');
    const file = capture(s);
    const edit = (countries: string[]) =>
      detectionsFile((doc) => {
        doc.watch = { countries, asns: [], networks: [], name_suffixes: ['.Vendor-Cloud.Example'], organisations: [{ operator: 'Test operator', country: 'US', asn: [asOf(ip).asn], source: 'test' }] };
      });
    const withUs = alertsOf((await runPipeline([file], { profilesDir: null, detectionsFile: edit(['US']) })).alerts, 'geo-callback', d.mac);
    expect(withUs.map((a) => a.evidence.watch)).toEqual([{ by: ['country', 'operator', 'name'], country: 'US', operator: 'Test operator', asn: asOf(ip).asn, name: 'hub.vendor-cloud.example' }]);
    const withoutUs = alertsOf((await runPipeline([file], { profilesDir: null, detectionsFile: edit([]) })).alerts, 'geo-callback', d.mac);
    expect(withoutUs.map((a) => a.evidence.watch)).toEqual([{ by: ['name'], country: null, operator: null, asn: null, name: 'hub.vendor-cloud.example' }]);
    expect(withoutUs[0].evidence.reason).toContain('name under .vendor-cloud.example, a watched name suffix');
  }, 60_000);
});

describe('watch.organisations and watch.name_suffixes in the detections file', () => {
  const dir = tempDir('watch-config');
  const write = (name: string, text: string) => {
    const f = join(dir, name);
    mkdirSync(join(f, '..'), { recursive: true });
    writeFileSync(f, text);
    return f;
  };
  const failure = (f: string): ConfigError => {
    try {
      loadDetectionConfig(f);
    } catch (e) {
      return e as ConfigError;
    }
    throw new Error(`${f} loaded`);
  };

  const entry = '    - operator: Example\n      country: CN\n      asn: [64500000]\n      source: test\n';
  const cases: [string, Record<string, string>, string, number, RegExp][] = [
    ['missing source', { 'd.yaml': 'watch:\n  organisations:\n    - operator: X\n      country: CN\n      asn: [4134]\n' }, 'd.yaml', 3, /needs source/],
    ['no asn or name', { 'd.yaml': 'watch:\n  organisations:\n    - operator: X\n      country: CN\n      source: s\n' }, 'd.yaml', 3, /needs asn numbers or name patterns/],
    ['bad country in a file beside', { 'd.yaml': 'watch:\n  organisations: ops.yaml\n', 'ops.yaml': '# operators\n- operator: X\n  country: China\n  asn: [4134]\n  source: s\n' }, 'ops.yaml', 3, /"China" is not an ISO 3166-1 alpha-2 code/],
    ['duplicate AS', { 'd.yaml': `watch:\n  organisations:\n${entry}    - operator: Y\n      country: CN\n      asn: [1, 64500000]\n      source: s\n` }, 'd.yaml', 9, /AS64500000 is already listed under Example/],
    ['bad regex', { 'd.yaml': 'watch:\n  organisations:\n    - operator: X\n      country: CN\n      name: [\'/(unclosed/\']\n      source: s\n' }, 'd.yaml', 5, /is not a regular expression/],
    ['pattern matching everything', { 'd.yaml': 'watch:\n  organisations:\n    - operator: X\n      country: CN\n      name: [\'/.*/\']\n      source: s\n' }, 'd.yaml', 5, /matches every name/],
    ['unknown key', { 'd.yaml': 'watch:\n  organisations:\n    - operator: X\n      country: CN\n      asns: [4134]\n      source: s\n' }, 'd.yaml', 5, /unknown key "asns" in an organisation/],
    ['missing file', { 'd.yaml': 'watch:\n  countries: [CN]\n  organisations: nowhere/ops.yaml\n' }, 'd.yaml', 3, /nowhere\/ops.yaml is neither beside/],
    ['YAML syntax in the file', { 'd.yaml': 'watch:\n  organisations: [ops.yaml]\n', 'ops.yaml': '- operator: X\n  asn: [1\n' }, 'ops.yaml', 3, /YAML syntax/],
    ['bad suffix', { 'd.yaml': 'watch:\n  name_suffixes: [ok.example, "not a suffix"]\n' }, 'd.yaml', 2, /"not a suffix" is not a domain name suffix/],
  ];
  for (const [what, files, failing, line, message] of cases) {
    it(`${what}: the error names ${failing} and line ${line}`, () => {
      const sub = what.replace(/\W+/g, '-');
      let main = '';
      for (const [name, text] of Object.entries(files)) {
        const f = write(join(sub, name), text);
        if (name === 'd.yaml') main = f;
      }
      const e = failure(main);
      expect(e).toBeInstanceOf(ConfigError);
      expect(e.message, e.message).toMatch(message);
      expect(e.message.startsWith(`${join(dir, sub, failing)}:${line}: `), e.message).toBe(true);
    });
  }

  it('a file name is looked up beside the detections file, then in the shipped rules folder; suffixes are normalised', () => {
    const beside = write('own/d.yaml', 'watch:\n  organisations: watch/operators.yaml\n  name_suffixes: [.Example.CN., бел]\n');
    write('own/watch/operators.yaml', '- operator: Mine\n  country: HK\n  name: [mine]\n  source: s\n');
    const c = loadDetectionConfig(beside);
    expect(c.watchOrganisations.map((o) => o.operator)).toEqual(['Mine']);
    expect(c.watchNameSuffixes).toEqual(['example.cn', 'xn--90ais']);
    const shipped = loadDetectionConfig(write('elsewhere/d.yaml', 'watch:\n  organisations: watch/operators.yaml\n'));
    expect(shipped.watchOrganisations.length).toBeGreaterThan(20);
  });
});

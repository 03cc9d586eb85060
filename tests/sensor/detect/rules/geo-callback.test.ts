// geo-callback: a connection to a watched country, autonomous system or
// network. Countries and AS numbers come from MaxMind's test databases; the
// expected ones are read from the JSON those databases were built from.
import { beforeAll, describe, expect, it } from 'vitest';
import { type Endpoint } from '../../../helpers/build.js';
import { alertsOf, ASN_DB, capture, COUNTRY_DB, detectionsFile, runPipeline, sourceRecord, type PipelineRun } from '../../../helpers/detection.js';
import { tcp6Session } from '../../../helpers/frames.js';
import { ROUTER, Scenario } from '../../../helpers/scenarios.js';

const T0 = 1_700_000_000;
const dev = (n: number): Endpoint => ({ mac: `02:9e:00:00:00:0${n}`, ip: `192.168.77.${40 + n}`, port: 41000 + n * 100 });
const cnDev = dev(1);
const asnDev = dev(2);
const netDev = dev(3);
const v6Dev: Endpoint = { mac: '02:9e:00:00:00:04', ip: 'fd00::44', port: 41400 };
const quiet = dev(5);
const server = (ip: string, port = 443): Endpoint => ({ mac: ROUTER.mac, ip, port });

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
  const port = (d: Endpoint, i: number) => ({ ...d, port: d.port + i });
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

describe('geo-callback', () => {
  it('fires for a watched country, once per address, with every connection to it and the server name in the message', () => {
    const a = of(base, cnDev);
    expect(a.map((x) => [x.destination?.ip, x.destination?.country, x.destination?.name, x.evidence.flows])).toEqual([
      [CN1.ip, 'CN', 'cdn.cn-cloud.example', 2],
      [CN2.ip, 'CN', null, 1],
    ]);
    expect(a[0].evidence.reason).toBe('CN, a watched country');
    expect(a[0].message).toContain(`${CN1.ip} (cdn.cn-cloud.example) in CN, a watched country`);
    expect(a[0].severity).toBe('high');
  });

  it('fires for a watched autonomous system, naming it and its operator', () => {
    const a = of(base, asnDev);
    expect(a).toHaveLength(1);
    expect(a[0].destination).toMatchObject({ ip: TELSTRA.ip, asn: 1221, as_org: AS.autonomous_system_organization });
    // Its country (from the embedded database) is not watched: the AS is the reason.
    expect(a[0].destination?.country).not.toBe('CN');
    expect(a[0].evidence.reason).toBe(`AS1221 ${AS.autonomous_system_organization}, a watched network`);
  });

  it('fires for an address in a watched network, IPv4 or IPv6', () => {
    expect(of(base, netDev).map((x) => [x.destination?.ip, x.destination?.port, x.evidence.reason])).toEqual([[WATCHED_NET.ip, 8883, 'a watched network']]);
    expect(of(base, v6Dev).map((x) => [x.destination?.ip, x.evidence.reason])).toEqual([[V6_NET.ip, 'a watched network']]);
  });

  it('stays quiet for an unwatched country and AS, and for a local address even inside a watched network', () => {
    const flows = base.flows.filter((f) => f.src_ip === quiet.ip).map((f) => [f.dst_ip, f.dst_country, f.dst_asn]);
    expect(flows).toEqual([[SWEDEN.ip, 'SE', 29518], [LOCAL.ip, null, null]]);
    expect(of(base, quiet)).toEqual([]);
  });

  it('stays quiet when nothing is watched', async () => {
    const none = await watching([], [], []);
    expect(none.alerts.filter((a) => a.rule === 'geo-callback')).toEqual([]);
    // and the same capture's other rules still ran
    expect(none.alerts.filter((a) => a.rule === 'direct-ip').length).toBeGreaterThan(3);
  });

  it('watches each list on its own: only the AS watched, only the AS\'s address fires', async () => {
    const asOnly = await watching([], [1221], []);
    expect(asOnly.alerts.filter((a) => a.rule === 'geo-callback').map((a) => [a.device.mac, a.destination?.ip])).toEqual([[asnDev.mac, TELSTRA.ip]]);
  });
});

// new-behaviour: a device learnt for a day of capture time, then doing what it
// never did (a new country, AS or port), among real corpus traffic, through
// the built CLI. Destinations are addresses of MaxMind's test databases, whose
// country and AS are read from the JSON those databases were built from. Two
// runs with one --state: the second alerts only on what is new relative to
// the first; a corrupt state file costs one warning and is rebuilt; a reset
// device is learnt again. The look-alike talks to the same three countries
// the whole time and stays quiet.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AlertRecord } from '../../../../contract/types.js';
import { packet, tcpSession, udpFrame, type Endpoint } from '../../../helpers/build.js';
import { phonehome } from '../../../helpers/cli.js';
import { alertsOf, ASN_DB, capture, contractAlert, COUNTRY_DB, sourceRecord, tempDir } from '../../../helpers/detection.js';
import { ROUTER, Scenario } from '../../../helpers/scenarios.js';
import { clientHello, ext } from '../../../helpers/tls.js';

const H = 3600;
const DAY = 86400;
// midnight UTC, so capture days are whole days of the scenario
const T0 = 1_700_006_400;
const cam: Endpoint = { mac: '02:4e:42:00:00:01', ip: '192.168.77.201', port: 20000 };
const same3: Endpoint = { mac: '02:4e:42:00:00:02', ip: '192.168.77.202', port: 30000 };
const at = (ip: string, port = 443): Endpoint => ({ mac: ROUTER.mac, ip, port });
const SE = at('89.160.20.115');
const US = at('216.160.83.57');
const GB = at('81.2.69.150');
const BT = at('67.43.156.10');
const US_OTHER_AS = at('214.78.0.5');

let port = 0;
const from = (d: Endpoint): Endpoint => ({ ...d, port: d.port + (port++ % 9000) });

/** Both devices' usual traffic from `start` for `hours`: the camera to SE every 30 min and US every 2 h; the other to SE, US, GB in turn. */
function usual(s: Scenario, start: number, hours: number): void {
  for (let i = 0; i < hours * 2; i++) {
    const t = start + i * 1800;
    s.tls(t, from(cam), SE, 'cam.vendor.example');
    if (i % 4 === 0) s.tls(t + 60, from(cam), US, 'time.vendor.example');
    s.tls(t + 120, from(same3), [SE, US, GB][i % 3], 'hub.vendor.example');
  }
}

/** A UDP request and its answer. */
function udp(s: Scenario, t: number, dev: Endpoint, server: Endpoint): void {
  s.packets.push(packet(t, udpFrame(from(dev), server, Buffer.alloc(40, 1))));
}

let first = '';
let second = '';

beforeAll(async () => {
  // capture 1: day 0 and the first 6 h of day 1; learning ends ~24 h in
  const s1 = new Scenario(T0, 30 * H);
  usual(s1, T0, 30);
  s1.tls(T0 + 26 * H + 300, from(cam), BT, null);
  s1.tls(T0 + 27 * H + 300, from(cam), BT, null);
  s1.tls(T0 + 28 * H + 300, from(cam), US_OTHER_AS, null);
  s1.tls(T0 + 29 * H + 300, from(cam), { ...SE, port: 2323 }, null);
  // a second TLS client on the camera: its usual destination, a hello of another library
  const other = clientHello({ ciphers: [0x1301, 0x1302], extensions: [ext.sni('cam.vendor.example'), ext.versions([0x0304])] });
  s1.packets.push(...tcpSession(T0 + 29 * H + 900, from(cam), SE, other, Buffer.alloc(300, 2)));
  await s1.background(['HueBridge', 'EdimaxCam1'], [600, 25 * H]);
  first = capture(s1);
  // capture 2: days 3 and 4; BT again on both days, and a UDP port never used
  const s2 = new Scenario(T0 + 3 * DAY, 30 * H);
  usual(s2, T0 + 3 * DAY, 30);
  s2.tls(T0 + 3 * DAY + 2 * H, from(cam), BT, null);
  s2.tls(T0 + 4 * DAY + 2 * H, from(cam), BT, null);
  s2.tls(T0 + 4 * DAY + 3 * H, from(cam), BT, null);
  udp(s2, T0 + 3 * DAY + 5 * H, cam, { ...SE, port: 5683 });
  second = capture(s2);
}, 60_000);

const GEO = ['--geoip', COUNTRY_DB, '--geoip', ASN_DB];

function analyze(file: string, ...extra: string[]): { alerts: AlertRecord[]; stderr: string; code: number | null } {
  const out = tempDir('out');
  const r = phonehome(['analyze', file, '--out', out, '--no-profiles', ...GEO, ...extra]);
  const alerts = r.code === 0 ? readFileSync(join(out, 'alerts.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AlertRecord) : [];
  return { alerts, stderr: r.stderr, code: r.code };
}

const novelties = (alerts: AlertRecord[], mac: string) =>
  alertsOf(alerts, 'new-behaviour', mac).map((a) => `${a.evidence.novelty!.kind}:${a.evidence.novelty!.values.join(',')}`).sort();

describe('new-behaviour', () => {
  it('the planted destinations are what the test databases say', () => {
    const country = (cidr: string) => sourceRecord('GeoLite2-Country-Test', cidr).country.iso_code;
    const asn = (cidr: string) => sourceRecord('GeoLite2-ASN-Test', cidr).autonomous_system_number;
    expect([country('89.160.20.112/28'), asn('89.160.20.112/29')]).toEqual(['SE', 29518]);
    expect([country('216.160.83.56/29'), asn('216.160.83.56/29')]).toEqual(['US', 209]);
    expect([country('67.43.156.0/24'), asn('67.43.156.0/26')]).toEqual(['BT', 35908]);
    expect([country('214.78.0.0/19'), asn('214.0.0.0/8')]).toEqual(['US', 721]);
  });

  it('after a day of learning, one alert per new country, AS and port, with what the baseline held; the look-alike and the background stay quiet', () => {
    const { alerts, code } = analyze(first, '--state', tempDir('state'));
    expect(code).toBe(0);
    const [ja4] = novelties(alerts, cam.mac).filter((n) => n.startsWith('ja4:'));
    expect(novelties(alerts, cam.mac)).toEqual(['asn:AS35908', 'asn:AS721', 'country:BT', ja4, 'port:tcp/2323']);
    // JA4 of the planted hello: TLS 1.3 over TCP, SNI, 2 ciphers, 2 extensions, no ALPN
    expect(ja4).toMatch(/^ja4:t13d0202(00)_/);
    const usualJa4 = alertsOf(alerts, 'new-behaviour', cam.mac).find((a) => a.evidence.novelty!.kind === 'ja4')!.evidence.novelty!.baseline;
    expect(usualJa4).toHaveLength(1);
    expect(usualJa4[0]).not.toBe(ja4.slice(4));
    const bt = alertsOf(alerts, 'new-behaviour', cam.mac).find((a) => a.evidence.novelty!.kind === 'country')!;
    expect(bt.evidence.flows).toBe(2);
    expect(bt.evidence.novelty).toMatchObject({ baseline: ['SE', 'US'], baseline_size: 2, learnt_from: T0 });
    expect(bt.evidence.novelty!.learnt_until).toBeGreaterThanOrEqual(T0 + DAY);
    expect(bt.evidence.novelty!.learnt_until).toBeLessThan(T0 + 26 * H);
    expect(bt.destination).toMatchObject({ ip: BT.ip, country: 'BT', port: null });
    expect(bt.severity).toBe('medium');
    const ports = alertsOf(alerts, 'new-behaviour', cam.mac).find((a) => a.evidence.novelty!.kind === 'port')!;
    expect(ports.evidence.novelty!.baseline).toEqual(['tcp/443']);
    expect(ports.destination).toMatchObject({ ip: SE.ip, port: 2323, proto: 'tcp' });
    expect(alerts.filter((a) => a.rule === 'new-behaviour' && a.device.mac !== cam.mac)).toEqual([]);
    // what the collector takes: the contract's schema, in strict mode, with the new evidence fields
    for (const a of alertsOf(alerts, 'new-behaviour', cam.mac)) expect(contractAlert(a), JSON.stringify(contractAlert.errors)).toBe(true);
    expect(contractAlert({ ...bt, evidence: { ...bt.evidence, novelty: { kind: 'country' } } })).toBe(false);
  });

  it('a second run with the same --state alerts only on what is new since the first, and confirms a value seen on enough days', () => {
    const state = tempDir('state');
    analyze(first, '--state', state);
    const { alerts } = analyze(second, '--state', state);
    expect(novelties(alerts, cam.mac)).toEqual(['port:udp/5683']);
    expect(alertsOf(alerts, 'new-behaviour', same3.mac)).toEqual([]);
    const saved = JSON.parse(readFileSync(join(state, 'baseline.json'), 'utf8'));
    const b = saved.rules['new-behaviour'][cam.mac];
    // BT (and its AS): days 1, 3 and 4, so now part of the baseline; the others: one day so far
    expect(b.held.country.sort()).toEqual(['BT', 'SE', 'US']);
    expect(b.held.asn).toContain('AS35908');
    expect(Object.keys(b.pending).sort()).toEqual(['asn:AS721', expect.stringMatching(/^ja4:t13d020200_/), 'port:tcp/2323', 'port:udp/5683']);
    expect(b.pending['port:udp/5683'].days).toEqual([Math.floor((T0 + 3 * DAY) / DAY)]);
    // without --state the second capture alone is a device still learning
    expect(analyze(second).alerts.filter((a) => a.rule === 'new-behaviour')).toEqual([]);
  });

  it('the same alerts with --workers 2', () => {
    const one = analyze(first, '--state', tempDir('state')).alerts.filter((a) => a.rule === 'new-behaviour');
    const two = analyze(first, '--state', tempDir('state'), '--workers', '2').alerts.filter((a) => a.rule === 'new-behaviour');
    expect(two).toEqual(one);
    expect(one).toHaveLength(5);
  });

  it('a corrupt state file is one warning and exit 0; the run learns afresh and writes a good file', () => {
    const state = tempDir('state');
    const file = join(state, 'baseline.json');
    writeFileSync(file, '{"format":"phonehome-baseline","version":1,"rules":{"new-beh');
    const r = analyze(first, '--state', state);
    expect(r.code).toBe(0);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('phonehome: warning:'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/baseline\.json: unusable baseline file \(not JSON .*\); moved to .*baseline\.json\.corrupt-\d+, learning starts again/);
    expect(novelties(r.alerts, cam.mac)).toHaveLength(5);
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')).rules['new-behaviour'])).toContain(cam.mac);
  });

  it('a device reset with `phonehome baseline reset` is learnt again; the others keep their baseline', () => {
    const state = tempDir('state');
    analyze(first, '--state', state);
    const r = phonehome(['baseline', 'reset', '--state', state, '--device', cam.mac.toUpperCase()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${cam.mac}: forgotten (new-behaviour, abnormal-upload)\n`);
    const saved = JSON.parse(readFileSync(join(state, 'baseline.json'), 'utf8'));
    expect(saved.rules['new-behaviour'][cam.mac]).toBeUndefined();
    expect(saved.rules['new-behaviour'][same3.mac]).toBeDefined();
    expect(novelties(analyze(second, '--state', state).alerts, cam.mac)).toEqual([]);
  });
});

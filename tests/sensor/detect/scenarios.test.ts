// Planted behaviours in real background traffic: every planted behaviour is
// found, and nothing else is flagged on the planted devices.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AlertRecord } from '../../../contract/types.js';
import type { Endpoint } from '../../helpers/build.js';
import { phonehome } from '../../helpers/cli.js';
import { GEOIP_DIR } from '../../helpers/corpus.js';
import { rng, Scenario } from '../../helpers/scenarios.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-scenario-'));
const GEO = GEOIP_DIR;
const T0 = 1_700_000_000;
const SPAN = 3 * 3600;

// Planted devices (Espressif OUI, an unprofiled vendor) and a profiled one.
const beaconer: Endpoint = { mac: '5c:cf:7f:aa:00:01', ip: '192.168.77.11', port: 40001 };
const irregular: Endpoint = { mac: '5c:cf:7f:aa:00:02', ip: '192.168.77.12', port: 40002 };
const hardcoded: Endpoint = { mac: '5c:cf:7f:aa:00:03', ip: '192.168.77.13', port: 40003 };
const profiled: Endpoint = { mac: '02:50:00:aa:00:04', ip: '192.168.77.14', port: 40004 };
// 175.16.199.0/24 is in China and 89.160.20.112/28 in Sweden per MaxMind's test databases.
const C2 = { mac: ROUTER_MAC(), ip: '175.16.199.10', port: 443 };
const HARDCODED = { mac: ROUTER_MAC(), ip: '89.160.20.115', port: 8443 };
const VENDOR_API = { mac: ROUTER_MAC(), ip: '216.160.83.57', port: 443 };
const TELEMETRY = { mac: ROUTER_MAC(), ip: '81.2.69.150', port: 443 };

function ROUTER_MAC(): string {
  return '00:b5:6d:06:08:ba';
}

const PROFILE = `profile: acme-cam
description: ACME camera (planted)
match:
  mac: ["02:50:00:aa:00:04"]
documented:
  - domain: "*.acme-vendor.example"
    proto: tcp
    ports: [443]
`;

let alerts: AlertRecord[] = [];
let evidenceDir = '';
let alertsText = '';
let args: string[] = [];

beforeAll(async () => {
  const s = new Scenario(T0, SPAN);
  await s.background(['HueBridge', 'TP-LinkPlugHS110', 'WeMoSwitch', 'D-LinkCam', 'EdimaxCam1'], [120, 2400, 4100, 6100, 9000]);
  const r = rng(42);
  // 1. a beacon every 60 s with +-5 s jitter, slightly varying sizes, to a name resolved once
  s.resolve(T0 + 5, beaconer, 'update.c2-cloud.example', [C2.ip]);
  for (let t = T0 + 10; t < T0 + SPAN - 60; t += 60 + (r() - 0.5) * 10) s.tls(t, { ...beaconer, port: 30000 + Math.floor(r() * 30000) }, C2, 'update.c2-cloud.example', Math.floor(r() * 20));
  // ... and a retry one second after one of the beats, which must not count as a beat
  s.failedSyn(T0 + 1000.5, { ...beaconer, port: 29999 }, C2);
  // 2. irregular connections (exponential gaps, mean 60 s) to the same server
  s.resolve(T0 + 6, irregular, 'update.c2-cloud.example', [C2.ip]);
  for (let t = T0 + 20; t < T0 + SPAN - 60; t += -Math.log(1 - r()) * 60) s.tls(t, { ...irregular, port: 30000 + Math.floor(r() * 30000) }, C2, 'update.c2-cloud.example', Math.floor(r() * 20));
  // 3. a hard-coded address: never resolved, a few connections
  for (const t of [T0 + 300, T0 + 2000, T0 + 7000]) s.tls(t, { ...hardcoded, port: 31000 + (t % 1000) }, HARDCODED, null);
  // 4. a profiled device: its documented API by name, and one undocumented host
  s.resolve(T0 + 30, profiled, 'api.acme-vendor.example', [VENDOR_API.ip]);
  s.resolve(T0 + 31, profiled, 'telemetry.tracker.example', [TELEMETRY.ip]);
  for (const t of [T0 + 40, T0 + 900, T0 + 5000]) s.tls(t, { ...profiled, port: 32000 + (t % 1000) }, VENDOR_API, 'api.acme-vendor.example');
  for (const t of [T0 + 50, T0 + 3000]) s.tls(t, { ...profiled, port: 33000 + (t % 1000) }, TELEMETRY, 'telemetry.tracker.example');
  const capture = join(tmp, 'scenario.pcap');
  s.write(capture);
  const profiles = join(tmp, 'profiles');
  execFileSync('mkdir', ['-p', profiles]);
  writeFileSync(join(profiles, 'acme-cam.yaml'), PROFILE);
  const out = join(tmp, 'out');
  evidenceDir = join(tmp, 'evidence');
  args = ['analyze', capture, '--profiles', profiles, '--geoip', join(GEO, 'GeoLite2-Country-Test.mmdb')];
  const run = phonehome([...args, '--out', out, '--evidence', evidenceDir]);
  expect(run.code, run.stderr).toBe(0);
  alertsText = readFileSync(join(out, 'alerts.jsonl'), 'utf8');
  alerts = alertsText.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}, 120_000);

const of = (dev: Endpoint, rule?: string) => alerts.filter((a) => a.device.mac === dev.mac && (!rule || a.rule === rule));

describe('planted behaviours', () => {
  it('two worker threads find the same alerts, with the same ids and evidence', () => {
    const out = join(tmp, 'out-workers');
    const evidence = join(tmp, 'evidence-workers');
    const run = phonehome([...args, '--out', out, '--evidence', evidence, '--workers', '2']);
    expect(run.code, run.stderr).toBe(0);
    expect(alerts.length).toBeGreaterThan(5);
    expect(readFileSync(join(out, 'alerts.jsonl'), 'utf8')).toBe(alertsText);
    for (const a of alerts) expect(readFileSync(join(evidence, a.evidence.pcap!))).toEqual(readFileSync(join(evidenceDir, a.evidence.pcap!)));
  });

  it('the regular beacon is found, with its interval, jitter and score', () => {
    const b = of(beaconer, 'beaconing');
    expect(b).toHaveLength(1);
    expect(b[0].destination?.name).toBe('update.c2-cloud.example');
    expect(b[0].evidence.interval_s!).toBeGreaterThan(57);
    expect(b[0].evidence.interval_s!).toBeLessThan(63);
    expect(b[0].evidence.jitter_s!).toBeLessThan(5);
    expect(b[0].evidence.score!).toBeGreaterThanOrEqual(0.8);
    expect(Object.keys(b[0].evidence.subscores!).sort()).toEqual(['duration', 'histogram', 'sizes', 'timestamps']);
    expect(b[0].mitre.map((m) => m.technique)).toContain('T1071');
  });

  it('irregular repeated connections to the same host are not a beacon', () => {
    expect(of(irregular, 'beaconing')).toEqual([]);
  });

  it('the beacon to China is also a geo-callback; so is the irregular traffic to the same server', () => {
    for (const dev of [beaconer, irregular]) {
      const g = of(dev, 'geo-callback');
      expect(g).toHaveLength(1);
      expect(g[0].destination).toMatchObject({ ip: C2.ip, country: 'CN' });
    }
  });

  it('the hard-coded address is a direct-ip alert; resolved destinations are not', () => {
    const d = of(hardcoded, 'direct-ip');
    expect(d).toHaveLength(1);
    expect(d[0].destination).toMatchObject({ ip: HARDCODED.ip, port: HARDCODED.port, country: 'SE' });
    expect(d[0].evidence.flows).toBe(3);
    for (const dev of [beaconer, irregular, profiled]) expect(of(dev, 'direct-ip')).toEqual([]);
  });

  it('the documented destination reached by name is not reported; exactly the undocumented one is', () => {
    const u = of(profiled, 'undocumented-destination');
    expect(u.map((a) => a.destination?.name)).toEqual(['telemetry.tracker.example']);
    expect(u[0].evidence.flows).toBe(2);
    expect(u[0].device.profile).toBe('acme-cam');
    expect(of(profiled, 'unprofiled-device')).toEqual([]);
  });

  it('nothing unplanted is flagged on the planted devices', () => {
    const rules = (dev: Endpoint) => [...new Set(of(dev).map((a) => a.rule))].sort();
    expect(rules(beaconer)).toEqual(['beaconing', 'geo-callback', 'unprofiled-device']);
    expect(rules(irregular)).toEqual(['geo-callback', 'unprofiled-device']);
    expect(rules(hardcoded)).toEqual(['direct-ip', 'unprofiled-device']);
    expect(rules(profiled)).toEqual(['undocumented-destination']);
    // and no background device beacons
    expect(alerts.filter((a) => a.rule === 'beaconing').map((a) => a.device.mac)).toEqual([beaconer.mac]);
  });

  it('every alert carries evidence, and its evidence capture opens in tshark with exactly its flows', () => {
    for (const a of alerts) {
      expect(a.evidence.flows).toBeGreaterThan(0);
      expect(a.evidence.uids.length).toBeGreaterThan(0);
      expect(a.message.length).toBeGreaterThan(20);
      expect(a.evidence.pcap, a.rule).toBeDefined();
    }
    const d = of(hardcoded, 'direct-ip')[0];
    const out = execFileSync('tshark', ['-n', '-r', join(evidenceDir, d.evidence.pcap!), '-T', 'fields', '-e', 'ip.src', '-e', 'ip.dst']).toString().trim().split('\n');
    expect(out.length).toBe(d.evidence.packets);
    for (const line of out) expect(line.split('\t').sort()).toEqual([hardcoded.ip, HARDCODED.ip].sort());
  });
});

// beaconing: regular connections from a device to one destination, scored
// over the whole capture. Planted beacons whose period, jitter and count are
// known; each threshold of rules/detections.yaml is moved across one of them
// to show the rule reads it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDetectionConfig } from '../../../../sensor/detect/config.js';
import { loadProfiles } from '../../../../sensor/detect/profiles/load.js';
import { ConfigError } from '../../../../sensor/errors.js';
import { type Endpoint } from '../../../helpers/build.js';
import { fixture } from '../../../helpers/corpus.js';
import { alertsOf, capture, COUNTRY_DB, detectionsFile, profilesDir, runPipeline, tempDir, type PipelineRun } from '../../../helpers/detection.js';
import { errorOf } from '../../../helpers/errors.js';
import { RULES_DEVICES } from '../../../helpers/profiles.js';
import { ROUTER, rng, Scenario } from '../../../helpers/scenarios.js';

const T0 = 1_700_000_000;
const SPAN = 2 * 3600;
const PERIOD = 90;
const dev = (n: number): Endpoint => ({ mac: `02:be:00:00:00:0${n}`, ip: `192.168.77.${100 + n}`, port: 45000 + n * 1000 });
const steady = dev(1);
const few = dev(2);
const doubled = dev(3);
const jittery = dev(4);
const C2: Endpoint = { mac: ROUTER.mac, ip: '89.160.20.115', port: 443 };
const NAME = 'update.c2-cloud.example';

let file = '';
let base: PipelineRun;
const run = (edit?: (rules: Record<string, Record<string, unknown>>) => void) =>
  runPipeline([file], { profilesDir: null, geoip: [COUNTRY_DB], detectionsFile: edit ? detectionsFile((doc) => edit(doc.rules)) : undefined });
const beacons = (r: PipelineRun, d: Endpoint) => alertsOf(r.alerts, 'beaconing', d.mac);
/** the planted connections of a device, from the flow records */
const planted = (r: PipelineRun, d: Endpoint) => r.flows.filter((f) => f.src_ip === d.ip && f.dst_ip === C2.ip);
let steadyBeats: number[] = [];

beforeAll(async () => {
  const s = new Scenario(T0, SPAN);
  const r = rng(11);
  let p = 0;
  const at = (d: Endpoint) => ({ ...d, port: d.port + p++ });
  // every 90 s, up to 2 s early or late, sizes varying a little, over the whole capture
  for (let t = T0; t < T0 + SPAN; t += PERIOD) {
    const beat = t + (r() - 0.5) * 4;
    steadyBeats.push(beat);
    s.tls(beat, at(steady), C2, NAME, Math.floor(r() * 20));
  }
  // perfectly regular, twelve connections over the whole capture
  for (let i = 0; i < 12; i++) s.tls(T0 + 5 + i * (SPAN / 12), at(few), C2, NAME);
  // two connections 1.5 s apart at every beat
  for (let t = T0 + 7; t < T0 + SPAN; t += PERIOD) {
    s.tls(t, at(doubled), C2, NAME);
    s.tls(t + 1.5, at(doubled), C2, NAME);
  }
  // every 90 s give or take up to 25 s
  for (let t = T0 + 11; t < T0 + SPAN; t += PERIOD) s.tls(t + (r() - 0.5) * 50, at(jittery), C2, NAME);
  file = capture(s);
  base = await run();
}, 120_000);

describe('beaconing', () => {
  it('finds a regular beacon, with its interval, jitter, connection count and every connection as evidence', () => {
    const b = beacons(base, steady);
    expect(b).toHaveLength(1);
    const flows = planted(base, steady);
    expect(flows).toHaveLength(steadyBeats.length);
    const e = b[0].evidence;
    expect(e.connections).toBe(steadyBeats.length);
    expect(e.flows).toBe(steadyBeats.length);
    expect(e.interval_s!).toBeGreaterThan(PERIOD - 2);
    expect(e.interval_s!).toBeLessThan(PERIOD + 2);
    expect(e.jitter_s!).toBeLessThan(2);
    expect(e.score!).toBeGreaterThanOrEqual(0.8);
    expect(e.subscores!.timestamps).toBeGreaterThanOrEqual(0.75);
    expect(e.first_seen).toBe(flows[0].ts);
    expect(e.last_seen).toBeCloseTo(flows[flows.length - 1].ts + flows[flows.length - 1].duration, 6);
    expect(e.packets).toBe(flows.reduce((n, f) => n + f.src_pkts + f.dst_pkts, 0));
    expect(e.uids).toEqual(flows.slice(0, 20).map((f) => f.uid));
    expect(b[0].destination).toMatchObject({ ip: C2.ip, name: NAME, port: null, country: 'SE' });
    expect(b[0].message).toContain(`contacted ${NAME} ${steadyBeats.length} times every`);
  });

  it('reads min_connections: twelve regular connections are a beacon at the shipped 10, not at 13', async () => {
    expect(planted(base, few)).toHaveLength(12);
    expect(beacons(base, few).map((a) => a.evidence.connections)).toEqual([12]);
    const thirteen = await run((rules) => (rules.beaconing.min_connections = 13));
    expect(beacons(thirteen, few)).toEqual([]);
    expect(beacons(thirteen, steady)).toHaveLength(1);
  });

  it('reads merge_within_s: two connections 1.5 s apart are one beat at the shipped 2 s; a window as long as the capture leaves one beat, too few to judge', async () => {
    const b = beacons(base, doubled);
    expect(b).toHaveLength(1);
    expect(b[0].evidence.interval_s!).toBeCloseTo(PERIOD, 0);
    expect(b[0].evidence.connections).toBe(planted(base, doubled).length);
    expect(b[0].message).toContain(`contacted ${NAME} ${planted(base, doubled).length / 2} times every`);
    const long = await run((rules) => (rules.beaconing.merge_within_s = SPAN));
    expect(long.alerts.filter((a) => a.rule === 'beaconing')).toEqual([]);
  });

  it('applies max_jitter_ratio: a beacon that wanders by up to 25 s passes the shipped ratio but not a ratio of 0.05', async () => {
    const b = beacons(base, jittery);
    expect(b).toHaveLength(1);
    const { jitter_s, interval_s } = b[0].evidence;
    expect(jitter_s! / interval_s!).toBeGreaterThan(0.05);
    expect(jitter_s! / interval_s!).toBeLessThan(0.35);
    const strict = await run((rules) => (rules.beaconing.max_jitter_ratio = 0.05));
    expect(beacons(strict, jittery)).toEqual([]);
    expect(beacons(strict, steady)).toHaveLength(1);
  });

  it('applies min_score and min_timestamp_score', async () => {
    const { score, subscores } = beacons(base, jittery)[0].evidence;
    const aboveScore = await run((rules) => (rules.beaconing.min_score = Math.min(1, score! + 0.001)));
    expect(beacons(aboveScore, jittery)).toEqual([]);
    const aboveTimestamps = await run((rules) => (rules.beaconing.min_timestamp_score = Math.min(1, subscores!.timestamps + 0.001)));
    expect(beacons(aboveTimestamps, jittery)).toEqual([]);
    expect(beacons(aboveTimestamps, steady)).toHaveLength(beacons(base, steady).length);
  });
});

// Beacons to destinations the devices' own profiles document (or only partly
// document): a documented heartbeat is reported at low severity and says so,
// or is left out with report_documented: false.
describe('beaconing to a documented destination', () => {
  const HB_NAME = 'heartbeat.vendor.example';
  const HB: Endpoint = { mac: ROUTER.mac, ip: '81.2.69.150', port: 443 };
  const RAW: Endpoint = { mac: ROUTER.mac, ip: '216.160.83.57', port: 8883 };
  const heartbeat = dev(5); // documented by name, protocol and port
  const wrongPort = dev(6); // its profile documents the name on another port only
  const elsewhere = dev(7); // its profile documents the vendor; it beacons to the C2 name
  const byAddress = dev(8); // no name; its profile documents the address
  const profileOf = (name: string, mac: string, entry: string[]) => [`profile: ${name}`, 'match:', `  mac: ['${mac}']`, 'documented:', ...entry, ''].join('\n');
  let profiles = '';
  let documented: PipelineRun;

  const runWith = (edit?: (rules: Record<string, Record<string, unknown>>) => void) =>
    runPipeline([dfile], { profilesDir: profiles, geoip: [COUNTRY_DB], detectionsFile: edit ? detectionsFile((doc) => edit(doc.rules)) : undefined });
  let dfile = '';

  beforeAll(async () => {
    profiles = profilesDir({
      'hb.yaml': profileOf('hb', heartbeat.mac, ["  - domain: '*.vendor.example'", '    proto: tcp', '    ports: [443]', '    note: vendor heartbeat']),
      'port.yaml': profileOf('port', wrongPort.mac, ["  - domain: '*.vendor.example'", '    proto: tcp', '    ports: [8443]']),
      'else.yaml': profileOf('else', elsewhere.mac, ["  - domain: '*.vendor.example'"]),
      'addr.yaml': profileOf('addr', byAddress.mac, ['  - cidr: 216.160.83.57', '    proto: tcp', '    ports: [8883]']),
    });
    const s = new Scenario(T0, SPAN);
    let p = 0;
    const at = (d: Endpoint) => ({ ...d, port: d.port + p++ });
    for (let t = T0 + 3; t < T0 + SPAN; t += 60) {
      s.tls(t, at(heartbeat), HB, HB_NAME);
      s.tls(t + 1, at(wrongPort), HB, HB_NAME);
      s.tls(t + 2, at(elsewhere), C2, NAME);
      s.tls(t + 3, at(byAddress), RAW, null);
    }
    dfile = capture(s);
    documented = await runWith();
  }, 120_000);

  it('reports a beacon its profile documents at low severity, as a documented heartbeat with the profile entry', () => {
    const entry = loadProfiles(profiles).profiles.find((x) => x.profile === 'hb')!.documented[0];
    const b = beacons(documented, heartbeat);
    expect(b).toHaveLength(1);
    expect(b[0].severity).toBe('low');
    expect(b[0].message).toMatch(new RegExp(`contacted ${HB_NAME} \\d+ times every .*: a documented heartbeat \\(profile hb documents \\*\\.vendor\\.example tcp/443\\)$`));
    expect(b[0].evidence.documented).toBe(true);
    expect(b[0].evidence.profile_entry).toEqual(entry);
    expect(b[0].evidence.reason).toContain('profile hb documents *.vendor.example tcp/443');
    expect(b[0].device.profile).toBe('hb');
  });

  it('documents a nameless beacon by its address', () => {
    const b = beacons(documented, byAddress);
    expect(b.map((a) => [a.severity, a.evidence.documented, a.evidence.profile_entry])).toEqual([['low', true, { cidr: RAW.ip, proto: 'tcp', ports: [RAW.port] }]]);
    expect(b[0].message).toContain(`contacted ${RAW.ip} `);
  });

  it('keeps the rule\'s severity, with no documented evidence, when the profile does not document the name on that port, or at all', () => {
    for (const d of [wrongPort, elsewhere]) {
      const b = beacons(documented, d);
      expect(b, d.mac).toHaveLength(1);
      expect(b[0].severity).toBe('high');
      expect(b[0].message).not.toContain('documented');
      expect(b[0].evidence).not.toHaveProperty('documented');
      expect(b[0].evidence).not.toHaveProperty('profile_entry');
    }
  });

  it('reads report_documented: false leaves documented beacons out, and only them', async () => {
    const off = await runWith((rules) => (rules.beaconing.report_documented = false));
    expect(beacons(off, heartbeat)).toEqual([]);
    expect(beacons(off, byAddress)).toEqual([]);
    expect(beacons(off, wrongPort).map((a) => a.severity)).toEqual(['high']);
    expect(beacons(off, elsewhere).map((a) => a.severity)).toEqual(['high']);
  });

  it('a documented beacon is low whatever severity the rule is given, unless that is info', async () => {
    const medium = await runWith((rules) => (rules.beaconing.severity = 'medium'));
    expect([heartbeat, wrongPort].map((d) => beacons(medium, d).map((a) => a.severity))).toEqual([['low'], ['medium']]);
    const info = await runWith((rules) => (rules.beaconing.severity = 'info'));
    expect([heartbeat, wrongPort].map((d) => beacons(info, d).map((a) => a.severity))).toEqual([['info'], ['info']]);
  });

  it('refuses a report_documented that is not true or false, naming the file and line', () => {
    const f = join(tempDir('detections'), 'detections.yaml');
    writeFileSync(f, ['rules:', '  beaconing:', '    min_connections: 10', '    report_documented: yes please', ''].join('\n'));
    const e = errorOf(ConfigError, () => loadDetectionConfig(f));
    expect(e.message).toBe(`${f}:4: rules.beaconing.report_documented must be true or false`);
    expect(e.code).toBe('DETECTIONS_INVALID');
  });

  it('the real Hue bridge beacon to bridge.meethue.com is the documented heartbeat of the shipped Hue profile', async () => {
    const hue = '00:17:88:24:76:ff';
    const shippedEntry = loadProfiles(RULES_DEVICES).profiles.find((x) => x.profile === 'philips-hue-bridge')!.documented.find((e) => e.domain === '*.meethue.com');
    const withProfile = alertsOf((await runPipeline([fixture('HueBridge')], { geoip: [COUNTRY_DB] })).alerts, 'beaconing', hue);
    const without = alertsOf((await runPipeline([fixture('HueBridge')], { geoip: [COUNTRY_DB], profilesDir: null })).alerts, 'beaconing', hue);
    expect(without.map((a) => [a.destination!.name, a.severity])).toEqual([['bridge.meethue.com', 'high']]);
    expect(withProfile.map((a) => [a.destination!.name, a.severity, a.evidence.documented])).toEqual([['bridge.meethue.com', 'low', true]]);
    expect(withProfile[0].evidence.profile_entry).toEqual(shippedEntry);
    expect(withProfile[0].id).toBe(without[0].id);
  }, 60_000);
});

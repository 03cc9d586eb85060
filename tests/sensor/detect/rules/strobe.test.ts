// strobe: so many connections to one destination that they are a strobe, not
// a beacon; a strobe claims its series, so beaconing does not report it too.
// Planted regular connections in a capture, with the threshold lowered so a
// test capture can cross it; and the shipped 10,000 over real flows fed to the
// Detector.
import { beforeAll, describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../../../contract/types.js';
import { readCaptureFile } from '../../../../sensor/capture/reader.js';
import { loadDetectionConfig } from '../../../../sensor/detect/config.js';
import { Detector } from '../../../../sensor/detect/engine.js';
import { enrichFlow, type EnrichedFlow } from '../../../../sensor/enrich/destination.js';
import { GeoIp } from '../../../../sensor/enrich/geoip.js';
import { FlowMeter } from '../../../../sensor/pipeline/meter.js';
import { flowUid } from '../../../../sensor/pipeline/records.js';
import { type Endpoint } from '../../../helpers/build.js';
import { fixture } from '../../../helpers/corpus.js';
import { alertsOf, capture, COUNTRY_DB, detectionsFile, notInternet, runPipeline, type PipelineRun } from '../../../helpers/detection.js';
import { ROUTER, Scenario } from '../../../helpers/scenarios.js';

const T0 = 1_700_000_000;
const SPAN = 3600;
const dev = (n: number): Endpoint => ({ mac: `02:57:00:00:00:0${n}`, ip: `192.168.77.${120 + n}`, port: 20000 + n * 5000 });
const hammer = dev(1);
const beacon = dev(2);
const roaming = dev(3);
const server = (ip: string): Endpoint => ({ mac: ROUTER.mac, ip, port: 443 });
const API = server('81.2.69.150');

let file = '';
let lowered: PipelineRun;
const run = (edit: (rules: Record<string, Record<string, unknown>>) => void) =>
  runPipeline([file], { profilesDir: null, geoip: [COUNTRY_DB], detectionsFile: detectionsFile((doc) => edit(doc.rules)) });
const planted = (r: PipelineRun, d: Endpoint) => r.flows.filter((f) => f.src_ip === d.ip && !notInternet(f.dst_ip));

beforeAll(async () => {
  const s = new Scenario(T0, SPAN);
  let p = 0;
  const at = (d: Endpoint) => ({ ...d, port: d.port + p++ });
  // 120 connections, one every 30 s: past a lowered strobe threshold of 100, and a perfect beacon otherwise
  for (let i = 0; i < 120; i++) s.tls(T0 + i * 30, at(hammer), API, 'poll.vendor.example');
  // 60 connections, one every 60 s: below it
  for (let i = 0; i < 60; i++) s.tls(T0 + 3 + i * 60, at(beacon), API, 'poll.vendor.example');
  // 110 connections to one name served from two addresses, alternating
  for (let i = 0; i < 110; i++) s.tls(T0 + 7 + i * 32, at(roaming), server(i % 2 ? '89.160.20.115' : '89.160.20.116'), 'cdn.vendor.example');
  file = capture(s);
  lowered = await run((rules) => (rules.strobe.min_connections = 100));
}, 120_000);

describe('strobe', () => {
  it('reports a series past min_connections as a strobe, with every connection counted, and takes it from beaconing', () => {
    const s = alertsOf(lowered.alerts, 'strobe', hammer.mac);
    expect(s).toHaveLength(1);
    const flows = planted(lowered, hammer);
    expect(flows).toHaveLength(120);
    expect(s[0].evidence).toMatchObject({ connections: 120, flows: 120, first_seen: flows[0].ts, reason: '120 connections' });
    expect(s[0].evidence.uids).toEqual(flows.slice(0, 20).map((f) => f.uid));
    expect(s[0].evidence.packets).toBe(flows.reduce((n, f) => n + f.src_pkts + f.dst_pkts, 0));
    expect(s[0].destination).toMatchObject({ ip: API.ip, name: 'poll.vendor.example', port: null });
    expect(s[0].severity).toBe('low');
    expect(s[0].message).toContain('connected to poll.vendor.example 120 times: a strobe');
    expect(alertsOf(lowered.alerts, 'beaconing', hammer.mac)).toEqual([]);
  });

  it('leaves a series below min_connections to beaconing', () => {
    expect(planted(lowered, beacon)).toHaveLength(60);
    expect(alertsOf(lowered.alerts, 'strobe', beacon.mac)).toEqual([]);
    expect(alertsOf(lowered.alerts, 'beaconing', beacon.mac)).toHaveLength(1);
  });

  it('counts connections to one name together, whichever address served them', () => {
    const s = alertsOf(lowered.alerts, 'strobe', roaming.mac);
    expect(new Set(planted(lowered, roaming).map((f) => f.dst_ip)).size).toBe(2);
    expect(s.map((a) => [a.destination?.name, a.destination?.ip, a.evidence.connections])).toEqual([['cdn.vendor.example', '89.160.20.116', 110]]);
  });

  it('claims nothing when disabled: the same series is then a beacon', async () => {
    const off = await run((rules) => {
      rules.strobe.min_connections = 100;
      rules.strobe.enabled = false;
    });
    expect(off.alerts.filter((a) => a.rule === 'strobe')).toEqual([]);
    expect(alertsOf(off.alerts, 'beaconing', hammer.mac).map((a) => a.evidence.connections)).toEqual([120]);
  });

  it('at the shipped threshold, 9,999 connections are not a strobe and 10,000 are', async () => {
    const geo = await GeoIp.open([COUNTRY_DB]);
    const real: EnrichedFlow[] = [];
    const m = new FlowMeter({ flow: (r, device, resolved) => real.push(enrichFlow(r, device, resolved, geo)) });
    await readCaptureFile(fixture('HueBridge'), m.onPacket);
    m.finish();
    const src = real.find((e) => e.device && notInternet(e.rec.src_ip) && !notInternet(e.rec.dst_ip))!;
    const feed = (n: number) => {
      const d = new Detector({ config: loadDetectionConfig(), profiles: [] });
      for (let i = 0; i < n; i++) {
        const ts = T0 + i * 0.25;
        const rec: FlowRecord = { ...src.rec, ts, uid: flowUid(src.rec.community_id!, ts) };
        d.onFlow({ ...src, rec });
      }
      return d.finish(T0, T0 + n * 0.25).filter((a) => a.rule === 'strobe');
    };
    expect(feed(9_999)).toEqual([]);
    expect(feed(10_000).map((a) => [a.device.mac, a.evidence.connections, a.evidence.flows])).toEqual([[src.device!.mac, 10_000, 10_000]]);
  });
});

// The Pipeline (packets → meter → enrich → detect) as `phonehome analyze` and
// the sensor run it: flows continue across inputs, alerts() can be asked
// again, and each sink sees what its documentation promises, in that order.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AlertRecord, FlowRecord } from '../../../contract/types.js';
import { readCaptureFile } from '../../../sensor/capture/reader.js';
import { Pipeline } from '../../../sensor/pipeline/pipeline.js';
import { loadAnalysis } from '../../../sensor/pipeline/setup.js';
import { analyze } from '../../../sensor/run/analyze.js';
import { packet, TCP_FLAGS, tcpFrame, type Endpoint } from '../../helpers/build.js';
import { alertsOf, COUNTRY_DB, notInternet, runPipeline, sourceRecord, tempDir } from '../../helpers/detection.js';
import { writePcap, type TestPacket } from '../../helpers/pcap.js';
import { ROUTER, Scenario } from '../../helpers/scenarios.js';

const T0 = 1_700_000_000;
const SPAN = 2 * 3600;
const SPLIT = T0 + 3600;
const long: Endpoint = { mac: '02:91:00:00:00:01', ip: '192.168.77.141', port: 46000 };
const beaconer: Endpoint = { mac: '02:91:00:00:00:02', ip: '192.168.77.142', port: 47000 };
const hardcoded: Endpoint = { mac: '02:91:00:00:00:03', ip: '192.168.77.143', port: 48000 };
const SWEDEN: Endpoint = { mac: ROUTER.mac, ip: '89.160.20.115', port: 443 };
const SE = sourceRecord('GeoLite2-Country-Test', '89.160.20.112/28').country.iso_code as string;
const OPTS = { profilesDir: null, geoip: [COUNTRY_DB] };

let whole = '';
let first = '';
let second = '';

/** A connection open across the split: handshake before it, data and teardown after. */
function acrossTheSplit(): TestPacket[] {
  const { SYN, ACK, PSH, FIN } = TCP_FLAGS;
  const srv = { ...SWEDEN, port: 8883 };
  return [
    packet(SPLIT - 200, tcpFrame(long, srv, SYN)),
    packet(SPLIT - 199.9, tcpFrame(srv, long, SYN | ACK)),
    packet(SPLIT - 199.8, tcpFrame(long, srv, ACK)),
    packet(SPLIT - 100, tcpFrame(long, srv, PSH | ACK, Buffer.alloc(100, 1))),
    packet(SPLIT + 100, tcpFrame(srv, long, PSH | ACK, Buffer.alloc(200, 2))),
    packet(SPLIT + 200, tcpFrame(long, srv, FIN | ACK)),
    packet(SPLIT + 200.1, tcpFrame(srv, long, FIN | ACK)),
    packet(SPLIT + 200.2, tcpFrame(long, srv, ACK)),
  ];
}

beforeAll(async () => {
  const s = new Scenario(T0, SPAN);
  await s.background(['HueBridge', 'WeMoSwitch', 'TP-LinkPlugHS110'], [3540, 3580, 5000]);
  s.packets.push(...acrossTheSplit());
  for (let t = T0 + 5; t < T0 + SPAN; t += 120) s.tls(t, { ...beaconer, port: beaconer.port + Math.round(t - T0) }, SWEDEN, 'poll.vendor.example');
  for (const t of [600, 3000, 4000, 6000]) s.tls(T0 + t, { ...hardcoded, port: hardcoded.port + t }, { ...SWEDEN, ip: '89.160.20.116' }, null);
  const dir = tempDir('split');
  whole = join(dir, 'whole.pcap');
  s.write(whole);
  const at = (p: TestPacket) => p.tsSec + p.tsUsec / 1e6;
  first = join(dir, 'first.pcap');
  second = join(dir, 'second.pcap');
  writePcap(first, 1, s.packets.filter((p) => at(p) < SPLIT));
  writePcap(second, 1, s.packets.filter((p) => at(p) >= SPLIT));
}, 120_000);

describe('Pipeline', () => {
  it('over two files gives the flows and alerts analyze() gives over both, and those of the unsplit capture: flows continue across inputs', async () => {
    const split = await runPipeline([first, second], OPTS);
    const one = await runPipeline([whole], OPTS);
    const out = tempDir('analyze');
    const r = await analyze([first, second], { ...OPTS, outDir: out });
    const written = readFileSync(join(out, 'flows.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as FlowRecord);
    expect(split.flows.length).toBeGreaterThan(100);
    expect(split.flows).toEqual(written);
    expect(split.flows).toEqual(one.flows);
    expect(split.alerts).toEqual(r.alerts);
    expect(split.alerts).toEqual(one.alerts);
    // The connection open across the split is one flow, with every packet of it.
    const conn = split.flows.filter((f) => f.src_ip === long.ip);
    expect(conn.map((f) => [f.src_pkts, f.dst_pkts, f.state, f.ts, f.duration])).toEqual([[5, 3, 'SF', SPLIT - 200, 400.2]]);
  });

  it('returns one record per id from alerts(), however often asked, and re-scores beacons over the inputs read so far', async () => {
    const heard: AlertRecord[] = [];
    const p = new Pipeline(await loadAnalysis(OPTS), OPTS, { alert: (a) => heard.push(structuredClone(a)) });
    const read = async (file: string) => {
      const input = p.input();
      await readCaptureFile(file, input.sink);
      return input.end();
    };
    const span1 = await read(first);
    expect(span1.first).toBeLessThan(SPLIT);
    const a1 = p.alerts();
    const again = p.alerts();
    expect(again).toEqual(a1);
    expect(new Set(a1.map((a) => a.id)).size).toBe(a1.length);
    const beacon1 = alertsOf(a1, 'beaconing', beaconer.mac);
    expect(beacon1).toHaveLength(1);
    await read(second);
    p.flushFlows();
    const a2 = p.alerts();
    expect(new Set(a2.map((a) => a.id)).size).toBe(a2.length);
    const beacon2 = alertsOf(a2, 'beaconing', beaconer.mac);
    expect(beacon2.map((a) => a.id)).toEqual([beacon1[0].id]);
    expect(beacon2[0].evidence.connections).toBe(Math.ceil((SPAN - 5) / 120));
    expect(beacon2[0].evidence.connections).toBeGreaterThan(beacon1[0].evidence.connections!);
    // The alert sink heard the beacon once, when it was first scored.
    expect(heard.filter((a) => a.rule === 'beaconing' && a.device.mac === beaconer.mac)).toHaveLength(1);
  });

  it('hands each flow to the flow sink enriched with its destination\'s country, before detection judges it', async () => {
    const events: string[] = [];
    const seen = new Map<string, FlowRecord>();
    const p = new Pipeline(await loadAnalysis(OPTS), OPTS, {
      flow: (r) => {
        seen.set(r.uid, { ...r });
        events.push(`flow ${r.uid}`);
      },
      alert: (a) => events.push(`alert ${a.rule} ${a.evidence.uids[0]}`),
    });
    const input = p.input();
    await readCaptureFile(whole, input.sink);
    input.end();
    p.flushFlows();
    p.alerts();
    const planted = [...seen.values()].filter((f) => f.dst_ip.startsWith('89.160.20.11'));
    expect(planted.length).toBeGreaterThan(50);
    for (const f of planted) expect(f.dst_country).toBe(SE);
    for (const f of seen.values()) if (notInternet(f.dst_ip)) expect(f.dst_country).toBeNull();
    // Every alert raised by a flow came after the flow sink had that flow.
    const flowAlerts = events.filter((e) => e.startsWith('alert') && !/^alert (beaconing|strobe) /.test(e));
    expect(flowAlerts.length).toBeGreaterThan(3);
    for (const e of flowAlerts) {
      const uid = e.split(' ')[2];
      const at = events.indexOf(e);
      expect(events.indexOf(`flow ${uid}`), e).toBeGreaterThanOrEqual(0);
      expect(events.indexOf(`flow ${uid}`), e).toBeLessThan(at);
    }
  });

  it('raises the same alerts without a flow sink (records only for the flows detection judges)', async () => {
    const withSink = await runPipeline([whole], OPTS);
    const without = await runPipeline([whole], OPTS, false);
    expect(without.flows).toEqual([]);
    expect(without.alerts).toEqual(withSink.alerts);
    expect(without.pipeline.meter.flows).toBe(withSink.pipeline.meter.flows);
  });

  it('ends every live flow at flushFlows(), once: a second call hands over nothing more', async () => {
    const flows: FlowRecord[] = [];
    const p = new Pipeline(await loadAnalysis(OPTS), OPTS, { flow: (r) => flows.push(r) });
    const input = p.input();
    await readCaptureFile(first, input.sink);
    input.end();
    const before = flows.length;
    const devices = p.flushFlows();
    const ended = flows.slice(before);
    expect(ended.length).toBeGreaterThan(0);
    // live flows end as 'end'; connections already closed, lingering for their last ACKs, as 'closed' (see meter.test.ts)
    expect(ended.filter((f) => f.end_reason === 'end').length).toBeGreaterThan(0);
    expect(ended.filter((f) => f.end_reason !== 'end' && f.end_reason !== 'closed')).toEqual([]);
    expect(p.flushFlows()).toEqual(devices);
    expect(flows.length).toBe(before + ended.length);
  });
});

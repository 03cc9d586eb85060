// The AlertBook over real flows (the outbound flows of bundled captures,
// moved in time where a test needs it): aggregation per rule, device and key
// in a suppression window, the roll-up of a flood, the caps on what an alert
// keeps, stable ids, and series alerts that are replaced, not added.
import { beforeAll, describe, expect, it } from 'vitest';
import type { AlertRecord, FlowRecord } from '../../../contract/types.js';
import { readCaptureFile } from '../../../sensor/capture/reader.js';
import { AlertBook, type NewAlert } from '../../../sensor/detect/alerts.js';
import { defaultRuleSettings } from '../../../sensor/detect/config.js';
import { SeriesTracker } from '../../../sensor/detect/series.js';
import type { DeviceFacts } from '../../../sensor/devices/inventory.js';
import { FlowMeter } from '../../../sensor/pipeline/meter.js';
import { flowUid } from '../../../sensor/pipeline/records.js';
import { fixture } from '../../helpers/corpus.js';
import { notInternet } from '../../helpers/detection.js';

interface Real {
  rec: FlowRecord;
  device: DeviceFacts;
}

/** The flows a local device opened to the Internet in a bundled capture, with the device's facts. */
async function outbound(name: string): Promise<Real[]> {
  const out: Real[] = [];
  const m = new FlowMeter({ flow: (rec, device) => device && notInternet(rec.src_ip) && !notInternet(rec.dst_ip) && out.push({ rec, device }) });
  await readCaptureFile(fixture(name), m.onPacket);
  m.finish();
  return out;
}

/** The same flow starting at another time (its uid follows from the time, as the meter makes it). */
const at = (f: FlowRecord, ts: number): FlowRecord => ({ ...f, ts, uid: flowUid(f.community_id!, ts) });

const SETTINGS = defaultRuleSettings();
const WINDOW = 100;
let hue: Real[] = [];
let plug: Real[] = [];

beforeAll(async () => {
  hue = await outbound('HueBridge');
  plug = await outbound('TP-LinkPlugHS110');
});

function book(windowS = WINDOW, maxAlerts?: number) {
  const opened: AlertRecord[] = [];
  const b = new AlertBook((id) => SETTINGS[id], windowS, (a) => opened.push(structuredClone(a)), maxAlerts);
  const texts = { built: 0 };
  const spec = (device: DeviceFacts, name = 'x'): NewAlert => ({
    device, profile: null,
    destination: () => ((texts.built++), { ip: name, port: null, proto: null, name: null, country: null, asn: null, as_org: null }),
    message: () => `message for ${name}`,
    reason: () => `reason for ${name}`,
  });
  return { b, opened, spec, texts };
}

const sum = (flows: FlowRecord[], f: (r: FlowRecord) => number) => flows.reduce((n, r) => n + f(r), 0);

describe('AlertBook', () => {
  it('makes one alert per rule, device and key in a window, whose evidence adds up every flow given to it', () => {
    expect(hue.length).toBeGreaterThan(20);
    const dev = hue[0].device;
    const flows = hue.slice(0, 12).map((h, i) => at(h.rec, 1_000 + i * 5));
    const { b, opened, spec, texts } = book();
    for (const f of flows) b.raise('direct-ip', 'k', f, spec(dev, 'k'));
    const all = b.all();
    expect(all).toHaveLength(1);
    const e = all[0].evidence;
    expect(e.flows).toBe(12);
    expect(e.packets).toBe(sum(flows, (r) => r.src_pkts + r.dst_pkts));
    expect(e.bytes_out).toBe(sum(flows, (r) => r.src_bytes));
    expect(e.bytes_in).toBe(sum(flows, (r) => r.dst_bytes));
    expect(e.first_seen).toBe(1_000);
    expect(e.last_seen).toBe(Math.max(...flows.map((r) => r.ts + r.duration)));
    expect(e.uids).toEqual(flows.map((r) => r.uid));
    expect(all[0]).toMatchObject({ rule: 'direct-ip', ts: 1_000, severity: SETTINGS['direct-ip'].severity, message: 'message for k', mitre: SETTINGS['direct-ip'].mitre });
    expect(all[0].device.mac).toBe(dev.mac);
    // The alert's texts were built once, when it opened; the streaming sink heard it once.
    expect(texts.built).toBe(1);
    expect(opened.map((a) => a.id)).toEqual([all[0].id]);
  });

  it('keeps keys, rules and devices apart: another key, another rule or another device is another alert', () => {
    const [h, p] = [hue[0], plug[0]];
    expect(p.device.mac).not.toBe(h.device.mac);
    const { b, spec } = book();
    b.raise('direct-ip', 'k1', at(h.rec, 10), spec(h.device));
    b.raise('direct-ip', 'k2', at(h.rec, 11), spec(h.device));
    b.raise('geo-callback', 'k1', at(h.rec, 12), spec(h.device));
    b.raise('direct-ip', 'k1', at(p.rec, 13), spec(p.device));
    b.raise('direct-ip', 'k1', at(h.rec, 14), spec(h.device));
    const all = b.all();
    expect(all.map((a) => [a.rule, a.device.mac, a.evidence.flows])).toEqual([
      ['direct-ip', h.device.mac, 2],
      ['direct-ip', h.device.mac, 1],
      ['geo-callback', h.device.mac, 1],
      ['direct-ip', p.device.mac, 1],
    ]);
    expect(new Set(all.map((a) => a.id)).size).toBe(4);
  });

  it('opens a new alert for a flow at or after the window end; windows run from an alert\'s first flow, they do not slide', () => {
    const f = hue[0].rec;
    const { b, opened, spec } = book(WINDOW);
    for (const t of [0, 60, 99.999, 100, 150, 199.999, 200]) b.raise('direct-ip', 'k', at(f, 5_000 + t), spec(hue[0].device));
    const all = b.all();
    expect(all.map((a) => [a.ts - 5_000, a.evidence.flows])).toEqual([[0, 3], [100, 3], [200, 1]]);
    expect(opened).toHaveLength(3);
    // Oldest first, the closed windows included.
    expect(all.map((a) => a.ts)).toEqual([...all.map((a) => a.ts)].sort((x, y) => x - y));
  });

  it('past 500 keys for one device and rule, rolls further keys into one alert; every flow is counted exactly once', () => {
    const dev = hue[0].device;
    const { b, opened, spec } = book(86_400);
    const given: FlowRecord[] = [];
    const raise = (key: string, i: number) => {
      const f = at(hue[i % hue.length].rec, 10_000 + i);
      given.push(f);
      b.raise('undocumented-destination', key, f, spec(dev, key));
    };
    for (let i = 0; i < 620; i++) raise(`dest-${i}`, i);
    // more flows to an itemised key and to a rolled-up one
    raise('dest-0', 620);
    raise('dest-3', 621);
    raise('dest-550', 622);
    raise('dest-619', 623);
    // a rule's one-per-device alert (key '') is never rolled up
    raise('', 624);
    // another device is not affected by this one's flood
    const other = at(plug[0].rec, 10_700);
    b.raise('undocumented-destination', 'dest-700', other, spec(plug[0].device, 'dest-700'));

    const mine = b.all().filter((a) => a.device.mac === dev.mac);
    const itemised = mine.filter((a) => a.destination !== null);
    const rollup = mine.filter((a) => a.destination === null);
    expect(itemised).toHaveLength(501);
    expect(new Set(itemised.map((a) => a.destination!.ip))).toEqual(new Set(['', ...Array.from({ length: 500 }, (_, i) => `dest-${i}`)]));
    expect(rollup).toHaveLength(1);
    expect(rollup[0].message).toMatch(/more than 500 distinct destinations under rule undocumented-destination/);
    expect(rollup[0].id).not.toBe(itemised[0].id);
    // 120 keys past the first 500, plus the two later flows to rolled-up keys
    expect(rollup[0].evidence.flows).toBe(122);
    expect(itemised.find((a) => a.destination!.ip === 'dest-0')!.evidence.flows).toBe(2);
    expect(itemised.find((a) => a.destination!.ip === 'dest-3')!.evidence.flows).toBe(2);
    expect(mine.reduce((n, a) => n + a.evidence.flows, 0)).toBe(given.length);
    expect(mine.reduce((n, a) => n + a.evidence.packets, 0)).toBe(sum(given, (r) => r.src_pkts + r.dst_pkts));
    expect(b.all().filter((a) => a.device.mac === plug[0].device.mac).map((a) => a.evidence.flows)).toEqual([1]);
    // The sink heard each alert once: 501 itemised, the roll-up, the other device's.
    expect(opened).toHaveLength(503);
  });

  it('past the run\'s alert limit, counts what would have been new alerts in one roll-up per rule, saying how many; open alerts still grow', () => {
    const { b, opened, spec } = book(86_400, 50);
    const given: FlowRecord[] = [];
    const raise = (rule: string, r: Real, key: string, i: number) => {
      const f = at(r.rec, 20_000 + i);
      given.push(f);
      b.raise(rule, key, f, spec(r.device, key));
    };
    // 40 keys of one device and 30 of another under two rules: 50 are itemised, in the order they came
    for (let i = 0; i < 40; i++) raise('direct-ip', hue[i % hue.length], `hue-${i}`, i);
    for (let i = 0; i < 30; i++) raise('undocumented-destination', plug[i % plug.length], `plug-${i}`, 100 + i);
    // a held-back key seen again is the same held-back alert; an itemised one still grows
    raise('undocumented-destination', plug[0], 'plug-25', 200);
    raise('direct-ip', hue[0], 'hue-0', 201);

    const all = b.all();
    const rollups = all.filter((a) => a.device.ip === '*');
    expect(all).toHaveLength(51);
    expect(rollups.map((a) => a.rule)).toEqual(['undocumented-destination']);
    const r = rollups[0];
    expect(r.device.mac).toBeNull();
    expect(r.destination).toBeNull();
    expect(r.message).toBe("20 further undocumented-destination alerts past this run's limit of 50 alerts (a flood?): counted here, not itemised");
    expect(r.evidence.flows).toBe(21);
    expect(r.evidence.uids).toEqual(given.slice(50, 70).concat(given[70]).map((f) => f.uid));
    expect(all.find((a) => a.destination?.ip === 'hue-0')!.evidence.flows).toBe(2);
    // every flow is counted once, itemised or rolled up
    expect(all.reduce((n, a) => n + a.evidence.flows, 0)).toBe(given.length);
    expect(all.reduce((n, a) => n + a.evidence.bytes_out, 0)).toBe(sum(given, (f) => f.src_bytes));
    // heard once each: 50 itemised, the roll-up when it opened
    expect(opened).toHaveLength(51);
    // more of the same rule after the limit: the roll-up stands for more, under the same id
    raise('direct-ip', hue[1], 'hue-late', 300);
    const again = b.all();
    expect(again.filter((a) => a.device.ip === '*').map((a) => [a.rule, a.message.split(' ')[0]])).toEqual([
      ['undocumented-destination', '20'],
      ['direct-ip', '1'],
    ]);
    expect(again.find((a) => a.rule === 'undocumented-destination' && a.device.ip === '*')!.id).toBe(r.id);
  });

  it('keeps the first 100 uids and the first 2,000 flows for the evidence capture, while counting every flow', () => {
    const flows = Array.from({ length: 2150 }, (_, i) => at(hue[i % hue.length].rec, 20_000 + i * 0.5));
    const { b, spec } = book(86_400);
    for (const f of flows) b.raise('direct-ip', 'k', f, spec(hue[0].device));
    const [a] = b.all();
    expect(a.evidence.flows).toBe(2150);
    expect(a.evidence.packets).toBe(sum(flows, (r) => r.src_pkts + r.dst_pkts));
    expect(a.evidence.uids).toEqual(flows.slice(0, 100).map((r) => r.uid));
    const kept = b.evidenceFlows().get(a.id)!;
    expect(kept.refs).toEqual(
      flows.slice(0, 2000).map((r) => ({ uid: r.uid, proto: r.proto, src_ip: r.src_ip, src_port: r.src_port, dst_ip: r.dst_ip, dst_port: r.dst_port, ts: r.ts, end: r.ts + r.duration, pkts: r.src_pkts + r.dst_pkts })),
    );
    // and it knows why the other 150 are not kept
    expect([...kept.unkept]).toEqual(['alert-flows']);
  });

  it('gives the same ids for the same flows, and another id when an alert starts with another flow', () => {
    const run = (flows: Real[]) => {
      const { b, spec } = book(86_400);
      flows.forEach((h) => b.raise('direct-ip', h.rec.dst_ip, h.rec, spec(h.device, h.rec.dst_ip)));
      return b.all();
    };
    const first = run(hue);
    expect(first.length).toBeGreaterThan(3);
    expect(run(hue).map((a) => a.id)).toEqual(first.map((a) => a.id));
    for (const a of first) expect(a.id).toMatch(/^A[A-Za-z0-9_-]{19}$/);
    // Starting each destination at its second flow changes exactly the ids of destinations with more than one flow.
    const seen = new Set<string>();
    const later = hue.filter((h) => seen.has(h.rec.dst_ip) || !seen.add(h.rec.dst_ip));
    const second = new Map(run(later).map((a) => [a.destination!.ip, a.id]));
    for (const a of first) {
      if (second.has(a.destination!.ip!)) expect(second.get(a.destination!.ip!)).not.toBe(a.id);
    }
    expect(second.size).toBeGreaterThan(0);
  });

  it('replaces a series alert when the series is scored again: one alert, heard once, with the whole series\' totals and a sample of its uids', () => {
    const h = hue[0];
    const tracker = new SeriesTracker();
    const flows = Array.from({ length: 30 }, (_, i) => at(h.rec, 30_000 + i * 60));
    for (const f of flows.slice(0, 25)) tracker.add(f, h.device, null, { country: 'SE', asn: null, as_org: null });
    const { b, opened } = book(86_400);
    const score = () => {
      for (const s of tracker.values()) b.raiseSeries('beaconing', s, `beacon to ${s.dstIp}`, 'regular', { connections: s.totals.flows });
      return b.all().filter((a) => a.rule === 'beaconing');
    };
    const once = score();
    const twice = score();
    expect(once).toHaveLength(1);
    expect(twice.map((a) => a.id)).toEqual(once.map((a) => a.id));
    for (const f of flows.slice(25)) tracker.add(f, h.device, null, { country: 'SE', asn: null, as_org: null });
    const [a] = score();
    expect(a.id).toBe(once[0].id);
    expect(opened).toHaveLength(1);
    expect(a.evidence.flows).toBe(30);
    expect(a.evidence.connections).toBe(30);
    expect(a.evidence.packets).toBe(sum(flows, (r) => r.src_pkts + r.dst_pkts));
    expect(a.evidence.first_seen).toBe(30_000);
    expect(a.evidence.last_seen).toBe(flows[29].ts + flows[29].duration);
    expect(a.evidence.uids).toEqual(flows.slice(0, 20).map((r) => r.uid));
    expect(a.destination).toMatchObject({ ip: h.rec.dst_ip, country: 'SE', port: null });
  });
});

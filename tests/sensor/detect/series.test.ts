// SeriesTracker: one series per device and destination, bounded so that a
// scan or flood cannot grow memory: 5,000 destinations per device, 25,000
// series in all (least recently updated forgotten first), samples capped
// while the totals count every flow. Built from a real flow of a bundled
// capture, moved to other destinations and times.
import { beforeAll, describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../../contract/types.js';
import { readCaptureFile } from '../../../sensor/capture/reader.js';
import { SeriesTracker, type Series } from '../../../sensor/detect/series.js';
import type { DeviceFacts } from '../../../sensor/devices/inventory.js';
import type { GeoInfo } from '../../../sensor/enrich/geoip.js';
import { FlowMeter } from '../../../sensor/pipeline/meter.js';
import { flowUid } from '../../../sensor/pipeline/records.js';
import { fixture } from '../../helpers/corpus.js';
import { notInternet } from '../../helpers/detection.js';

const GEO: GeoInfo = { country: 'US', asn: null, as_org: null };
let real: FlowRecord[] = [];
let device: DeviceFacts;

beforeAll(async () => {
  const m = new FlowMeter({
    flow: (rec, facts) => {
      if (facts && notInternet(rec.src_ip) && !notInternet(rec.dst_ip)) {
        real.push(rec);
        device = facts;
      }
    },
  });
  await readCaptureFile(fixture('HueBridge'), m.onPacket);
  m.finish();
  real = real.filter((r) => r.src_mac === device.mac);
});

const dev = (n: number): DeviceFacts => ({ ...device, mac: `02:00:00:00:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`, ip: `192.168.${n >> 8}.${n & 255}` });
const destIp = (d: number, i: number) => `45.${d}.${i >> 8}.${i & 255}`;

/** A real flow from the capture, sent to `dst` (by address only) at `ts`. */
function flowTo(dst: string, ts: number, k = 0, name: string | null = null): FlowRecord {
  const r = real[k % real.length];
  return { ...r, dst_ip: dst, server_name: name, ts, uid: flowUid(r.community_id!, ts) };
}

const seriesOf = (t: SeriesTracker, d: DeviceFacts): Series[] => [...t.values()].filter((s) => s.device.mac === d.mac);

describe('SeriesTracker', () => {
  it('keeps one series per device and destination: by name when the flow has one (whatever its address), else by address', () => {
    const t = new SeriesTracker();
    const [a, b] = [dev(1), dev(2)];
    t.add(flowTo('45.0.0.1', 1, 0, 'api.example.com'), a, null, GEO);
    t.add(flowTo('45.0.0.2', 2, 1, 'api.example.com'), a, null, GEO);
    t.add(flowTo('45.0.0.1', 3, 2), a, null, GEO);
    t.add(flowTo('45.0.0.1', 4, 3, 'api.example.com'), b, 'cam', GEO);
    const got = [...t.values()].map((s) => [s.device.mac, s.name, s.dstIp, s.totals.flows, s.profile]);
    expect(got).toEqual([
      [a.mac, 'api.example.com', '45.0.0.1', 2, null],
      [a.mac, null, '45.0.0.1', 1, null],
      [b.mac, 'api.example.com', '45.0.0.1', 1, 'cam'],
    ]);
  });

  it('counts every flow in the totals while keeping 20 flows and 100,000 start times as samples', () => {
    expect(real.length).toBeGreaterThan(20);
    const t = new SeriesTracker();
    const d = dev(3);
    const n = 100_005;
    const flows: FlowRecord[] = [];
    for (let i = 0; i < n; i++) {
      const f = flowTo('45.9.9.9', 1_000 + i, i);
      flows.push(f);
      t.add(f, d, null, GEO);
    }
    const [s] = [...t.values()];
    expect(s.totals).toEqual({
      flows: n,
      packets: flows.reduce((x, f) => x + f.src_pkts + f.dst_pkts, 0),
      bytes_out: flows.reduce((x, f) => x + f.src_bytes, 0),
      bytes_in: flows.reduce((x, f) => x + f.dst_bytes, 0),
      first_seen: 1_000,
      last_seen: flows.reduce((x, f) => Math.max(x, f.ts + f.duration), -Infinity),
    });
    expect(s.flows.map((f) => f.uid)).toEqual(flows.slice(0, 20).map((f) => f.uid));
    expect(s.starts).toHaveLength(100_000);
    expect(s.starts.slice(-1)).toEqual([1_000 + 99_999]);
    expect(s.sizes[7]).toBe(flows[7].src_bytes + flows[7].dst_bytes);
  });

  it('follows at most 5,000 destinations per device: a further one is not followed, followed ones still count, other devices are unaffected', () => {
    const t = new SeriesTracker();
    const [d, other] = [dev(4), dev(5)];
    for (let i = 0; i < 5_000; i++) t.add(flowTo(destIp(1, i), i, i), d, null, GEO);
    t.add(flowTo(destIp(1, 5_000), 6_000, 0), d, null, GEO);
    t.add(flowTo(destIp(1, 0), 6_001, 1), d, null, GEO);
    t.add(flowTo(destIp(1, 5_000), 6_002, 0), other, null, GEO);
    const mine = seriesOf(t, d);
    expect(mine).toHaveLength(5_000);
    expect(mine.some((s) => s.dstIp === destIp(1, 5_000))).toBe(false);
    expect(mine.find((s) => s.dstIp === destIp(1, 0))!.totals.flows).toBe(2);
    expect(seriesOf(t, other).map((s) => s.dstIp)).toEqual([destIp(1, 5_000)]);
  });

  it('past 25,000 series forgets the least recently updated down to 22,500, and frees the forgotten device\'s room for new destinations', () => {
    const t = new SeriesTracker();
    const devices = [0, 1, 2, 3, 4, 5].map((n) => dev(10 + n));
    let ts = 0;
    for (let n = 0; n < 5; n++) for (let i = 0; i < 5_000; i++) t.add(flowTo(destIp(n, i), ts++, i), devices[n], null, GEO);
    // The first device's first 100 destinations are updated again: now the most recent.
    for (let i = 0; i < 100; i++) t.add(flowTo(destIp(0, i), ts++, i), devices[0], null, GEO);
    // Full per device: a new destination of the first device is not followed.
    t.add(flowTo(destIp(0, 9_999), ts++, 0), devices[0], null, GEO);
    expect([...t.values()]).toHaveLength(25_000);
    // The 25,001st series makes room.
    t.add(flowTo(destIp(5, 0), ts++, 0), devices[5], null, GEO);
    const all = [...t.values()];
    expect(all).toHaveLength(22_501);
    const first = new Set(seriesOf(t, devices[0]).map((s) => s.dstIp));
    // Forgotten: the 2,500 least recently updated, the first device's destinations 100..2,599.
    expect(first.size).toBe(2_500);
    for (let i = 0; i < 100; i++) expect(first.has(destIp(0, i))).toBe(true);
    for (let i = 100; i < 2_600; i++) expect(first.has(destIp(0, i))).toBe(false);
    for (let i = 2_600; i < 5_000; i++) expect(first.has(destIp(0, i))).toBe(true);
    for (const d of devices.slice(1, 5)) expect(seriesOf(t, d)).toHaveLength(5_000);
    // The first device follows new destinations again.
    t.add(flowTo(destIp(0, 9_999), ts++, 0), devices[0], null, GEO);
    expect(seriesOf(t, devices[0]).some((s) => s.dstIp === destIp(0, 9_999))).toBe(true);
    // Filling up again never goes past 25,000.
    for (let i = 1; i < 5_000; i++) t.add(flowTo(destIp(5, i), ts++, i), devices[5], null, GEO);
    expect([...t.values()].length).toBeLessThanOrEqual(25_000);
  });
});

// abnormal-upload: a device that usually sends little sends 30 MB in one hour,
// among real corpus traffic and two look-alikes (a camera pushing 5 MB every
// hour, a steady 50 MB-an-hour uploader) and a burst under the floor, through
// the built CLI. Uploads are TCP segments as a capture on a host with
// segmentation offload records them (64 KB each, cut to their headers), so a
// day of uploads is a small file. The expected bytes, median and MAD are
// summed from the generated packets. With --state the history of one run
// judges the next.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AlertRecord } from '../../../../contract/types.js';
import { packet, TCP_FLAGS, tcpFrame, tcpSession, type Endpoint } from '../../../helpers/build.js';
import { phonehome } from '../../../helpers/cli.js';
import { alertsOf, capture, contractAlert, detectionsFile, tempDir } from '../../../helpers/detection.js';
import { rng, ROUTER, Scenario } from '../../../helpers/scenarios.js';
import type { TestPacket } from '../../../helpers/pcap.js';

const H = 3600;
const T0 = 1_700_006_400;
const dev = (n: number): Endpoint => ({ mac: `02:55:50:00:00:0${n}`, ip: `192.168.77.${210 + n}`, port: 20000 + n * 4000 });
const camera = dev(1);
const steady = dev(2);
const thief = dev(3);
const small = dev(4);
const CLOUD: Endpoint = { mac: ROUTER.mac, ip: '89.160.20.115', port: 443 };
const SEGMENT = 64_000;

/** Bytes each device sent to the Internet, per hour window, as generated. */
const sent = new Map<string, Map<number, number>>();
let port = 0;

function record(d: Endpoint, t: number, packets: TestPacket[]): TestPacket[] {
  const w = Math.floor(t / H) * H;
  const m = sent.get(d.mac) ?? new Map<number, number>();
  sent.set(d.mac, m);
  for (const p of packets) if (p.data.subarray(6, 12).equals(Buffer.from(d.mac.split(':').map((x) => parseInt(x, 16))))) m.set(w, (m.get(w) ?? 0) + p.wirelen);
  return packets;
}

/** One TCP connection from d uploading about `bytes` in 64 KB segments. */
function upload(s: Scenario, t: number, d: Endpoint, bytes: number): void {
  const c = { ...d, port: d.port + (port++ % 3000) };
  const [syn, synAck, ack, , , fin, finAck, last] = tcpSession(t, c, CLOUD);
  const data: TestPacket[] = [];
  for (let i = 0; i * SEGMENT < bytes; i++) {
    const f = tcpFrame(c, CLOUD, TCP_FLAGS.ACK | TCP_FLAGS.PSH, Buffer.alloc(SEGMENT), 1 + i * SEGMENT);
    const p = packet(t + 0.03 + i * 0.001, f.subarray(0, 54));
    p.wirelen = f.length;
    data.push(p);
  }
  const end = t + 0.05 + data.length * 0.001;
  s.packets.push(...record(d, t, [syn, synAck, ack, ...data, { ...fin, ...packet(end, fin.data) }, { ...finAck, ...packet(end + 0.01, finAck.data) }, { ...last, ...packet(end + 0.02, last.data) }]));
}

/** A small request (a heartbeat). */
function heartbeat(s: Scenario, t: number, d: Endpoint): void {
  s.packets.push(...record(d, t, tcpSession(t, { ...d, port: d.port + (port++ % 3000) }, CLOUD, Buffer.alloc(900, 1))));
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

let day = '';
let history = '';
let burst = '';
let dayAlerts: AlertRecord[] = [];

beforeAll(async () => {
  const r = rng(7);
  const s = new Scenario(T0, 24 * H);
  for (let h = 0; h < 24; h++) {
    const t = T0 + h * H;
    upload(s, t + 600 + r() * 600, camera, 5_000_000 * (0.98 + r() * 0.04));
    upload(s, t + 1300 + r() * 600, steady, 50_000_000 * (0.95 + r() * 0.1));
    for (let k = 0; k < 6; k++) {
      heartbeat(s, t + k * 600 + 30, thief);
      heartbeat(s, t + k * 600 + 90, small);
    }
    if (h === 20) upload(s, t + 2000, thief, 30_000_000);
    if (h === 21) upload(s, t + 2000, small, 8_000_000);
  }
  await s.background(['HueBridge', 'EdimaxCam1'], [300, 20 * H]);
  day = capture(s);
  // the thief's quiet hours alone, then the burst hour alone
  const quiet = new Scenario(T0, 20 * H);
  quiet.packets.push(...s.packets.filter((p) => p.tsSec < T0 + 20 * H && p.data.subarray(6, 12).toString('hex') === thief.mac.replaceAll(':', '')));
  history = capture(quiet);
  const loud = new Scenario(T0 + 20 * H, H);
  loud.packets.push(...s.packets.filter((p) => p.tsSec >= T0 + 20 * H && p.tsSec < T0 + 21 * H && p.data.subarray(6, 12).toString('hex') === thief.mac.replaceAll(':', '')));
  burst = capture(loud);
  dayAlerts = analyze(day);
}, 60_000);

function analyze(file: string, ...extra: string[]): AlertRecord[] {
  const out = tempDir('out');
  const r = phonehome(['analyze', file, '--out', out, '--no-profiles', ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return readFileSync(join(out, 'alerts.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AlertRecord);
}

describe('abnormal-upload', () => {
  it('flags the hour a quiet device sent 30 MB, with the window, median, MAD and z of its history', () => {
    const a = alertsOf(dayAlerts, 'abnormal-upload', thief.mac);
    expect(a).toHaveLength(1);
    const windows = sent.get(thief.mac)!;
    const start = T0 + 20 * H;
    const earlier = [...windows].filter(([w]) => w < start).map(([, b]) => b);
    expect(earlier).toHaveLength(20);
    const med = median(earlier);
    const mad = median(earlier.map((b) => Math.abs(b - med)));
    const bytes = windows.get(start)!;
    const z = (0.6745 * (bytes - med)) / Math.max(mad, 0.05 * med, 1);
    expect(a[0].evidence.upload).toEqual({ window_start: start, window_end: start + H, bytes, median: med, mad, z: Math.round(z * 100) / 100, floor: 10_000_000, windows: 20 });
    expect(bytes).toBeGreaterThan(30_000_000);
    expect(a[0].severity).toBe('high');
    expect(a[0].destination).toBeNull();
    // the alert's flow is the upload
    expect(a[0].evidence.bytes_out).toBeGreaterThan(30_000_000);
    expect(a[0].message).toMatch(/sent 30\.\d MB to the Internet from .* against a usual 0\.0 MB per 1 h/);
    expect(contractAlert(a[0]), JSON.stringify(contractAlert.errors)).toBe(true);
    expect(contractAlert({ ...a[0], evidence: { ...a[0].evidence, upload: { bytes: 1 } } })).toBe(false);
  });

  it('stays quiet for a camera uploading 5 MB every hour, a steady 50 MB-an-hour uploader, a burst under the floor and the corpus devices', () => {
    const alerts = dayAlerts.filter((a) => a.rule === 'abnormal-upload');
    expect(alerts.map((a) => a.device.mac)).toEqual([thief.mac]);
    // ground truth of the look-alikes: they did send what they were meant to
    expect(Math.min(...sent.get(steady.mac)!.values())).toBeGreaterThan(45_000_000);
    expect(Math.max(...sent.get(camera.mac)!.values())).toBeLessThan(10_000_000);
    expect(Math.max(...sent.get(small.mac)!.values())).toBeGreaterThan(8_000_000);
  });

  it('the floor is what keeps the small burst quiet, and the history what keeps the steady uploaders quiet', () => {
    const low = detectionsFile((doc) => (doc.rules['abnormal-upload'].floor_bytes = 1_000_000));
    const alerts = analyze(day, '--detections', low).filter((a) => a.rule === 'abnormal-upload');
    expect(alerts.map((a) => a.device.mac).sort()).toEqual([thief.mac, small.mac].sort());
  });

  it('with --state, the history learnt in one run judges the next; without it the burst alone is not judged', () => {
    const state = tempDir('state');
    expect(analyze(history, '--state', state).filter((a) => a.rule === 'abnormal-upload')).toEqual([]);
    const saved = JSON.parse(readFileSync(join(state, 'baseline.json'), 'utf8')).rules['abnormal-upload'][thief.mac];
    // 19 closed windows, the 20th still open at the end of the capture
    expect(saved.history).toHaveLength(19);
    expect(saved.window).toMatchObject({ start: T0 + 19 * H, raised: false });
    const a = alertsOf(analyze(burst, '--state', state), 'abnormal-upload', thief.mac);
    expect(a.map((x) => x.evidence.upload!.windows)).toEqual([20]);
    expect(analyze(burst).filter((x) => x.rule === 'abnormal-upload')).toEqual([]);
  });

  it('the same alert with --workers 2', () => {
    const one = dayAlerts.filter((a) => a.rule === 'abnormal-upload');
    expect(analyze(day, '--workers', '2').filter((a) => a.rule === 'abnormal-upload')).toEqual(one);
  });
});

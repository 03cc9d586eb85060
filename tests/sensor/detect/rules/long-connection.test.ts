// long-connection: outbound connections open an hour or more, planted in real
// corpus background for several seeds: one kept busy by keep-alives (one
// flow), one that goes quiet past the TCP idle timeout between bursts (the
// table cuts it into pieces; they are one connection). Quiet: a 50-minute
// connection, a long local one, many short ones to one server, NTP polls
// from one port for two hours, and a long one to a destination the
// device's profile documents.
import { beforeAll, describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../../../contract/types.js';
import { packet, TCP_FLAGS, tcpFrame, tcpSession, udpFrame, type Endpoint } from '../../../helpers/build.js';
import { corpusAvailable } from '../../../helpers/corpus.js';
import { COUNTRY_DB, detectionsFile, profilesDir } from '../../../helpers/detection.js';
import { analyzeOut, corpusBackground, writeCapture, type Analysis } from '../../../helpers/plant.js';
import type { TestPacket } from '../../../helpers/pcap.js';
import { rng, ROUTER } from '../../../helpers/scenarios.js';

const T0 = 1_700_000_000;
const dev = (n: number): Endpoint => ({ mac: `02:10:00:00:00:0${n}`, ip: `192.168.77.${80 + n}`, port: 44000 + n });
const keeper = dev(1);
const sleeper = dev(2);
const short = dev(3);
const localOnly = dev(4);
const many = dev(5);
const ntp = dev(6);
const documented = dev(7);
const { SYN, ACK, PSH, FIN } = TCP_FLAGS;
const inet = (ip: string, port: number): Endpoint => ({ mac: ROUTER.mac, ip, port });
const C2 = inet('89.160.20.115', 8883);

/** A TCP connection from `c` to `s` from t0 to t0 + length, sending a small segment each way at the given times after t0. */
function longTcp(out: TestPacket[], t0: number, c: Endpoint, s: Endpoint, at: number[], length: number): void {
  out.push(packet(t0, tcpFrame(c, s, SYN)), packet(t0 + 0.01, tcpFrame(s, c, SYN | ACK)), packet(t0 + 0.02, tcpFrame(c, s, ACK)));
  for (const x of at) out.push(packet(t0 + x, tcpFrame(c, s, PSH | ACK, Buffer.alloc(40, 1))), packet(t0 + x + 0.05, tcpFrame(s, c, PSH | ACK, Buffer.alloc(60, 2))));
  out.push(packet(t0 + length, tcpFrame(c, s, FIN | ACK)), packet(t0 + length + 0.01, tcpFrame(s, c, FIN | ACK)), packet(t0 + length + 0.02, tcpFrame(c, s, ACK)));
}

const every = (step: number, until: number, jitter: () => number) => {
  const out: number[] = [];
  for (let x = step; x < until; x += step) out.push(x - jitter());
  return out;
};

interface Truth {
  keeperLength: number;
  sleeperLength: number;
}

function plant(seed: number, out: TestPacket[]): Truth {
  const r = rng(seed * 65537);
  const j = () => r() * 5;
  // 1. 70-100 minutes, a keep-alive every minute: one flow
  const keeperLength = 4200 + Math.floor(r() * 1800);
  longTcp(out, T0 + 10, keeper, C2, every(60, keeperLength, j), keeperLength);
  // 2. about two hours, a burst every 10-15 minutes: quiet past the 300 s TCP timeout each time
  const sleeperLength = 6600 + Math.floor(r() * 1200);
  longTcp(out, T0 + 20, sleeper, inet('216.160.83.57', 443), every(600 + Math.floor(r() * 300), sleeperLength, j), sleeperLength);
  return { keeperLength, sleeperLength };
}

function lookAlikes(out: TestPacket[]): void {
  const j = () => 0;
  longTcp(out, T0 + 30, short, C2, every(60, 3000, j), 3000);
  longTcp(out, T0 + 40, localOnly, { mac: '02:11:00:00:00:01', ip: '192.168.77.5', port: 554 }, every(30, 7200, j), 7200);
  for (let t = 0; t < 7200; t += 120) out.push(...tcpSession(T0 + 50 + t, { ...many, port: 30000 + t / 120 }, C2));
  const pool = inet('81.2.69.150', 123);
  for (let t = 0; t < 7200; t += 64) out.push(packet(T0 + 60 + t, udpFrame({ ...ntp, port: 123 }, pool, Buffer.alloc(48, 0x23))), packet(T0 + 60.05 + t, udpFrame(pool, { ...ntp, port: 123 }, Buffer.alloc(48, 0x24))));
  longTcp(out, T0 + 70, documented, inet('81.2.69.151', 8883), every(60, 7200, j), 7200);
}

const PROFILE = `profile: acme-hub
match:
  mac: ["${documented.mac}"]
documented:
  - cidr: 81.2.69.144/28
    proto: tcp
    ports: [8883]
`;

const of = (a: Analysis) => a.alerts.filter((x) => x.rule === 'long-connection');
const SEEDS = [1, 2, 3];
const runs = new Map<number, { truth: Truth; run: Analysis }>();
let profiles = '';

describe.skipIf(!corpusAvailable())('long-connection', () => {
  beforeAll(async () => {
    profiles = profilesDir({ 'acme-hub.yaml': PROFILE });
    for (const seed of SEEDS) {
      const packets = await corpusBackground(seed + 20, 4, T0, 7200);
      const truth = plant(seed, packets);
      lookAlikes(packets);
      runs.set(seed, { truth, run: analyzeOut(writeCapture(packets), ['--geoip', COUNTRY_DB, '--profiles', profiles]) });
    }
  }, 180_000);

  it.each(SEEDS)('seed %i: the kept-alive connection and the one cut into idle pieces, each one alert with its whole duration and bytes', (seed) => {
    const { truth, run } = runs.get(seed)!;
    const alerts = of(run);
    expect(alerts.map((a) => a.device.mac).sort()).toEqual([keeper.mac, sleeper.mac]);
    const flowsOf = (d: Endpoint): FlowRecord[] => run.flows.filter((f) => f.src_mac === d.mac);
    const check = (d: Endpoint, length: number, pieces: number) => {
      const a = alerts.find((x) => x.device.mac === d.mac)!;
      const flows = flowsOf(d);
      expect(flows).toHaveLength(pieces);
      expect(a.evidence.connection).toEqual({
        duration_s: Math.round((length + 0.02) * 1000) / 1000,
        started: flows[0].ts,
        bytes_out: flows.reduce((n, f) => n + f.src_bytes, 0),
        bytes_in: flows.reduce((n, f) => n + f.dst_bytes, 0),
        pieces,
      });
      expect(a.evidence.uids).toEqual(flows.map((f) => f.uid));
      expect(a.destination).toMatchObject({ ip: flows[0].dst_ip, port: flows[0].dst_port, proto: 'tcp' });
      return a;
    };
    const k = check(keeper, truth.keeperLength, 1);
    expect(k.message).toContain(`open for ${(truth.keeperLength / 3600).toFixed(1)} h`);
    // bursts more than 300 s apart: the table ends the flow at each quiet spell, and the next burst resumes it without a handshake
    const pieces = flowsOf(sleeper);
    expect(pieces.length).toBeGreaterThan(5);
    expect(pieces.slice(1).every((f) => f.mid_stream)).toBe(true);
    expect(pieces.slice(0, -1).every((f) => f.end_reason === 'idle')).toBe(true);
    check(sleeper, truth.sleeperLength, pieces.length);
  });

  it('the look-alikes happened as planted and stayed quiet', () => {
    const { run } = runs.get(1)!;
    const longest = (d: Endpoint) => Math.max(...run.flows.filter((f) => f.src_mac === d.mac).map((f) => f.duration));
    expect(longest(short)).toBeCloseTo(3000, 0);
    expect(longest(localOnly)).toBeCloseTo(7200, 0);
    expect(run.flows.filter((f) => f.src_mac === many.mac)).toHaveLength(60);
    expect(run.flows.filter((f) => f.src_mac === ntp.mac).length).toBeGreaterThan(100);
    expect(longest(documented)).toBeCloseTo(7200, 0);
    expect(of(run).filter((a) => ![keeper.mac, sleeper.mac].includes(a.device.mac!))).toEqual([]);
  });

  it('report_documented reports the documented one too, and min_duration_s moves the bar', () => {
    const packets: TestPacket[] = [];
    plant(1, packets);
    lookAlikes(packets);
    const file = writeCapture(packets);
    const withDoc = detectionsFile((doc) => (doc.rules['long-connection'].report_documented = true));
    const macs = (a: Analysis) => of(a).map((x) => x.device.mac).sort();
    expect(macs(analyzeOut(file, ['--geoip', COUNTRY_DB, '--profiles', profiles, '--detections', withDoc]))).toEqual([keeper.mac, sleeper.mac, documented.mac].sort());
    const lower = detectionsFile((doc) => (doc.rules['long-connection'].min_duration_s = 2400));
    expect(macs(analyzeOut(file, ['--geoip', COUNTRY_DB, '--profiles', profiles, '--detections', lower]))).toEqual([keeper.mac, sleeper.mac, short.mac].sort());
  });
});

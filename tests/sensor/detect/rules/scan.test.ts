// scan: planted scans (a Telnet sweep of the Internet, a port scan of a local
// host) and benign look-alikes (NTP pool servers over an hour, a hub polling
// its bulbs, multicast groups, several resolvers, an app opening many named
// servers) in real corpus background, for several seeds; each alert is
// checked against what was planted, with its counts. And the bench's scan
// flood with room for few flows: every flow out, every target counted.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: the bench's flood generator is plain JavaScript
import { writeDestinations, writeScan } from '../../../../bench/floods.mjs';
import type { AlertRecord } from '../../../../contract/types.js';
import { dnsResponse, packet, TCP_FLAGS, tcpFrame, tcpSession, udpFrame, type Endpoint } from '../../../helpers/build.js';
import { corpusAvailable, GEOIP_DIR } from '../../../helpers/corpus.js';
import { analyzeOut, corpusBackground, writeCapture, type Analysis } from '../../../helpers/plant.js';
import type { TestPacket } from '../../../helpers/pcap.js';
import { rng, ROUTER } from '../../../helpers/scenarios.js';

const T0 = 1_700_000_000;
const GEO = ['--geoip', `${GEOIP_DIR}/GeoLite2-Country-Test.mmdb`, '--no-profiles'];
const dev = (n: number): Endpoint => ({ mac: `02:5c:00:00:00:${String(n).padStart(2, '0')}`, ip: `192.168.77.${40 + n}`, port: 40000 });
const bot = dev(1);
const prober = dev(2);
const ntp = dev(3);
const hub = dev(4);
const caster = dev(5);
const dnsUser = dev(6);
const app = dev(7);
const { SYN, ACK, RST } = TCP_FLAGS;
const inet = (ip: string, port: number): Endpoint => ({ mac: ROUTER.mac, ip, port });
const local = (ip: string, port: number, n: number): Endpoint => ({ mac: `02:5d:00:00:00:${String(n).padStart(2, '0')}`, ip, port });

/** A public address from the seed's stream (never a special range). */
function publicIp(r: () => number): string {
  const a = [5, 31, 37, 46, 62, 77, 78, 80, 85, 91][Math.floor(r() * 10)];
  return `${a}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}.${1 + Math.floor(r() * 254)}`;
}

/** A SYN answered as `how` says: unanswered (S0), refused (REJ), or a session with data (SF). */
function attempt(out: TestPacket[], t: number, from: Endpoint, to: Endpoint, how: 'S0' | 'REJ' | 'SF'): void {
  if (how === 'SF') out.push(...tcpSession(t, from, to));
  else {
    out.push(packet(t, tcpFrame(from, to, SYN)));
    if (how === 'REJ') out.push(packet(t + 0.01, tcpFrame(to, from, RST | ACK)));
  }
}

interface Truth {
  /** distinct hosts the bot reached on 23, and how many of its attempts failed */
  telnetHosts: Set<string>;
  telnetFailed: number;
  /** ports of the probed host, and failed attempts */
  probedPorts: number;
  probeFailed: number;
}

const PROBED = local('192.168.77.5', 0, 1);

function plant(seed: number, out: TestPacket[]): Truth {
  const r = rng(seed * 7919);
  const truth: Truth = { telnetHosts: new Set(), telnetFailed: 0, probedPorts: 0, probeFailed: 0 };
  // 1. a Mirai-style Telnet sweep: 30-60 random Internet hosts on 23 in two minutes, most silent, some refusing, a few answering
  const n = 30 + Math.floor(r() * 30);
  for (let i = 0; i < n; i++) {
    const ip = publicIp(r);
    const how = r() < 0.7 ? 'S0' : r() < 0.7 ? 'REJ' : 'SF';
    attempt(out, T0 + 60 + i * (120 / n), { ...bot, port: 20000 + i }, inet(ip, 23), how);
    if (truth.telnetHosts.has(ip)) continue;
    truth.telnetHosts.add(ip);
    if (how !== 'SF') truth.telnetFailed++;
  }
  // ... and a few on 2323, too few for an alert of their own
  for (let i = 0; i < 5; i++) attempt(out, T0 + 70 + i, { ...bot, port: 21000 + i }, inet(publicIp(r), 2323), 'S0');
  // 2. a port scan of a local host: 16-40 ports in a minute, most refused, a few open
  const ports = 16 + Math.floor(r() * 25);
  for (let i = 0; i < ports; i++) {
    const how = r() < 0.8 ? 'REJ' : 'SF';
    attempt(out, T0 + 200 + i * (60 / ports), { ...prober, port: 22000 + i }, { ...PROBED, port: 1 + i * 37 }, how);
    if (how === 'REJ') truth.probeFailed++;
  }
  truth.probedPorts = ports;
  return truth;
}

/** What must not raise a scan alert, however many hosts or ports it touches over time. */
function lookAlikes(seed: number, out: TestPacket[]): void {
  const r = rng(seed * 104729);
  // NTP: 40 pool servers over an hour (never more than 3 in 5 minutes), answered; half resolved first, half not
  for (let i = 0; i < 40; i++) {
    const t = T0 + i * 90;
    const server = inet(publicIp(r), 123);
    if (i % 2 === 0) out.push(packet(t - 0.5, udpFrame(ROUTER, { ...ntp, port: 5353 }, dnsResponse(100 + i, 'pool.ntp.org', [server.ip]))));
    out.push(packet(t, udpFrame({ ...ntp, port: 123 }, server, Buffer.alloc(48, 0x23))), packet(t + 0.05, udpFrame(server, { ...ntp, port: 123 }, Buffer.alloc(48, 0x24))));
  }
  // a hub polling 20 local bulbs over HTTP every minute for ten minutes
  for (let m = 0; m < 10; m++) {
    for (let b = 0; b < 20; b++) out.push(...tcpSession(T0 + 30 + m * 60 + b * 0.5, { ...hub, port: 30000 + m * 20 + b }, local(`192.168.77.${100 + b}`, 80, 10 + b)));
  }
  // mDNS, SSDP, DHCP and 30 multicast groups on one port: groups reach every host, they scan none
  for (let g = 0; g < 30; g++) out.push(packet(T0 + 40 + g, udpFrame({ ...caster, port: 1900 }, { mac: '01:00:5e:7f:00:01', ip: `239.255.0.${g + 1}`, port: 1900 }, Buffer.from('M-SEARCH * HTTP/1.1\r\n\r\n'))));
  out.push(packet(T0 + 80, udpFrame({ ...caster, port: 5353 }, { mac: '01:00:5e:00:00:fb', ip: '224.0.0.251', port: 5353 }, Buffer.alloc(40))));
  out.push(packet(T0 + 81, udpFrame({ ...caster, port: 68 }, { mac: 'ff:ff:ff:ff:ff:ff', ip: '255.255.255.255', port: 67 }, Buffer.alloc(300))));
  // several resolvers, asked again and again
  const resolvers = ['8.8.8.8', '8.8.4.4', '1.1.1.1', '1.0.0.1', '9.9.9.9', '208.67.222.222'];
  for (let i = 0; i < 60; i++) {
    const s = inet(resolvers[i % resolvers.length], 53);
    out.push(packet(T0 + 20 + i * 3, udpFrame({ ...dnsUser, port: 50000 + i }, s, Buffer.alloc(30, 1))), packet(T0 + 20.02 + i * 3, udpFrame(s, { ...dnsUser, port: 50000 + i }, Buffer.alloc(60, 2))));
  }
  // an app opening 40 servers on 443 in three minutes, each named by a DNS answer first (the corpus's phones do this)
  for (let i = 0; i < 40; i++) {
    const s = inet(publicIp(r), 443);
    const t = T0 + 100 + i * 4;
    out.push(packet(t - 0.2, udpFrame(ROUTER, { ...app, port: 5353 }, dnsResponse(300 + i, `api${i}.cdn.example`, [s.ip]))));
    attempt(out, t, { ...app, port: 41000 + i }, s, r() < 0.5 ? 'S0' : 'SF');
  }
}

const of = (a: Analysis) => a.alerts.filter((x) => x.rule === 'scan');
const SEEDS = [1, 2, 3];
const runs = new Map<number, { truth: Truth; one: Analysis; two: Analysis }>();

describe.skipIf(!corpusAvailable())('scan', () => {
  beforeAll(async () => {
    for (const seed of SEEDS) {
      const packets = await corpusBackground(seed, 3, T0, 600);
      const truth = plant(seed, packets);
      lookAlikes(seed, packets);
      const file = writeCapture(packets);
      runs.set(seed, { truth, one: analyzeOut(file, GEO), two: analyzeOut(file, [...GEO, '--workers', '2']) });
    }
  }, 180_000);

  it.each(SEEDS)('seed %i: one Telnet alert for the sweep and one for the port scan, with their counts, and nothing else', (seed) => {
    const { truth, one } = runs.get(seed)!;
    const alerts = of(one);
    expect(alerts.map((a) => [a.device.mac, a.evidence.scan?.kind]).sort()).toEqual([[bot.mac, 'hosts'], [prober.mac, 'ports']]);
    const telnet = alerts.find((a) => a.device.mac === bot.mac)!;
    expect(telnet.evidence.scan).toMatchObject({ kind: 'hosts', port: 23, proto: 'tcp', host: null, targets: truth.telnetHosts.size, estimated: false, attempts: truth.telnetHosts.size, failed: truth.telnetFailed, window_s: 300, threshold: 25, telnet: true });
    expect(telnet.evidence.scan!.sample).toHaveLength(10);
    for (const ip of telnet.evidence.scan!.sample) expect(truth.telnetHosts.has(ip)).toBe(true);
    expect(telnet.message).toContain('Telnet');
    expect(telnet.destination).toMatchObject({ ip: null, port: 23, proto: 'tcp' });
    // every attempt on 23 is evidence, and only those
    const sweep = one.flows.filter((f) => f.src_mac === bot.mac && f.dst_port === 23);
    expect(telnet.evidence.flows).toBe(sweep.length);
    expect(new Set(telnet.evidence.uids)).toEqual(new Set(sweep.slice(0, 100).map((f) => f.uid)));
    const probe = alerts.find((a) => a.device.mac === prober.mac)!;
    expect(probe.evidence.scan).toMatchObject({ kind: 'ports', host: PROBED.ip, port: null, targets: truth.probedPorts, attempts: truth.probedPorts, failed: truth.probeFailed, threshold: 15, telnet: false });
    expect(probe.destination?.ip).toBe(PROBED.ip);
    expect(probe.mitre.map((m) => m.technique)).toEqual(['T1046', 'T1595']);
  });

  it.each(SEEDS)('seed %i: the same alerts with --workers 2', (seed) => {
    const { one, two } = runs.get(seed)!;
    expect(of(two)).toEqual(of(one));
  });

  it('the look-alikes did happen as planted (many NTP servers, 20 bulbs, 30 groups, 6 resolvers, 40 named servers)', () => {
    const { one } = runs.get(1)!;
    const dsts = (d: Endpoint, port: number) => new Set(one.flows.filter((f) => f.src_mac === d.mac && f.dst_port === port).map((f) => f.dst_ip)).size;
    expect([dsts(ntp, 123), dsts(hub, 80), dsts(caster, 1900), dsts(dnsUser, 53), dsts(app, 443)]).toEqual([40, 20, 30, 6, 40]);
  });
});

describe.skipIf(!corpusAvailable())('scan of very many addresses', () => {
  it('a sweep of 30,000 addresses with room for 1,000 flows is one alert counting every one of them', async () => {
    const packets = await corpusBackground(9, 2, T0, 300);
    const n = 30_000;
    const hosts = new Set<string>();
    for (let i = 0; i < n; i++) {
      const ip = `${45 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.7`;
      hosts.add(ip);
      packets.push(packet(T0 + i * 0.005, tcpFrame({ ...bot, port: 1024 + (i % 60000) }, inet(ip, 23), SYN)));
    }
    const run = analyzeOut(writeCapture(packets), [...GEO, '--max-flows', '1000']);
    const alerts = of(run);
    expect(alerts).toHaveLength(1);
    expect(alerts[0].evidence.scan).toMatchObject({ kind: 'hosts', port: 23, targets: hosts.size, attempts: n, failed: n, estimated: false, telnet: true });
    expect(alerts[0].evidence.flows).toBe(n);
    // the table evicted flows to make room: the whole sweep never sat in memory at once
    expect(run.flows.filter((f) => f.src_mac === bot.mac && f.end_reason === 'evicted').length).toBeGreaterThan(n / 2);
  }, 120_000);
});

describe("the bench's scan flood, with room for few flows", () => {
  it('emits every flow, and its scan alerts count exactly the generated targets, itemised up to the per-device bound and rolled up beyond', () => {
    // 30 hosts x ports 1-1000, one SYN each from its own source port, 0.2 ms apart (bench/floods.mjs, deterministic)
    const file = join(mkdtempSync(join(tmpdir(), 'phonehome-scan-flood-')), 'scan.pcap');
    const truth = writeScan(file, 30_000) as { packets: number; flows: number };
    // tshark is the oracle of what the capture holds: 30,000 SYNs to distinct host/port pairs
    const syns = execFileSync('tshark', ['-r', file, '-Y', 'tcp.flags.syn == 1 && tcp.flags.ack == 0', '-T', 'fields', '-e', 'ip.dst', '-e', 'tcp.dstport'], { encoding: 'utf8', maxBuffer: 1 << 26 });
    const pairs = new Set(syns.trim().split('\n'));
    expect(pairs.size).toBe(truth.flows);

    const small = analyzeOut(file, ['--no-profiles', '--max-flows', '1000']);
    expect(small.flows).toHaveLength(truth.flows);
    expect(new Set(small.flows.map((f) => f.uid)).size).toBe(truth.flows);
    expect(new Set(small.flows.map((f) => `${f.dst_ip}\t${f.dst_port}`))).toEqual(pairs);
    // the table had to evict to make room, and detection saw the same as with the default room
    expect(small.flows.filter((f) => f.end_reason === 'evicted').length).toBeGreaterThan(truth.flows / 2);
    expect(small.alerts).toEqual(analyzeOut(file, ['--no-profiles']).alerts);

    const scans = small.alerts.filter((a) => a.rule === 'scan');
    const itemised = scans.filter((a) => a.evidence.scan !== undefined);
    const rolledUp = scans.filter((a) => a.evidence.scan === undefined);
    // 1,000 ports each on 30 hosts and 30 hosts each on 1,000 ports could make 1,030 alerts: 500 per device are itemised, one alert counts the rest
    expect(itemised).toHaveLength(500);
    expect(rolledUp).toHaveLength(1);
    for (const a of itemised) {
      const s = a.evidence.scan!;
      if (s.kind === 'hosts') expect([s.port! >= 1 && s.port! <= 1000, s.targets, s.attempts, s.estimated]).toEqual([true, 30, 30, false]);
      else expect([s.host!.startsWith('52.0.0.'), s.targets, s.attempts, s.estimated]).toEqual([true, 1000, 1000, false]);
    }
    // every SYN counted once as a host on its port and once as a port of its host
    expect(scans.reduce((n, a) => n + a.evidence.flows, 0)).toBe(2 * truth.flows);
  }, 120_000);
});

describe("the bench's destination flood, past the rule's bound on trackers", () => {
  it('60,000 addresses on one port from one device (three times the trackers the rule keeps) are one scan alert counting every address and every flow', () => {
    // one device, 60,000 two-packet UDP flows to distinct Internet addresses on port 443 (bench/floods.mjs, deterministic)
    const file = join(mkdtempSync(join(tmpdir(), 'phonehome-destination-flood-')), 'destinations.pcap');
    const truth = writeDestinations(file, 60_000) as { packets: number; flows: number };
    const run = analyzeOut(file, ['--no-profiles']);
    expect(run.flows).toHaveLength(truth.flows);
    const scans = run.alerts.filter((a) => a.rule === 'scan');
    expect(scans).toHaveLength(1);
    // addresses ending in .255 are Internet hosts too: every flow is an attempt
    expect(scans[0].evidence.scan).toMatchObject({ kind: 'hosts', port: 443, proto: 'udp', targets: truth.flows, attempts: truth.flows, failed: 0, estimated: false });
    expect(scans[0].evidence.flows).toBe(truth.flows);
  }, 120_000);
});

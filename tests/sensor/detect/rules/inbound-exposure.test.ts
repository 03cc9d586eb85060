// inbound-exposure: sessions Internet hosts opened to local devices and the
// devices accepted (a TCP handshake completed with data both ways, a UDP
// exchange on a port the device never sent from), planted in real corpus
// background for several seeds, beside what must stay quiet: SYNs refused
// (REJ) or unanswered (S0), a handshake where only the remote spoke, the
// device's own outbound sessions, replies to its own UDP session after the
// flow timed out, and a session whose start was not seen.
import { beforeAll, describe, expect, it } from 'vitest';
import { packet, TCP_FLAGS, tcpFrame, tcpSession, udpFrame, type Endpoint } from '../../../helpers/build.js';
import { corpusAvailable } from '../../../helpers/corpus.js';
import { ASN_DB, COUNTRY_DB, detectionsFile, sourceRecord } from '../../../helpers/detection.js';
import { analyzeOut, corpusBackground, writeCapture, type Analysis } from '../../../helpers/plant.js';
import type { TestPacket } from '../../../helpers/pcap.js';
import { rng, ROUTER } from '../../../helpers/scenarios.js';

const T0 = 1_700_000_000;
const ARGS = ['--geoip', COUNTRY_DB, '--geoip', ASN_DB, '--no-profiles'];
const dev = (n: number, port: number): Endpoint => ({ mac: `02:1e:00:00:00:0${n}`, ip: `192.168.77.${60 + n}`, port });
const exposed = dev(1, 22);
const udpServer = dev(2, 5000);
const quiet = dev(3, 23);
const { SYN, ACK, RST, PSH, FIN } = TCP_FLAGS;
const inet = (ip: string, port: number): Endpoint => ({ mac: ROUTER.mac, ip, port });
// 89.160.20.112/28 is Swedish (AS29518) and 216.160.83.56/29 American (AS209) in MaxMind's test databases.
const REMOTE_A = '89.160.20.115';
const REMOTE_B = '216.160.83.57';

interface Truth {
  /** uids are unknown before the run: the planted accepted sessions by remote and local port */
  ssh: { remote: string; t: number }[];
  udp: number;
}

function plant(seed: number, out: TestPacket[]): Truth {
  const r = rng(seed * 31337);
  const ssh: Truth['ssh'] = [];
  // 1. SSH sessions from two Internet hosts to one device, accepted, data both ways
  const n = 2 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const remote = i % 2 === 0 ? REMOTE_A : REMOTE_B;
    const t = T0 + 30 + i * (100 + r() * 50);
    out.push(...tcpSession(t, inet(remote, 50000 + i), exposed, Buffer.from('SSH-2.0-client\r\n'), Buffer.from('SSH-2.0-dropbear\r\n')));
    ssh.push({ remote, t });
  }
  // 2. UDP: an Internet host talks to a port the device never sent from, and the device answers
  const u = 1 + Math.floor(r() * 3);
  for (let i = 0; i < u; i++) {
    const t = T0 + 400 + i * 90;
    out.push(packet(t, udpFrame(inet(REMOTE_A, 40000 + i), udpServer, Buffer.from('hello'))), packet(t + 0.02, udpFrame(udpServer, inet(REMOTE_A, 40000 + i), Buffer.from('welcome'))));
  }
  return { ssh, udp: u };
}

function lookAlikes(out: TestPacket[]): void {
  const t = T0 + 20;
  // a SYN refused (REJ) and one unanswered (S0)
  out.push(packet(t, tcpFrame(inet(REMOTE_A, 51000), quiet, SYN)), packet(t + 0.01, tcpFrame(quiet, inet(REMOTE_A, 51000), RST | ACK)));
  out.push(packet(t + 1, tcpFrame(inet(REMOTE_B, 51001), { ...quiet, port: 2323 }, SYN)));
  // a handshake the device completed where only the remote sent data (a probe the device never answered)
  const p = inet(REMOTE_B, 51002);
  const q = { ...quiet, port: 8080 };
  out.push(packet(t + 2, tcpFrame(p, q, SYN)), packet(t + 2.01, tcpFrame(q, p, SYN | ACK)), packet(t + 2.02, tcpFrame(p, q, ACK)));
  out.push(packet(t + 2.03, tcpFrame(p, q, PSH | ACK, Buffer.from('GET / HTTP/1.0\r\n\r\n'))), packet(t + 2.04, tcpFrame(q, p, ACK)));
  out.push(packet(t + 2.05, tcpFrame(p, q, FIN | ACK)), packet(t + 2.06, tcpFrame(q, p, FIN | ACK)), packet(t + 2.07, tcpFrame(p, q, ACK)));
  // the device's own outbound sessions
  for (let i = 0; i < 3; i++) out.push(...tcpSession(t + 10 + i, { ...quiet, port: 45000 + i }, inet(REMOTE_A, 443)));
  // its own UDP session: it sends from 46000, goes quiet past the UDP timeout, then the server speaks first and the device answers
  const stun = inet(REMOTE_B, 3478);
  const mine = { ...quiet, port: 46000 };
  out.push(packet(t + 20, udpFrame(mine, stun, Buffer.alloc(20, 1))), packet(t + 20.05, udpFrame(stun, mine, Buffer.alloc(32, 2))));
  out.push(packet(t + 200, udpFrame(stun, mine, Buffer.alloc(32, 3))), packet(t + 200.05, udpFrame(mine, stun, Buffer.alloc(20, 4))));
  // a session from the Internet whose start was not seen (data both ways, no SYN)
  const m = inet(REMOTE_A, 52000);
  const mq = { ...quiet, port: 9000 };
  out.push(packet(t + 30, tcpFrame(m, mq, PSH | ACK, Buffer.from('mid'))), packet(t + 30.01, tcpFrame(mq, m, PSH | ACK, Buffer.from('stream'))));
}

const of = (a: Analysis) => a.alerts.filter((x) => x.rule === 'inbound-exposure');
const SEEDS = [1, 2, 3];
const runs = new Map<number, { truth: Truth; run: Analysis }>();

describe.skipIf(!corpusAvailable())('inbound-exposure', () => {
  beforeAll(async () => {
    for (const seed of SEEDS) {
      const packets = await corpusBackground(seed + 10, 3, T0, 600);
      const truth = plant(seed, packets);
      lookAlikes(packets);
      runs.set(seed, { truth, run: analyzeOut(writeCapture(packets), ARGS) });
    }
  }, 180_000);

  it.each(SEEDS)('seed %i: one alert for the SSH port with every accepting session and both remotes, one for the UDP port, nothing else', (seed) => {
    const { truth, run } = runs.get(seed)!;
    const alerts = of(run);
    expect(alerts.map((a) => [a.device.mac, a.device.ip, a.destination?.port, a.destination?.proto]).sort()).toEqual([
      [exposed.mac, exposed.ip, 22, 'tcp'],
      [udpServer.mac, udpServer.ip, 5000, 'udp'],
    ]);
    const ssh = alerts.find((a) => a.device.mac === exposed.mac)!;
    const planted = run.flows.filter((f) => f.dst_ip === exposed.ip && f.dst_port === 22);
    expect(planted.map((f) => [f.src_ip, f.state])).toEqual(truth.ssh.map((s) => [s.remote, 'SF']));
    expect(ssh.evidence.uids).toEqual(planted.map((f) => f.uid));
    expect(ssh.evidence.bytes_out).toBe(planted.reduce((n, f) => n + f.src_bytes, 0));
    const a = sourceRecord('GeoLite2-Country-Test', '89.160.20.112/28').country.iso_code;
    const asn = sourceRecord('GeoLite2-ASN-Test', '89.160.20.112/29');
    expect(ssh.destination).toMatchObject({ ip: REMOTE_A, country: a, asn: asn.autonomous_system_number, as_org: asn.autonomous_system_organization });
    const remotes = [...new Set(truth.ssh.map((s) => s.remote))];
    expect(ssh.evidence.inbound).toMatchObject({ local_port: 22, proto: 'tcp', remote_count: remotes.length });
    expect(ssh.evidence.inbound!.remotes.map((r) => r.ip)).toEqual(remotes);
    expect(ssh.evidence.inbound!.remotes[0]).toEqual({ ip: REMOTE_A, country: a, asn: asn.autonomous_system_number, as_org: asn.autonomous_system_organization });
    if (remotes.length > 1) {
      const b = sourceRecord('GeoLite2-Country-Test', '216.160.83.56/29').country.iso_code;
      expect(ssh.evidence.inbound!.remotes[1]).toMatchObject({ ip: REMOTE_B, country: b, asn: 209 });
    }
    expect(ssh.message).toContain(`${REMOTE_A} (${a}, AS29518) opened a session to`);
    const udp = alerts.find((x) => x.device.mac === udpServer.mac)!;
    expect(udp.evidence.flows).toBe(truth.udp);
    expect(udp.evidence.inbound).toMatchObject({ local_port: 5000, proto: 'udp', remote_count: 1 });
  });

  it('the look-alikes happened as planted: REJ, S0, a one-sided session, outbound sessions, a resumed UDP session, a mid-stream piece', () => {
    const { run } = runs.get(1)!;
    const flows = run.flows.filter((f) => f.src_ip === quiet.ip || f.dst_ip === quiet.ip);
    const inbound = flows.filter((f) => f.dst_ip === quiet.ip).map((f) => [f.proto, f.dst_port, f.state, f.mid_stream]);
    expect(inbound.sort()).toEqual([
      ['tcp', 23, 'REJ', false],
      ['tcp', 2323, 'S0', false],
      ['tcp', 8080, 'SF', false],
      ['tcp', 9000, 'OTH', true],
      ['udp', 46000, 'SF', false],
    ]);
    expect(flows.filter((f) => f.src_ip === quiet.ip).map((f) => [f.proto, f.dst_port])).toEqual([['tcp', 443], ['tcp', 443], ['tcp', 443], ['udp', 3478]]);
    expect(of(run).filter((a) => a.device.mac === quiet.mac)).toEqual([]);
  });

  it('ignore_ports silences an exposed port on purpose', () => {
    const file = detectionsFile((doc) => (doc.rules['inbound-exposure'].ignore_ports = [22]));
    const packets: TestPacket[] = [];
    plant(1, packets);
    const alerts = of(analyzeOut(writeCapture(packets), [...ARGS, '--detections', file]));
    expect(alerts.map((a) => a.destination?.port)).toEqual([5000]);
  });
});

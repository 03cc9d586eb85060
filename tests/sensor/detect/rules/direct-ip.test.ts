// direct-ip: a device connecting to an address no DNS answer gave it before
// the connection. Planted devices, one behaviour each, in one capture with
// real background traffic; every alert is checked against what was planted.
import { beforeAll, describe, expect, it } from 'vitest';
import type { AlertRecord } from '../../../../contract/types.js';
import { dnsResponse, packet, udpFrame, type Endpoint } from '../../../helpers/build.js';
import { alertsOf, capture, COUNTRY_DB, detectionsFile, profilesDir, runPipeline, sourceRecord, type PipelineRun } from '../../../helpers/detection.js';
import { ping } from '../../../helpers/frames.js';
import { ROUTER, Scenario } from '../../../helpers/scenarios.js';

const T0 = 1_700_000_000;
const dev = (n: number): Endpoint => ({ mac: `02:d1:00:00:00:0${n}`, ip: `192.168.77.${20 + n}`, port: 40000 + n * 100 });
const hard = dev(1);
const resolver = dev(2);
const late = dev(3);
const dns = dev(4);
const pinger = dev(5);
const profiled = dev(6);
const server = (ip: string, port: number): Endpoint => ({ mac: ROUTER.mac, ip, port });

// 89.160.20.112/28 is Swedish in MaxMind's test database; 81.2.69.144/28 British; 216.160.83.56/29 American.
const H1 = server('89.160.20.115', 8443);
const H2 = server('81.2.69.150', 9999);
const NAMED = server('216.160.83.57', 443);
const LATE = server('216.160.83.58', 443);
const DOC_NET = server('89.160.20.117', 8883);

const PROFILE = `profile: acme-hub
match:
  mac: ["${profiled.mac}"]
documented:
  - cidr: 89.160.20.112/28
    proto: tcp
    ports: [8883]
  - domain: "*.acme.example"
    proto: tcp
    ports: [443]
`;

function dnsQuery(id: number, name: string): Buffer {
  const q = dnsResponse(id, name, []);
  q.writeUInt16BE(0x0100, 2);
  return q;
}

let file = '';
let profiles = '';

type Doc = Parameters<Parameters<typeof detectionsFile>[0]>[0];

/** The rule's mechanics, judged from the first connection on: no DNS warm-up unless a test asks for one. */
async function run(detections?: (doc: Doc) => void, warmup = 0): Promise<PipelineRun> {
  const edit = (doc: Doc) => {
    doc.rules['direct-ip'].dns_warmup_s = warmup;
    detections?.(doc);
  };
  return runPipeline([file], { profilesDir: profiles, geoip: [COUNTRY_DB], detectionsFile: detectionsFile(edit) });
}

let base: PipelineRun;
const of = (r: PipelineRun, d: Endpoint) => alertsOf(r.alerts, 'direct-ip', d.mac);

beforeAll(async () => {
  const s = new Scenario(T0, 3 * 3600);
  await s.background(['HueBridge', 'WeMoSwitch'], [60, 1800]);
  const port = (d: Endpoint, i: number) => ({ ...d, port: d.port + i });
  // 1. hard-coded: three connections to one address on one port, one on another port; one UDP exchange with a second address
  s.tls(T0 + 100, port(hard, 1), H1, null);
  s.tls(T0 + 700, port(hard, 2), H1, null);
  s.tls(T0 + 1300, port(hard, 3), H1, null);
  s.tls(T0 + 1900, port(hard, 4), { ...H1, port: 443 }, null);
  s.packets.push(packet(T0 + 2000, udpFrame(port(hard, 5), H2, Buffer.alloc(64, 3))), packet(T0 + 2000.05, udpFrame(H2, port(hard, 5), Buffer.alloc(64, 4))));
  // 2. resolved first, connected after; and again two hours on, when the answer no longer names the address
  s.resolve(T0 + 200, resolver, 'api.vendor.example', [NAMED.ip]);
  s.tls(T0 + 201, port(resolver, 1), NAMED, null);
  s.tls(T0 + 200 + 7200, port(resolver, 2), NAMED, null);
  // 3. connected before any answer gave the address, then resolved and connected again
  s.tls(T0 + 300, port(late, 1), LATE, null);
  s.resolve(T0 + 310, late, 'late.vendor.example', [LATE.ip]);
  s.tls(T0 + 320, port(late, 2), LATE, null);
  // 4. a configured resolver, by address: DNS and DNS over TLS
  s.packets.push(packet(T0 + 400, udpFrame(port(dns, 1), server('8.8.8.8', 53), dnsQuery(77, 'example.com'))));
  s.tls(T0 + 410, port(dns, 2), server('1.1.1.1', 853), null);
  // 5. ICMP has no connection to hard-code
  s.packets.push(...ping(T0 + 500, pinger, server('89.160.20.116', 0)));
  // 6. a profiled device: an address its profile documents by network, the same address on an undocumented port,
  //    and a host its profile documents by name, reached without resolving it
  s.tls(T0 + 600, port(profiled, 1), DOC_NET, null);
  s.tls(T0 + 610, port(profiled, 2), { ...DOC_NET, port: 9000 }, null);
  s.tls(T0 + 620, port(profiled, 3), server('81.2.69.151', 443), 'api.acme.example');
  file = capture(s);
  profiles = profilesDir({ 'acme-hub.yaml': PROFILE });
  base = await run();
}, 120_000);

describe('direct-ip', () => {
  it('fires once per unresolved address, counting every connection to it, with the address, first port and country', () => {
    const a = of(base, hard);
    expect(a.map((x) => [x.destination?.ip, x.destination?.port, x.destination?.proto, x.evidence.flows])).toEqual([
      [H1.ip, H1.port, 'tcp', 4],
      [H2.ip, H2.port, 'udp', 1],
    ]);
    expect(a[0].destination?.country).toBe(sourceRecord('GeoLite2-Country-Test', '89.160.20.112/28').country.iso_code);
    expect(a[0].evidence.reason).toBe(`no DNS answer gave ${H1.ip} to ${hard.ip} before the connection, and no connection to it on tcp/${H1.port} had a name`);
    expect(a[0].message).toContain(`${H1.ip}:${H1.port}/tcp without resolving it`);
    // The evidence is exactly the planted connections to that address.
    const planted = base.flows.filter((f) => f.src_ip === hard.ip && f.dst_ip === H1.ip);
    expect(planted).toHaveLength(4);
    expect(a[0].evidence.uids).toEqual(planted.map((f) => f.uid));
    expect(a[0].evidence.packets).toBe(planted.reduce((n, f) => n + f.src_pkts + f.dst_pkts, 0));
  });

  it('stays quiet for an address a DNS answer gave the device before the connection, even after the answer expired', () => {
    const flows = base.flows.filter((f) => f.src_ip === resolver.ip && f.dst_ip === NAMED.ip);
    expect(flows.map((f) => f.dns_name)).toEqual(['api.vendor.example', null]);
    expect(of(base, resolver)).toEqual([]);
  });

  it('counts only the connection made before the address was resolved', () => {
    const a = of(base, late);
    expect(a).toHaveLength(1);
    const first = base.flows.find((f) => f.src_ip === late.ip && f.src_port === late.port + 1)!;
    expect(a[0].evidence.uids).toEqual([first.uid]);
  });

  it('ignores DNS (53) and DNS over TLS (853) by default, and fires for them when ignore_ports is emptied', async () => {
    expect(base.flows.filter((f) => f.src_ip === dns.ip).map((f) => f.dst_port).sort()).toEqual([53, 853]);
    expect(of(base, dns)).toEqual([]);
    const none = await run((doc) => (doc.rules['direct-ip'].ignore_ports = []));
    expect(of(none, dns).map((a) => [a.destination?.ip, a.destination?.port]).sort()).toEqual([['1.1.1.1', 853], ['8.8.8.8', 53]]);
    // ignore_ports is by destination port: ignoring 8443 leaves the hard-coded address's one connection on 443.
    const more = await run((doc) => (doc.rules['direct-ip'].ignore_ports = [53, 853, 8443]));
    expect(of(more, hard).map((a) => [a.destination?.ip, a.destination?.port, a.evidence.flows])).toEqual([[H1.ip, 443, 1], [H2.ip, H2.port, 1]]);
  });

  it('ignores ICMP', () => {
    expect(base.flows.filter((f) => f.src_ip === pinger.ip).map((f) => f.proto)).toEqual(['icmp']);
    expect(of(base, pinger)).toEqual([]);
  });

  it('stays quiet for an address the profile documents by network, but not on a port the entry leaves out, nor for a host documented only by name', () => {
    const a = of(base, profiled);
    expect(a.map((x: AlertRecord) => [x.destination?.ip, x.destination?.port, x.destination?.name, x.evidence.flows])).toEqual([
      [DOC_NET.ip, 9000, null, 1],
      ['81.2.69.151', 443, 'api.acme.example', 1],
    ]);
    expect(a.every((x) => x.device.profile === 'acme-hub')).toBe(true);
    // the flow to the documented network on its documented port was seen, and judged quiet
    expect(base.flows.some((f) => f.src_ip === profiled.ip && f.dst_ip === DOC_NET.ip && f.dst_port === 8883)).toBe(true);
  });

  it('with the default DNS warm-up: connections in the first half hour wait, and count once a later one confirms them; a name learnt meanwhile clears them', async () => {
    const warm = await run(undefined, 1800);
    // The hard-coding device's first Internet flow is at +100: its connections at +100, +700 and +1300 wait;
    // the one at +1900 (1800 s on) confirms the address, and the alert holds all four.
    expect(of(warm, hard).map((x) => [x.destination?.ip, x.evidence.flows])).toEqual([[H1.ip, 4], [H2.ip, 1]]);
    expect(of(warm, hard)[0].ts).toBe(base.flows.find((f) => f.src_ip === hard.ip && f.dst_ip === H1.ip)!.ts);
    // The device that connected at +300 and resolved the address at +310 had simply resolved it before the capture.
    expect(of(warm, late)).toEqual([]);
    // Nothing of the DNS device or the profiled one comes after their warm-up.
    expect(of(warm, profiled)).toEqual([]);
  });

  it('is silent when disabled', async () => {
    const off = await run((doc) => (doc.rules['direct-ip'].enabled = false));
    expect(off.alerts.filter((a) => a.rule === 'direct-ip')).toEqual([]);
    expect(base.alerts.filter((a) => a.rule === 'direct-ip').length).toBeGreaterThanOrEqual(5);
  });
});

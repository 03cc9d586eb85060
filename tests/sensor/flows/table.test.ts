// Flow building on constructed traffic whose ground truth is known: who
// initiated, when flows end, what is kept when the table is full, and which
// name each flow gets. Memory follows live flows, not packets: ten times the
// packets in the same flows costs no more memory, and a flood of distinct
// flows is held to --max-flows while every flow is still written out.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MeterOptions } from '../../../sensor/pipeline/meter.js';
import { dnsResponse, packet, TCP_FLAGS, tcpFrame, tcpSession, udpFrame, type Endpoint } from '../../helpers/build.js';
import { phonehome } from '../../helpers/cli.js';
import { writePcap, type TestPacket } from '../../helpers/pcap.js';
import { phonehomeView } from '../../helpers/phonehome.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-flows-'));
let n = 0;

async function run(packets: TestPacket[], opts: MeterOptions = {}) {
  const f = join(tmp, `t${n++}.pcap`);
  writePcap(f, 1, packets);
  return phonehomeView([f], opts);
}

const T0 = 1_700_000_000;
const device: Endpoint = { mac: '50:c7:bf:00:c7:03', ip: '192.168.1.20', port: 40000 };
const router: Endpoint = { mac: '00:b5:6d:06:08:ba', ip: '192.168.1.1', port: 53 };
const server: Endpoint = { mac: '00:b5:6d:06:08:ba', ip: '93.184.216.34', port: 443 };
const { SYN, ACK, RST, PSH } = TCP_FLAGS;

describe('flow table', () => {
  it('a complete TCP session is one flow, initiated by the SYN sender, state SF', async () => {
    const v = await run(tcpSession(T0, device, server));
    expect(v.flows).toHaveLength(1);
    const f = v.flows[0];
    expect([f.src_ip, f.src_port, f.dst_ip, f.dst_port]).toEqual([device.ip, device.port, server.ip, server.port]);
    expect([f.src_pkts, f.dst_pkts]).toEqual([5, 3]);
    expect(f.state).toBe('SF');
    expect(f.duration).toBeCloseTo(0.07, 6);
    expect(f.src_mac).toBe(device.mac);
  });

  it('when the capture starts at the SYN-ACK, the SYN-ACK receiver is still the initiator', async () => {
    const v = await run(tcpSession(T0, device, server).slice(1));
    expect(v.flows[0].src_ip).toBe(device.ip);
    expect(v.flows[0].dst_port).toBe(443);
  });

  it('a SYN answered by RST is REJ', async () => {
    const v = await run([packet(T0, tcpFrame(device, server, SYN)), packet(T0 + 0.01, tcpFrame(server, device, RST | ACK))]);
    expect(v.flows.map((f) => f.state)).toEqual(['REJ']);
  });

  it('UDP idle longer than the timeout starts a new flow; a longer timeout keeps one', async () => {
    const pkts = [0, 10, 100, 110].map((dt) => packet(T0 + dt, udpFrame(device, { ...server, port: 123 }, Buffer.alloc(48))));
    expect((await run(pkts)).flows.map((f) => f.src_pkts)).toEqual([2, 2]);
    expect((await run(pkts, { timeouts: { udp: 200 } })).flows.map((f) => f.src_pkts)).toEqual([4]);
  });

  it('a closed connection whose ports are reused by a new SYN becomes two flows', async () => {
    const pkts = [...tcpSession(T0, device, server), ...tcpSession(T0 + 2, device, server)];
    const v = await run(pkts);
    expect(v.flows).toHaveLength(2);
    expect(v.flows.every((f) => f.state === 'SF' && f.src_pkts === 5)).toBe(true);
  });

  it('a full table evicts the oldest flows and still emits every flow', async () => {
    const pkts: TestPacket[] = [];
    for (let i = 0; i < 1000; i++) pkts.push(packet(T0 + i * 0.001, udpFrame({ ...device, port: 10000 + i }, { ...server, port: 53 }, Buffer.alloc(30))));
    const v = await run(pkts, { maxFlows: 100 });
    expect(v.flows).toHaveLength(1000);
    expect(v.flows.filter((f) => f.end_reason === 'evicted')).toHaveLength(900);
    expect(new Set(v.flows.map((f) => f.src_port)).size).toBe(1000);
  });

  it("names a flow by the DNS answer that device received, not another device's", async () => {
    const other: Endpoint = { mac: '00:17:88:24:76:ff', ip: '192.168.1.30', port: 41000 };
    const pkts = [
      packet(T0, udpFrame(router, { ...device, port: 5555 }, dnsResponse(7, 'devs.example-cloud.com', [server.ip, '93.184.216.35']))),
      ...tcpSession(T0 + 1, device, server),
      ...tcpSession(T0 + 2, other, server),
    ];
    const v = await run(pkts);
    const byClient = new Map(v.flows.filter((f) => f.proto === 'tcp').map((f) => [f.src_ip, f]));
    expect(byClient.get(device.ip)!.dns_name).toBe('devs.example-cloud.com');
    expect(byClient.get(device.ip)!.server_name).toBe('devs.example-cloud.com');
    expect(byClient.get(other.ip)!.dns_name).toBeNull();
    const dev = v.devices.find((d) => d.mac === device.mac)!;
    expect(dev.destinations.map((d) => [d.ip, d.name])).toEqual([[server.ip, 'devs.example-cloud.com']]);
    expect(dev.external_destinations).toBe(1);
  });

  it('HTTP Host and User-Agent name the flow and describe the device', async () => {
    const req = Buffer.from('GET /fw/check HTTP/1.1\r\nHost: update.example.net\r\nUser-Agent: Camera/2.1\r\n\r\n');
    const v = await run(tcpSession(T0, device, { ...server, port: 80 }, req));
    expect(v.flows[0].http_host).toBe('update.example.net');
    expect(v.flows[0].server_name).toBe('update.example.net');
    expect(v.flows[0].user_agent).toBe('Camera/2.1');
    expect(v.devices.find((d) => d.mac === device.mac)!.user_agents).toEqual(['Camera/2.1']);
  });

  it('flows of a device talking to the Internet count as its bytes out; local flows do not', async () => {
    const v = await run([...tcpSession(T0, device, server, Buffer.alloc(1000)), ...tcpSession(T0 + 5, device, { ...router, port: 80 })]);
    const dev = v.devices.find((d) => d.mac === device.mac)!;
    const outbound = v.flows.find((f) => f.dst_ip === server.ip)!;
    expect(dev.flows).toBe(2);
    expect(dev.bytes_out).toBe(outbound.src_bytes);
    expect(dev.ips).toEqual([device.ip]);
  });

  it('data after a PSH from the responder first still counts packets per direction, with the server (lower port) as responder', async () => {
    // No handshake seen: as Zeek flips such connections, the side on the lower port (443) is the server.
    const v = await run([packet(T0, tcpFrame(server, device, PSH | ACK, Buffer.from('x'))), packet(T0 + 1, tcpFrame(device, server, ACK)), packet(T0 + 2, tcpFrame(device, server, ACK))]);
    expect(v.flows).toHaveLength(1);
    expect([v.flows[0].src_ip, v.flows[0].src_pkts, v.flows[0].dst_pkts, v.flows[0].state, v.flows[0].mid_stream]).toEqual([device.ip, 2, 1, 'OTH', true]);
  });
});

function capture(name: string, packets: number, flows: number): string {
  const pkts: TestPacket[] = [];
  const payload = Buffer.alloc(40);
  for (let i = 0; i < packets; i++) {
    const f = i % flows;
    const src = { mac: '02:00:00:00:00:01', ip: `10.${(f >> 16) & 255}.${(f >> 8) & 255}.${f & 255}`, port: 1024 + (f % 60000) };
    pkts.push(packet(T0 + i * 1e-5, udpFrame(src, { mac: '02:00:00:00:00:02', ip: '198.51.100.7', port: 9999 }, payload)));
  }
  const file = join(tmp, name);
  writePcap(file, 1, pkts);
  return file;
}

function analyze(file: string, extra: string[] = []) {
  const out = join(tmp, `${file.split('/').pop()}-${extra.join('')}`);
  const r = phonehome(['analyze', file, '--out', out, ...extra]);
  expect(r.code, r.stderr).toBe(0);
  const stats = JSON.parse(readFileSync(join(out, 'stats.json'), 'utf8'));
  const flows = readFileSync(join(out, 'flows.jsonl'), 'utf8').split('\n').filter(Boolean).length;
  return { rss: stats.peak_rss_bytes as number, flows, packets: stats.packets as number };
}

describe('memory', () => {
  it('ten times the packets in the same 20 flows needs no more memory', () => {
    const small = analyze(capture('small.pcap', 60_000, 20));
    const large = analyze(capture('large.pcap', 600_000, 20));
    expect(large.packets).toBe(600_000);
    expect([small.flows, large.flows]).toEqual([20, 20]);
    console.log(`peak RSS: 60k packets ${(small.rss / 2 ** 20).toFixed(0)} MiB, 600k packets ${(large.rss / 2 ** 20).toFixed(0)} MiB`);
    expect(large.rss - small.rss).toBeLessThan(40 * 2 ** 20);
  }, 120_000);

  it('a flood of 300,000 distinct flows stays bounded by --max-flows and every flow is written', () => {
    const flood = capture('flood.pcap', 300_000, 300_000);
    const bounded = analyze(flood, ['--max-flows', '5000']);
    const unbounded = analyze(flood, ['--max-flows', '1000000']);
    expect(bounded.flows).toBe(300_000);
    expect(unbounded.flows).toBe(300_000);
    console.log(`peak RSS: flood with --max-flows 5000 ${(bounded.rss / 2 ** 20).toFixed(0)} MiB, unbounded ${(unbounded.rss / 2 ** 20).toFixed(0)} MiB`);
    expect(unbounded.rss - bounded.rss).toBeGreaterThan(50 * 2 ** 20);
  }, 180_000);
});

// A long-lived TCP session that goes quiet past the idle timeout is ended and
// resumed by the next packet, without a handshake: the resumed piece is
// marked mid-stream and keeps the session's name. A session already open
// when the capture began is marked mid-stream too, with the server (the
// lower port) as responder, as Zeek flips such connections.
import { describe, expect, it } from 'vitest';
import { dnsResponse, packet, TCP_FLAGS, tcpFrame, udpFrame } from '../../helpers/build.js';
import { capture, runPipeline } from '../../helpers/detection.js';
import { dhcp4, dhcpOption } from '../protocols/build.js';
import { ROUTER } from '../../helpers/scenarios.js';

const { SYN, ACK, PSH } = TCP_FLAGS;
const dev = { mac: '02:00:00:00:00:21', ip: '192.168.77.21', port: 51000 };
const broker = { mac: ROUTER.mac, ip: '47.254.1.10', port: 8883 };

/** An MQTT-over-TLS session: handshake, a publish every `every` seconds, `n` times. */
function session(t0: number, every: number, n: number) {
  const out = [
    packet(t0 - 1, udpFrame(ROUTER, { ...dev, port: 5353 }, dnsResponse(7, 'mqtt.vendor.example', [broker.ip], 60))),
    packet(t0, tcpFrame(dev, broker, SYN)),
    packet(t0 + 0.01, tcpFrame(broker, dev, SYN | ACK)),
    packet(t0 + 0.02, tcpFrame(dev, broker, ACK)),
  ];
  for (let i = 1; i <= n; i++) {
    out.push(packet(t0 + i * every, tcpFrame(dev, broker, PSH | ACK, Buffer.alloc(40, 1))));
    out.push(packet(t0 + i * every + 0.05, tcpFrame(broker, dev, ACK)));
  }
  return out;
}

describe('sessions resumed after an idle spell', () => {
  it('a session quiet for longer than the TCP timeout is two flows; the second is mid-stream and keeps the name', async () => {
    // 400 s between publishes against a 300 s timeout: every publish is a new piece of the session.
    const run = await runPipeline(capture(session(1000, 400, 3)), { profilesDir: null });
    const pieces = run.flows.filter((f) => f.dst_port === 8883).sort((a, b) => a.ts - b.ts);
    expect(pieces).toHaveLength(4);
    expect(pieces.map((f) => f.mid_stream)).toEqual([false, true, true, true]);
    for (const f of pieces) {
      expect([f.src_ip, f.dst_ip], 'the device stays the initiator').toEqual([dev.ip, broker.ip]);
      expect(f.dns_name).toBe('mqtt.vendor.example');
    }
    expect(run.alerts.filter((a) => a.rule === 'direct-ip')).toEqual([]);
  });

  it('a session already open when the capture starts is mid-stream, oriented from the device, and not hard-coded', async () => {
    // The first packet seen is the broker's: without the handshake the lower port (8883) is the server.
    const pkts = [packet(5000, tcpFrame(broker, dev, PSH | ACK, Buffer.alloc(30, 2))), packet(5000.1, tcpFrame(dev, broker, ACK))];
    for (let i = 1; i < 20; i++) pkts.push(packet(5000 + i * 120, tcpFrame(dev, broker, PSH | ACK, Buffer.alloc(40, 1))));
    const run = await runPipeline(capture(pkts), { profilesDir: null });
    const [f] = run.flows;
    expect(run.flows).toHaveLength(1);
    expect([f.src_ip, f.src_port, f.dst_ip, f.dst_port, f.mid_stream, f.state]).toEqual([dev.ip, dev.port, broker.ip, 8883, true, 'OTH']);
    expect(run.alerts.filter((a) => a.rule === 'direct-ip')).toEqual([]);
  });

  it('a new connection (with its SYN) to an address never resolved is hard-coded once the device was watched long enough, or since it joined by DHCP', async () => {
    const hard = { mac: ROUTER.mac, ip: '47.254.9.9', port: 443 };
    const named = { mac: ROUTER.mac, ip: '47.254.1.10', port: 443 };
    const connect = (t: number, to: typeof hard, port: number) => [
      packet(t, tcpFrame({ ...dev, port }, to, SYN)),
      packet(t + 0.02, tcpFrame(to, { ...dev, port }, SYN | ACK)),
      packet(t + 0.04, tcpFrame({ ...dev, port }, to, ACK)),
    ];
    // The device's first Internet flow (resolved) at 1000: its DNS is watched from then on.
    const first = [packet(999, udpFrame(ROUTER, { ...dev, port: 5353 }, dnsResponse(9, 'api.vendor.example', [named.ip]))), ...connect(1000, named, 50001)];
    const early = await runPipeline(capture([...first, ...connect(1060, hard, 50002)]), { profilesDir: null });
    expect(early.alerts.filter((a) => a.rule === 'direct-ip'), 'a minute in: the answer may have come before phonehome watched').toEqual([]);
    const late = await runPipeline(capture([...first, ...connect(1000 + 1800 + 60, hard, 50003)]), { profilesDir: null });
    expect(late.alerts.filter((a) => a.rule === 'direct-ip').map((a) => a.destination?.ip)).toEqual([hard.ip]);
    // A DHCP REQUEST (option 53 = 3) at 900: the device joined while phonehome watched, so its DNS was all seen.
    const mac = dev.mac.split(':').map((x) => parseInt(x, 16));
    const request = Buffer.from(dhcp4({ mac, options: [...dhcpOption(53, [3]), 255] }));
    const join = packet(900, udpFrame({ ...dev, ip: '0.0.0.0', port: 68 }, { mac: 'ff:ff:ff:ff:ff:ff', ip: '255.255.255.255', port: 67 }, request));
    const joined = await runPipeline(capture([join, ...first, ...connect(1060, hard, 50002)]), { profilesDir: null });
    expect(joined.alerts.filter((a) => a.rule === 'direct-ip').map((a) => a.destination?.ip)).toEqual([hard.ip]);
  });
});

describe('groups and time', () => {
  it('DHCP discovers of two devices to the broadcast address are one flow each, by sender', async () => {
    const a = { mac: '02:00:00:00:00:31', ip: '0.0.0.0', port: 68 };
    const b = { mac: '02:00:00:00:00:32', ip: '0.0.0.0', port: 68 };
    const all = { mac: 'ff:ff:ff:ff:ff:ff', ip: '255.255.255.255', port: 67 };
    const pkts = [packet(10, udpFrame(a, all, Buffer.alloc(300))), packet(11, udpFrame(b, all, Buffer.alloc(300))), packet(12, udpFrame(a, all, Buffer.alloc(300)))];
    const run = await runPipeline(capture(pkts), { profilesDir: null });
    const byMac = run.flows.map((f) => [f.src_mac, f.src_pkts]).sort();
    expect(byMac).toEqual([[a.mac, 2], [b.mac, 1]]);
  });

  it('files whose times overlap never give a flow a negative duration, and every packet is counted once', async () => {
    const pkts = session(2000, 30, 10);
    // Odd packets in one file, even in the other: read one after the other, time goes back at the second file.
    const odd = capture(pkts.filter((_, i) => i % 2 === 1));
    const even = capture(pkts.filter((_, i) => i % 2 === 0));
    const run = await runPipeline([odd, even], { profilesDir: null });
    for (const f of run.flows) expect(f.duration, f.uid).toBeGreaterThanOrEqual(0);
    expect(run.flows.reduce((n, f) => n + f.src_pkts + f.dst_pkts, 0)).toBe(pkts.length);
    const tcp = run.flows.find((f) => f.dst_port === 8883)!;
    expect(tcp.ts).toBeCloseTo(2000, 6);
    expect(tcp.ts + tcp.duration).toBeCloseTo(2000 + 10 * 30 + 0.05, 6);
  });
});

// The flow meter's contract with its sinks, on real captures and planted
// traffic: which flows get records, what each flow is told about its
// initiator, the order DNS messages and flows are handed over in, and what
// finish() ends. Flow building itself is tests/sensor/flows/table.test.ts.
// On real captures the meter must see what Debian's tshark sees: the same TCP
// and UDP conversations with the same frames (and bytes) per direction, the
// same DNS query names and the same TLS SNI values (point
// PHONEHOME_ORACLE_CAPTURES at another directory to check other captures);
// and no frame, however hostile, makes the per-packet pipeline throw.
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DnsRecord, FlowRecord } from '../../../contract/types.js';
import { newRawPacket } from '../../../sensor/capture/packet.js';
import { readCaptureFile } from '../../../sensor/capture/reader.js';
import type { DeviceFacts } from '../../../sensor/devices/inventory.js';
import { FlowMeter, type MeterSinks } from '../../../sensor/pipeline/meter.js';
import { dnsResponse, packet, TCP_FLAGS, tcpFrame, tcpSession, udpFrame, type Endpoint } from '../../helpers/build.js';
import { fixture, oracleCaptures } from '../../helpers/corpus.js';
import { capture, notInternet } from '../../helpers/detection.js';
import { compareWithTshark, seen } from '../../helpers/oracle.js';
import type { TestPacket } from '../../helpers/pcap.js';
import { pool } from '../../helpers/tshark.js';

const T0 = 1_700_000_000;
const device: Endpoint = { mac: '02:10:00:00:00:01', ip: '192.168.9.20', port: 40000 };
const router: Endpoint = { mac: '02:10:00:00:00:fe', ip: '192.168.9.1', port: 53 };
const remote = (ip: string, port = 443): Endpoint => ({ mac: router.mac, ip, port });

interface Heard {
  rec: FlowRecord;
  facts: DeviceFacts | null;
  resolved: boolean;
}

async function meter(files: string[], sinks: Omit<MeterSinks, 'flow'> & { flow?: boolean } = {}) {
  const flows: Heard[] = [];
  const dns: [DnsRecord, number][] = [];
  const events: string[] = [];
  const m = new FlowMeter({
    outboundOnly: sinks.outboundOnly,
    flow: sinks.flow === false ? undefined : (rec, facts, resolved) => {
      flows.push({ rec, facts, resolved });
      events.push(`flow ${rec.uid}`);
    },
    dns: (r, i) => dns.push([r, i]),
    epoch: (n) => events.push(`epoch ${n}`),
  });
  for (const f of files) await readCaptureFile(f, m.onPacket);
  const devices = m.finish();
  return { m, flows, dns, events, devices };
}

describe('FlowMeter', () => {
  it('with outboundOnly, builds records only for flows a local host opened to the Internet, yet counts every flow and inventories every device', async () => {
    const files = ['HueBridge', 'D-LinkCam', 'EdimaxCam1'].map(fixture);
    const all = await meter(files);
    const outbound = await meter(files, { outboundOnly: true });
    const expected = all.flows.filter((h) => notInternet(h.rec.src_ip) && !notInternet(h.rec.dst_ip));
    // The captures have both kinds, so the filter had something to drop and something to keep.
    expect(expected.length).toBeGreaterThan(50);
    expect(all.flows.length - expected.length).toBeGreaterThan(50);
    expect(outbound.flows.map((h) => h.rec)).toEqual(expected.map((h) => h.rec));
    expect(outbound.m.flows).toBe(all.m.flows);
    expect(outbound.m.flows).toBe(all.flows.length);
    expect(outbound.devices).toEqual(all.devices);
    expect(outbound.dns.map(([r, i]) => [r.id, r.query, i])).toEqual(all.dns.map(([r, i]) => [r.id, r.query, i]));
  });

  it('hands the DNS sink every DNS, mDNS and LLMNR message in packet order, numbered as tshark numbers the frames', async () => {
    for (const name of ['D-LinkCam', 'HueBridge']) {
      const file = fixture(name);
      const { dns } = await meter([file], { flow: false });
      const tshark = execFileSync('tshark', ['-n', '-r', file, '-Y', 'dns || mdns || llmnr', '-T', 'fields', '-e', 'frame.number', '-e', 'dns.id', '-e', 'dns.qry.name'], { stdio: ['ignore', 'pipe', 'ignore'] })
        .toString().trim().split('\n')
        .map((l) => {
          const [n, id, q] = l.split('\t');
          return [Number(n), parseInt(id, 16), q ? q.split(',')[0] : null];
        });
      expect(tshark.length, name).toBeGreaterThan(100);
      expect(dns.map(([r, i]) => [i, r.id, r.query]), name).toEqual(tshark);
    }
  });

  it('hands over each epoch\'s flows before announcing the epoch, epochs counting up from 0, flows within one by time then uid', async () => {
    const { events, flows } = await meter([fixture('HueSwitch')]);
    const epochs = events.filter((e) => e.startsWith('epoch')).map((e) => Number(e.split(' ')[1]));
    expect(epochs.length).toBeGreaterThan(5);
    expect(epochs).toEqual(epochs.map((_, i) => i));
    // Every flow appears once, and the flows between two epoch marks are sorted.
    expect(events.filter((e) => e.startsWith('flow')).length).toBe(flows.length);
    const byUid = new Map(flows.map((h) => [h.rec.uid, h.rec]));
    let batch: FlowRecord[] = [];
    let batches = 0;
    for (const e of [...events, 'epoch end']) {
      if (e.startsWith('flow')) batch.push(byUid.get(e.slice(5))!);
      else {
        for (let i = 1; i < batch.length; i++) {
          const [a, b] = [batch[i - 1], batch[i]];
          expect(a.ts < b.ts || (a.ts === b.ts && a.uid <= b.uid), `${a.uid} then ${b.uid}`).toBe(true);
        }
        if (batch.length > 1) batches++;
        batch = [];
      }
    }
    expect(batches).toBeGreaterThan(1);
  });

  it('tells the flow sink the local host that opened the flow, and whether a DNS answer gave it the address before the flow began', async () => {
    const named = remote('52.1.1.10');
    const hardcoded = remote('52.1.1.20');
    const late = remote('52.1.1.30');
    const pkts: TestPacket[] = [
      packet(T0, udpFrame(router, { ...device, port: 5000 }, dnsResponse(1, 'api.example.com', [named.ip]))),
      ...tcpSession(T0 + 1, { ...device, port: 40001 }, named),
      ...tcpSession(T0 + 2, { ...device, port: 40002 }, hardcoded),
      // connected first, resolved afterwards, connected again
      ...tcpSession(T0 + 3, { ...device, port: 40003 }, late),
      packet(T0 + 4, udpFrame(router, { ...device, port: 5001 }, dnsResponse(2, 'late.example.com', [late.ip]))),
      ...tcpSession(T0 + 5, { ...device, port: 40004 }, late),
      // two hours on, the answer (TTL 300 s) no longer names the address, but it was resolved
      ...tcpSession(T0 + 7200, { ...device, port: 40005 }, named),
    ];
    const { flows } = await meter([capture(pkts)]);
    const tcp = flows.filter((h) => h.rec.proto === 'tcp').map((h) => [h.rec.src_port, h.rec.dst_ip, h.rec.dns_name, h.resolved, h.facts?.mac ?? null]);
    expect(tcp).toEqual([
      [40001, named.ip, 'api.example.com', true, device.mac],
      [40002, hardcoded.ip, null, false, device.mac],
      [40003, late.ip, null, false, device.mac],
      [40004, late.ip, 'late.example.com', true, device.mac],
      [40005, named.ip, null, true, device.mac],
    ]);
    expect(flows.find((h) => h.rec.src_port === 40001)!.facts).toMatchObject({ mac: device.mac, ip: device.ip });
  });

  it('finish() ends every flow still live with end_reason "end"; a connection already closed keeps "closed"', async () => {
    const pkts: TestPacket[] = [
      // closed, then idle past the UDP timeout: both end while packets still arrive
      ...tcpSession(T0, { ...device, port: 41000 }, remote('52.2.2.1')),
      packet(T0 + 1, udpFrame({ ...device, port: 41001 }, remote('52.2.2.2', 123), Buffer.alloc(48))),
      // live at the end of the capture: a connection never closed, a UDP exchange, a lone SYN
      packet(T0 + 200, tcpFrame({ ...device, port: 41002 }, remote('52.2.2.3'), TCP_FLAGS.SYN)),
      packet(T0 + 200.01, tcpFrame(remote('52.2.2.3'), { ...device, port: 41002 }, TCP_FLAGS.SYN | TCP_FLAGS.ACK)),
      packet(T0 + 201, udpFrame({ ...device, port: 41003 }, remote('52.2.2.4', 123), Buffer.alloc(48))),
      packet(T0 + 202, tcpFrame({ ...device, port: 41004 }, remote('52.2.2.5'), TCP_FLAGS.SYN)),
      // closed a moment before the end, still lingering for its last ACKs: it ends as closed
      ...tcpSession(T0 + 202.5, { ...device, port: 41005 }, remote('52.2.2.6')),
    ];
    const heard: FlowRecord[] = [];
    const m = new FlowMeter({ flow: (r) => heard.push(r) });
    await readCaptureFile(capture(pkts), m.onPacket);
    expect(heard.map((r) => [r.src_port, r.end_reason])).toEqual([[41000, 'closed'], [41001, 'idle']]);
    m.finish();
    expect(heard.slice(2).map((r) => [r.src_port, r.end_reason])).toEqual([[41002, 'end'], [41003, 'end'], [41004, 'end'], [41005, 'closed']]);
    expect(m.flows).toBe(6);
    expect(m.table.size).toBe(0);
  });
});

describe('phonehome agrees with tshark on real captures', () => {
  it('conversations, frames per direction, DNS names and SNI match on every capture', async () => {
    const files = oracleCaptures();
    expect(files.length).toBeGreaterThan(0);
    const problems = (await pool(files, 3, compareWithTshark)).flat();
    console.log(`compared ${files.length} captures: ${seen.conversations} conversations, ${seen.dns} DNS queries, ${seen.sni} SNI values, ${seen.communityIds} community ids`);
    // The comparison must have had something to compare.
    expect(seen.conversations).toBeGreaterThan(files.length);
    expect(problems.slice(0, 40), `${problems.length} disagreements over ${files.length} captures`).toEqual([]);
  }, 900_000);
});

describe('the per-packet pipeline on hostile frames', () => {
  it('random frames on every link type, inside a larger buffer, never throw', () => {
    const linktypes = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 9999];
    fc.assert(
      fc.property(fc.constantFrom(...linktypes), fc.uint8Array({ maxLength: 600 }), fc.uint8Array({ maxLength: 64 }), (lt, frame, junk) => {
        const a = new FlowMeter({ flow: () => {}, dns: () => {} });
        const buf = Buffer.concat([Buffer.from(junk), Buffer.from(frame), Buffer.from(junk)]);
        const p = newRawPacket();
        p.data = buf;
        p.off = junk.length;
        p.caplen = frame.length;
        p.wirelen = frame.length;
        p.linktype = lt;
        a.onPacket(p);
        a.finish();
      }),
      { numRuns: 3000 },
    );
  });

  it('IPv4/IPv6 headers with random fields over random payloads never throw', () => {
    const eth4 = Buffer.from('ffffffffffff0011223344550800', 'hex');
    const eth6 = Buffer.from('ffffffffffff00112233445586dd', 'hex');
    fc.assert(
      fc.property(fc.boolean(), fc.uint8Array({ minLength: 0, maxLength: 200 }), fc.constantFrom(6, 17, 1, 58, 0, 43, 44, 60, 51, 59), (v6, rest, proto) => {
        const ip = Buffer.from(rest);
        if (ip.length > 0) ip[0] = (v6 ? 0x60 : 0x45) | (ip[0] & 0x0f);
        if (!v6 && ip.length > 9) ip[9] = proto;
        if (v6 && ip.length > 6) ip[6] = proto;
        const frame = Buffer.concat([v6 ? eth6 : eth4, ip]);
        const a = new FlowMeter({ flow: () => {}, dns: () => {} });
        const p = newRawPacket();
        p.data = frame;
        p.caplen = frame.length;
        p.wirelen = frame.length;
        p.linktype = 1;
        a.onPacket(p);
        a.finish();
      }),
      { numRuns: 3000 },
    );
  });
});

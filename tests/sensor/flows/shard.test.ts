// Which shard owns a packet (shardOf): both directions of a flow in one
// shard, one busy device's flows spread evenly. Which packets every shard
// reads whoever owns them (isSharedFact): DNS and LLMNR answers, DHCP,
// DHCPv6 and SSDP, never mDNS; checked frame by frame against what tshark
// dissects in real captures and in planted frames of the kinds they lack.
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readCaptureFile } from '../../../sensor/capture/reader.js';
import { newDecoded } from '../../../sensor/decode/decoded.js';
import { decodePacket } from '../../../sensor/decode/packet.js';
import { DecodeWarnings } from '../../../sensor/decode/warnings.js';
import { isSharedFact, shardOf } from '../../../sensor/flows/shard.js';
import { dnsResponse, packet, TCP_FLAGS } from '../../helpers/build.js';
import { fixture } from '../../helpers/corpus.js';
import { capture } from '../../helpers/detection.js';
import { SHARED_FACTS_FILTER } from '../../helpers/tshark.js';
import { A, B, ethernet, ETH_IPV4, ETH_IPV6, ipv4, ipv6, tcp, udp } from '../decode/frames.js';
import { dhcp6, dhcp6Option, dnsHeader, dnsName, question } from '../protocols/build.js';

describe('shardOf', () => {
  const v4 = fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 }), fc.constantFrom(6, 17, 1, 58));

  it('puts both directions of every flow in the same shard, within range', () => {
    fc.assert(
      fc.property(v4, fc.integer({ min: 1, max: 16 }), ([a, b, pa, pb, proto], n) => {
        const d = newDecoded();
        Object.assign(d, { ipVersion: 4, proto, src4: a, dst4: b, sport: pa, dport: pb });
        const there = shardOf(d, n);
        Object.assign(d, { src4: b, dst4: a, sport: pb, dport: pa });
        expect(shardOf(d, n)).toBe(there);
        expect(there).toBeGreaterThanOrEqual(0);
        expect(there).toBeLessThan(n);
      }),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 2, max: 16 }), (addrs, pa, pb, n) => {
        const d = newDecoded();
        const swapped = Buffer.concat([addrs.subarray(16), addrs.subarray(0, 16)]);
        Object.assign(d, { ipVersion: 6, proto: 6, data: Buffer.from(addrs), src6Off: 0, dst6Off: 16, sport: pa, dport: pb });
        const there = shardOf(d, n);
        Object.assign(d, { data: swapped, sport: pb, dport: pa });
        expect(shardOf(d, n)).toBe(there);
      }),
      { numRuns: 2000 },
    );
  });

  it('spreads the flows of one busy device evenly', () => {
    const d = newDecoded();
    const counts = [0, 0];
    // one camera, 10,000 connections to one server from ephemeral ports
    for (let port = 30000; port < 40000; port++) {
      Object.assign(d, { ipVersion: 4, proto: 6, src4: 0xc0a8010a, dst4: 0x5db8d822, sport: port, dport: 443 });
      counts[shardOf(d, 2)]++;
    }
    expect(Math.min(...counts) / 10000).toBeGreaterThan(0.45);
  });
});

/** Frame numbers (1-based) of a capture's packets that isSharedFact picks. */
async function sharedFrames(file: string): Promise<number[]> {
  const d = newDecoded();
  const warn = new DecodeWarnings();
  const out: number[] = [];
  let i = 0;
  await readCaptureFile(file, (p) => {
    i++;
    if (decodePacket(p, d, warn) && isSharedFact(d)) out.push(i);
  });
  return out;
}

/** tshark's frames that pass a display filter: number and protocol stack of each. */
function tsharkFrames(file: string, filter: string): { frame: number; protocols: string[] }[] {
  const out = execFileSync('tshark', ['-n', '-r', file, '-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE', '-Y', filter, '-T', 'fields', '-e', 'frame.number', '-e', 'frame.protocols'], { stdio: ['ignore', 'pipe', 'ignore'] });
  return out.toString().split('\n').filter(Boolean).map((l) => {
    const [n, protocols] = l.split('\t');
    return { frame: Number(n), protocols: protocols.split(':') };
  });
}

const DNS_QUERY_FLAGS = 0x0100;
const dnsQuery = (id: number, name: string) => Buffer.from([...dnsHeader(id, DNS_QUERY_FLAGS, 1, 0, 0, 0), ...question(dnsName(name), 1)]);

/** Frames of the kinds the bundled captures lack: LLMNR, DHCPv6, DNS over TCP; and near misses. */
function planted(): string {
  const t0 = 1_700_000_000;
  const u4 = (sport: number, dport: number, payload: Buffer, from = A, to = B) =>
    ethernet(to.mac, from.mac, ETH_IPV4, ipv4({ src: from.ip, dst: to.ip, proto: 17, payload: udp(sport, dport, payload) }));
  const u6 = (sport: number, dport: number, payload: Buffer) => ethernet(B.mac, A.mac, ETH_IPV6, ipv6(A.ip6, 'ff02::1:2', 17, udp(sport, dport, payload)));
  const t4 = (sport: number, dport: number, payload: Buffer) =>
    ethernet(A.mac, B.mac, ETH_IPV4, ipv4({ src: B.ip, dst: A.ip, proto: 6, payload: tcp({ sport, dport, flags: TCP_FLAGS.PSH | TCP_FLAGS.ACK, payload }) }));
  const answer = dnsResponse(7, 'printer.local', ['192.168.1.50']);
  const lengthPrefixed = (m: Buffer) => Buffer.concat([Buffer.from([m.length >> 8, m.length & 255]), m]);
  const frames = [
    u4(5355, 50000, answer, B, A), // LLMNR answer: shared
    u4(50000, 5355, dnsQuery(8, 'printer')), // LLMNR question: not
    u4(53, 40000, answer, B, A), // DNS answer: shared
    u4(53, 53, dnsQuery(9, 'example.com'), B, A), // a question sent from port 53: not
    u4(53, 40001, Buffer.from([0, 1]), B, A), // two bytes from port 53: no flags to read
    u4(5353, 5353, answer), // mDNS answer: not
    u6(546, 547, Buffer.from(dhcp6(1, dhcp6Option(1, [0, 1, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])))), // DHCPv6 Solicit: shared
    t4(53, 40002, lengthPrefixed(answer)), // DNS answer over TCP: shared
    t4(40003, 53, lengthPrefixed(dnsQuery(10, 'example.com'))), // DNS question over TCP: not
    t4(53, 40004, Buffer.alloc(0)), // a segment from port 53 without payload: not
  ];
  return capture(frames.map((f, i) => packet(t0 + i, f)));
}

describe('isSharedFact', () => {
  it('picks the frames tshark dissects as DNS or LLMNR answers, DHCP, DHCPv6, SSDP (not mDNS) or IPv6 neighbour discovery, in real and planted captures', async () => {
    const files = [...['HueBridge', 'D-LinkCam', 'EdimaxCam1', 'HueSwitch', 'TP-LinkPlugHS110', 'WeMoSwitch', 'Withings'].map(fixture), planted()];
    const kinds: Record<string, number> = { dns: 0, llmnr: 0, dhcp: 0, dhcpv6: 0, ssdp: 0, 'dns over tcp': 0 };
    for (const f of files) {
      const theirs = tsharkFrames(f, SHARED_FACTS_FILTER);
      expect(await sharedFrames(f), f).toEqual(theirs.map((t) => t.frame));
      for (const { protocols: p } of theirs) {
        const kind = p.includes('llmnr') ? 'llmnr' : p.includes('dhcpv6') ? 'dhcpv6' : p.includes('dhcp') ? 'dhcp' : p.includes('ssdp') ? 'ssdp' : p.includes('tcp') ? 'dns over tcp' : 'dns';
        kinds[kind]++;
      }
    }
    // Every kind was there to pick, and mDNS to leave out.
    for (const [kind, count] of Object.entries(kinds)) expect(count, kind).toBeGreaterThan(0);
    expect(tsharkFrames(fixture('D-LinkCam'), 'mdns').length).toBeGreaterThan(100);
  }, 60_000);
});

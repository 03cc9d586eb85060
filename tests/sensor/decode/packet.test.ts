// decodePacket, frame by frame, reads what tshark reads: on every frame of
// the bundled real captures, re-encapsulated in every link type, the same
// MACs, addresses, protocol, ports or ICMP type, TCP flags, payload length
// and ARP/not-ARP. A frame cut anywhere gives a result or exactly one
// warning of the kind of the header the cut falls in, and nothing decoded
// ever points outside the frame.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { readCaptureFile } from '../../../sensor/capture/reader.js';
import { newDecoded, type Decoded } from '../../../sensor/decode/decoded.js';
import { decodePacket } from '../../../sensor/decode/packet.js';
import { DecodeWarnings } from '../../../sensor/decode/warnings.js';
import { FIXTURES } from '../../helpers/corpus.js';
import { LINKTYPE, reencapsulate, type Encap } from '../../helpers/encap.js';
import { readWithPcapParser, writePcap, type TestPacket } from '../../helpers/pcap.js';
import { A, B, decodeFrame, ETH_IPV4, ETH_IPV6, ethernet, extHeader, FRAME_AT, ip4Number, ip6Bytes, ipv4, ipv6, macNumber, SYN_OPTIONS, tcp, tmp, tsharkFields, udp } from './frames.js';

const FIELDS = [
  'eth.src', 'eth.dst', 'sll.src.eth', 'arp.opcode', 'ip.src', 'ip.dst', 'ip.proto', 'ip.len', 'ip.hdr_len', 'ip.frag_offset',
  'ipv6.src', 'ipv6.dst', 'ipv6.nxt', 'tcp.srcport', 'tcp.dstport', 'tcp.flags', 'tcp.len', 'udp.srcport', 'udp.dstport', 'udp.length',
  'icmp.type', 'icmp.code', 'icmpv6.type', 'icmpv6.code',
];

interface Seen {
  ok: boolean;
  d: Decoded;
  warnings: number;
}

/** Every frame of a capture through the real reader and decodePacket. */
async function decodeAll(file: string): Promise<Seen[]> {
  const out: Seen[] = [];
  const warn = new DecodeWarnings();
  await readCaptureFile(file, (p) => {
    const d = newDecoded();
    const before = warn.total;
    const ok = decodePacket(p, d, warn);
    // the reader reuses its buffer: keep a copy of the frame for the comparisons
    const data = Buffer.from(p.data.subarray(p.off, p.off + p.caplen));
    const shift = (o: number) => o - p.off;
    out.push({ ok, d: { ...d, data, src6Off: shift(d.src6Off), dst6Off: shift(d.dst6Off), payOff: shift(d.payOff) }, warnings: warn.total - before });
  });
  return out;
}

/** Differences between our decode of one frame and tshark's dissection of it. */
function compare(i: number, s: Seen, t: Record<string, string>, encap: string): string[] {
  const bad: string[] = [];
  const d = s.d;
  const want = (what: string, ours: unknown, theirs: unknown) => {
    if (ours !== theirs) bad.push(`${encap} frame ${i + 1}: ${what} phonehome ${String(ours)}, tshark ${String(theirs)}`);
  };
  const mac = t['eth.src'] || t['sll.src.eth'];
  want('source MAC', d.srcMac, mac ? macNumber(mac) : -1);
  want('destination MAC', d.dstMac, t['eth.dst'] ? macNumber(t['eth.dst']) : -1);
  want('ARP', d.isArp, t['arp.opcode'] !== '');
  if (t['ip.src']) {
    want('IP version', d.ipVersion, 4);
    want('IPv4 source', d.src4, ip4Number(t['ip.src']));
    want('IPv4 destination', d.dst4, ip4Number(t['ip.dst']));
    want('protocol', d.proto, Number(t['ip.proto']));
  } else if (t['ipv6.src']) {
    want('IP version', d.ipVersion, 6);
    want('IPv6 source', d.data.subarray(d.src6Off, d.src6Off + 16).toString('hex'), ip6Bytes(t['ipv6.src']).toString('hex'));
    want('IPv6 destination', d.data.subarray(d.dst6Off, d.dst6Off + 16).toString('hex'), ip6Bytes(t['ipv6.dst']).toString('hex'));
  } else want('IP version', d.ipVersion, 0);
  // An ICMP error quotes the packet that caused it: tshark then also shows the quoted TCP/UDP ports.
  if (t['icmp.type'] || t['icmpv6.type']) {
    want('decoded', s.ok, true);
    want('ICMP type', d.icmpType, Number(t['icmp.type'] || t['icmpv6.type']));
    want('ICMP code', d.icmpCode, Number(t['icmp.code'] || t['icmpv6.code']));
    if (t['ip.len']) want('ICMP payload length', d.payLen, Number(t['ip.len']) - Number(t['ip.hdr_len']) - 4);
  } else if (t['tcp.srcport']) {
    want('decoded', s.ok, true);
    want('ports', `${d.sport}>${d.dport}`, `${t['tcp.srcport']}>${t['tcp.dstport']}`);
    want('TCP flags', d.tcpFlags, parseInt(t['tcp.flags'], 16) & 0xff);
    want('TCP payload length', d.payLen, Number(t['tcp.len']));
  } else if (t['udp.srcport']) {
    want('decoded', s.ok, true);
    want('ports', `${d.sport}>${d.dport}`, `${t['udp.srcport']}>${t['udp.dstport']}`);
    want('UDP payload length', d.payLen, Number(t['udp.length']) - 8);
  } else if (t['ip.src'] && t['ip.frag_offset'] === '0') {
    // another protocol over IPv4 (IGMP in these captures): everything after the IP header
    want('decoded', s.ok, true);
    want('payload length', d.payLen, Number(t['ip.len']) - Number(t['ip.hdr_len']));
  } else if (!t['ip.src'] && !t['ipv6.src']) {
    want('decoded', s.ok, false);
  }
  // every payload found lies inside the frame
  if ((s.ok || d.isArp) && d.payOff < 0 || d.payOff + d.payLen > d.data.length) bad.push(`${encap} frame ${i + 1}: payload [${d.payOff}, +${d.payLen}) outside ${d.data.length} bytes`);
  return bad;
}

describe('decodePacket against tshark on real traffic', () => {
  const all = join(tmp, 'all-fixtures.pcap');
  const packets: TestPacket[] = [];

  beforeAll(async () => {
    for (const f of readdirSync(FIXTURES).filter((n) => n.endsWith('.pcap')).sort()) packets.push(...(await readWithPcapParser(join(FIXTURES, f))).packets);
    writePcap(all, 1, packets);
  });

  for (const encap of ['ethernet', 'vlan', 'qinq', 'sll', 'sll2', 'raw', 'null', 'loop'] as const) {
    it(`every frame of the bundled captures as ${encap}: MACs, addresses, protocol, ports, flags and payload length as tshark reads them`, async () => {
      let file = all;
      if (encap !== 'ethernet') {
        file = join(tmp, `all-${encap}.pcap`);
        writePcap(file, LINKTYPE[encap as Encap], packets.map((p) => reencapsulate(p, encap as Encap)).filter((p) => p !== null));
      }
      const [ours, theirs] = await Promise.all([decodeAll(file), tsharkFields(file, FIELDS)]);
      expect(ours.length).toBe(theirs.length);
      // the captures hold TCP, UDP, ICMP, IGMP, IPv6 and ARP frames: the comparison covers each kind
      const kinds = new Set(theirs.map((t) => (t['arp.opcode'] ? 'arp' : t['ipv6.src'] ? 'ipv6' : t['tcp.srcport'] ? 'tcp' : t['udp.srcport'] ? 'udp' : t['icmp.type'] ? 'icmp' : t['ip.proto'])));
      if (encap === 'raw' || encap === 'null' || encap === 'loop') expect([...kinds].sort()).toEqual(['2', 'icmp', 'ipv6', 'tcp', 'udp']);
      else expect([...kinds].sort()).toEqual(['', '2', 'arp', 'icmp', 'ipv6', 'tcp', 'udp']);
      const problems = ours.flatMap((s, i) => compare(i, s, theirs[i], encap));
      expect(problems.slice(0, 20), `${problems.length} differences in ${ours.length} frames`).toEqual([]);
      // real, well-formed traffic raises no decode warnings
      expect(ours.reduce((n, s) => n + s.warnings, 0)).toBe(0);
    }, 60_000);
  }
});

describe('frames cut short', () => {
  const payload = Buffer.from('GET / HTTP/1.1\r\n\r\n');
  // IPv4 header with 8 bytes of options, TCP header with 20 bytes of options
  const v4 = ethernet(B.mac, A.mac, ETH_IPV4, ipv4({ src: A.ip, dst: B.ip, proto: 6, options: Buffer.from([0x94, 4, 0, 0, 1, 1, 1, 0]), payload: tcp({ sport: 40000, dport: 80, flags: 0x18, options: SYN_OPTIONS, payload }) }));
  // IPv6 with a Hop-by-Hop header of 16 bytes, then UDP
  const v6 = ethernet(B.mac, A.mac, ETH_IPV6, ipv6(A.ip6, B.ip6, 0, Buffer.concat([extHeader(17, 1), udp(5353, 5353, payload)])));

  /** The warning a cut at `len` bytes must give, from the header sizes of RFC 791/8200/9293/768. */
  function expectedV4(len: number): string | null {
    if (len < 14) return 'ethernet_truncated';
    if (len < 14 + 28) return 'ipv4_truncated'; // 20-byte header + 8 bytes of options
    if (len < 14 + 28 + 20) return 'tcp_truncated'; // fixed TCP header; cut options still leave ports and flags
    return null;
  }
  function expectedV6(len: number): string | null {
    if (len < 14) return 'ethernet_truncated';
    if (len < 54) return 'ipv6_truncated';
    if (len < 70) return 'ipv6_ext_truncated'; // the 16-byte extension header, whether its length byte was captured or not
    if (len < 70 + 8) return 'udp_truncated';
    return null;
  }

  for (const [name, frame, expected, ports] of [['Ethernet/IPv4 with options/TCP with options', v4, expectedV4, [40000, 80]], ['Ethernet/IPv6/Hop-by-Hop/UDP', v6, expectedV6, [5353, 5353]]] as const) {
    it(`${name}: every cut length gives the ports or one warning of the cut header's kind`, () => {
      for (let len = 0; len <= frame.length; len++) {
        const r = decodeFrame(1, frame, len);
        const kind = expected(len);
        expect(r.warnings, `${len} bytes`).toEqual(kind ? { [kind]: 1 } : {});
        expect(r.ok, `${len} bytes`).toBe(kind === null);
        if (kind === null) {
          expect([r.d.sport, r.d.dport], `${len} bytes`).toEqual(ports);
          expect(r.d.payOff + r.d.payLen, `${len} bytes`).toBeLessThanOrEqual(FRAME_AT + len);
        }
      }
    });
  }

  it('the captured part of a TCP payload is what the payload bounds hold', () => {
    for (const keep of [0, 5, payload.length]) {
      const r = decodeFrame(1, v4, 14 + 28 + 40 + keep);
      expect(r.d.data.subarray(r.d.payOff, r.d.payOff + r.d.payLen).toString()).toBe(payload.subarray(0, keep).toString());
    }
  });
});

describe('any bytes', () => {
  it('decoded addresses and payload always lie inside the frame; a frame counts at most one warning', () => {
    const linktypes = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276];
    const seeds = [
      ethernet(B.mac, A.mac, ETH_IPV4, ipv4({ src: A.ip, dst: B.ip, proto: 6, payload: tcp({ sport: 1, dport: 2, flags: 2, options: SYN_OPTIONS }) })),
      ethernet(B.mac, A.mac, ETH_IPV6, ipv6(A.ip6, B.ip6, 0, Buffer.concat([extHeader(60, 0), extHeader(17, 0), udp(1, 2, Buffer.alloc(10))]))),
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...linktypes),
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
          fc.tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { maxLength: 8 }), fc.nat()).map(([s, edits, cut]) => {
            const b = Buffer.from(s);
            for (const [at, v] of edits) b[at % b.length] = v;
            return b.subarray(0, cut % (b.length + 1));
          }),
        ),
        (lt, frame) => {
          const r = decodeFrame(lt, frame);
          const start = FRAME_AT;
          const end = FRAME_AT + frame.length;
          expect(Object.values(r.warnings).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1);
          if (r.ok || r.d.isArp) {
            expect(r.d.payOff).toBeGreaterThanOrEqual(start);
            expect(r.d.payLen).toBeGreaterThanOrEqual(0);
            expect(r.d.payOff + r.d.payLen).toBeLessThanOrEqual(end);
          }
          if (r.ok && r.d.ipVersion === 6) {
            expect(r.d.src6Off).toBeGreaterThanOrEqual(start);
            expect(r.d.dst6Off + 16).toBeLessThanOrEqual(end);
          }
        },
      ),
      { numRuns: 5000 },
    );
  });
});

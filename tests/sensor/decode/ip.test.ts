// IPv4 and IPv6 headers: the transport header is found where tshark finds
// it (after IPv4 options, after any chain of IPv6 extension headers), the
// IP length bounds the payload (Ethernet padding is not data), fragments
// are counted and only first fragments carry ports, and every malformed or
// cut header is one warning of its kind.
import { describe, expect, it } from 'vitest';
import { newDecoded } from '../../../sensor/decode/decoded.js';
import { decodeIPv4, decodeIPv6 } from '../../../sensor/decode/ip.js';
import { DecodeWarnings } from '../../../sensor/decode/warnings.js';
import {
  A, authHeader, B, decodeFrame, ETH_IPV4, ETH_IPV6, ethernet, extHeader, fragmentHeader, icmp, ip4Number, ip6Bytes, ipv4, ipv6, payloadOf, pcapOf, tcp, tsharkFields, udp,
} from './frames.js';

const HOP = 0;
const ROUTING = 43;
const FRAGMENT = 44;
const ESP = 50;
const AH = 51;
const NO_NEXT = 59;
const DEST = 60;
const TCP = 6;
const UDP = 17;

const data = Buffer.from('payload bytes');
const eth6 = (next: number, chain: Buffer, payloadLength?: number) => ethernet(B.mac, A.mac, ETH_IPV6, ipv6(A.ip6, B.ip6, next, chain, payloadLength));
const eth4 = (o: Parameters<typeof ipv4>[0]) => ethernet(B.mac, A.mac, ETH_IPV4, ipv4(o));

function v4(b: Buffer, end = b.length) {
  const d = newDecoded();
  const warn = new DecodeWarnings();
  const endOut = { end: -1 };
  const l4 = decodeIPv4(b, 0, end, d, warn, endOut);
  return { l4, d, end: endOut.end, warn: { ...warn.counts } };
}

function v6(b: Buffer, end = b.length) {
  const d = newDecoded();
  const warn = new DecodeWarnings();
  const endOut = { end: -1 };
  const l4 = decodeIPv6(b, 0, end, d, warn, endOut);
  return { l4, d, end: endOut.end, warn: { ...warn.counts } };
}

describe('IPv4', () => {
  it('addresses and the transport header after 20 bytes of header plus options, as tshark reads them', async () => {
    const options = [Buffer.alloc(0), Buffer.from([0x94, 4, 0, 0]), Buffer.from([1, 1, 1, 0, 0x44, 12, 5, 0, 0, 0, 0, 0]), Buffer.alloc(40, 1)];
    const frames = options.map((o, i) => eth4({ src: A.ip, dst: B.ip, proto: UDP, options: o, payload: udp(1000 + i, 53, data) }));
    const t = await tsharkFields(pcapOf(1, frames), ['ip.src', 'ip.dst', 'ip.hdr_len', 'udp.srcport']);
    frames.forEach((f, i) => {
      const r = decodeFrame(1, f);
      expect(r.ok).toBe(true);
      expect([r.d.src4, r.d.dst4]).toEqual([ip4Number(t[i]['ip.src']), ip4Number(t[i]['ip.dst'])]);
      expect(r.d.sport).toBe(Number(t[i]['udp.srcport']));
      expect(v4(ipv4({ src: A.ip, dst: B.ip, proto: UDP, options: options[i], payload: udp(1, 2, data) })).l4).toBe(Number(t[i]['ip.hdr_len']));
      expect(payloadOf(r).toString()).toBe(data.toString());
    });
  });

  it('Ethernet padding after a short packet is not payload: the total length ends it', async () => {
    // a bare ACK is 54 bytes; Ethernet pads it to 60 (tshark reports tcp.len 0)
    const ack = Buffer.concat([eth4({ src: A.ip, dst: B.ip, proto: TCP, payload: tcp({ sport: 40000, dport: 443, flags: 0x10 }) }), Buffer.alloc(6, 0xaa)]);
    const dns = Buffer.concat([eth4({ src: A.ip, dst: B.ip, proto: UDP, payload: udp(5000, 53, Buffer.from('ab')) }), Buffer.alloc(16, 0xaa)]);
    const t = await tsharkFields(pcapOf(1, [ack, dns]), ['tcp.len', 'udp.length']);
    expect(decodeFrame(1, ack).d.payLen).toBe(Number(t[0]['tcp.len']));
    expect(payloadOf(decodeFrame(1, dns)).toString()).toBe('ab');
    expect(Number(t[1]['udp.length']) - 8).toBe(2);
    expect(v4(ack.subarray(14)).end).toBe(40);
  });

  it('a total length beyond the captured bytes (a snap length) keeps what was captured', () => {
    const full = ipv4({ src: A.ip, dst: B.ip, proto: TCP, payload: tcp({ sport: 1, dport: 2, flags: 0x18, payload: Buffer.alloc(1000, 7) }) });
    const r = v4(full, 100);
    expect(r.l4).toBe(20);
    expect(r.end).toBe(100);
    expect(r.warn).toEqual({});
  });

  it('fragments: the first carries ports, later ones are marked fragment with none; each counts ipv4_fragment', async () => {
    const first = eth4({ src: A.ip, dst: B.ip, proto: UDP, more: true, payload: udp(4444, 5555, Buffer.alloc(32), 8 + 64) });
    const second = eth4({ src: A.ip, dst: B.ip, proto: UDP, fragOffset: 5, payload: Buffer.alloc(32) });
    const dontFragment = eth4({ src: A.ip, dst: B.ip, proto: UDP, payload: udp(4444, 5555, Buffer.alloc(8)) });
    dontFragment[14 + 6] = 0x40; // DF only: not a fragment
    const t = await tsharkFields(pcapOf(1, [first, second]), ['udp.srcport', 'ip.frag_offset']);
    expect(t.map((x) => x['udp.srcport'])).toEqual(['4444', '']);
    const a = decodeFrame(1, first);
    expect([a.ok, a.d.fragment, a.d.sport, a.warnings]).toEqual([true, false, 4444, { ipv4_fragment: 1 }]);
    const b = decodeFrame(1, second);
    expect([b.ok, b.d.fragment, b.d.proto, b.d.sport, b.warnings]).toEqual([false, true, UDP, 0, { ipv4_fragment: 1 }]);
    expect(b.d.src4).toBe(ip4Number(A.ip));
    expect(decodeFrame(1, dontFragment).warnings).toEqual({});
  });

  it('malformed headers: wrong version or IHL < 5 is ipv4_bad_header, a total length under the header is ipv4_bad_length, under 20 bytes ipv4_truncated', () => {
    const good = ipv4({ src: A.ip, dst: B.ip, proto: UDP, payload: udp(1, 2, data) });
    const version6 = Buffer.from(good);
    version6[0] = 0x65;
    const ihl4 = Buffer.from(good);
    ihl4[0] = 0x44;
    const shortTotal = Buffer.from(good);
    shortTotal.writeUInt16BE(19, 2);
    const withOptions = ipv4({ src: A.ip, dst: B.ip, proto: UDP, options: Buffer.alloc(8, 1), payload: udp(1, 2, data) });
    expect(v4(version6).warn).toEqual({ ipv4_bad_header: 1 });
    expect(v4(ihl4).warn).toEqual({ ipv4_bad_header: 1 });
    expect(v4(shortTotal).warn).toEqual({ ipv4_bad_length: 1 });
    for (let n = 0; n < 20; n++) expect(v4(good, n)).toMatchObject({ l4: -1, warn: { ipv4_truncated: 1 } });
    // the options are part of the header: cut inside them is truncated too
    for (let n = 20; n < 28; n++) expect(v4(withOptions, n)).toMatchObject({ l4: -1, warn: { ipv4_truncated: 1 } });
    expect(v4(withOptions, 28).l4).toBe(28);
  });
});

describe('IPv6 extension header chains', () => {
  const tcpSeg = (sport: number) => tcp({ sport, dport: 443, flags: 0x18, payload: data });
  const udpDgram = (sport: number) => udp(sport, 53, data);
  const chains: [string, number, Buffer, number, number][] = [
    // name, first next header, chain, transport protocol, source port
    ['no extension headers', TCP, tcpSeg(1001), TCP, 1001],
    ['Hop-by-Hop', HOP, Buffer.concat([extHeader(UDP), udpDgram(1002)]), UDP, 1002],
    ['Destination Options of 24 bytes', DEST, Buffer.concat([extHeader(TCP, 2), tcpSeg(1003)]), TCP, 1003],
    ['Routing', ROUTING, Buffer.concat([extHeader(UDP, 0, ROUTING), udpDgram(1004)]), UDP, 1004],
    ['Hop-by-Hop, Routing, Destination Options', HOP, Buffer.concat([extHeader(ROUTING), extHeader(DEST, 1, ROUTING), extHeader(TCP, 3), tcpSeg(1005)]), TCP, 1005],
    ['Authentication Header (length in 4-byte units)', AH, Buffer.concat([authHeader(TCP), tcpSeg(1006)]), TCP, 1006],
    ['Hop-by-Hop then AH then Destination Options', HOP, Buffer.concat([extHeader(AH), authHeader(DEST), extHeader(UDP), udpDgram(1007)]), UDP, 1007],
    ['an atomic fragment (offset 0, no more)', FRAGMENT, Buffer.concat([fragmentHeader(UDP, 0, false), udpDgram(1008)]), UDP, 1008],
    ['a first fragment', FRAGMENT, Buffer.concat([fragmentHeader(TCP, 0, true), tcpSeg(1009)]), TCP, 1009],
  ];

  it('the transport header behind each chain is where tshark finds it: same protocol, same ports', async () => {
    const frames = chains.map(([, next, chain]) => eth6(next, chain));
    const t = await tsharkFields(pcapOf(1, frames), ['ipv6.src', 'tcp.srcport', 'udp.srcport']);
    chains.forEach(([name, , , proto, sport], i) => {
      const r = decodeFrame(1, frames[i]);
      expect(r.ok, name).toBe(true);
      expect(r.d.proto, name).toBe(proto);
      expect(r.d.sport, name).toBe(Number(t[i][proto === TCP ? 'tcp.srcport' : 'udp.srcport']));
      expect(r.d.sport, name).toBe(sport);
      expect(r.d.data.subarray(r.d.src6Off, r.d.src6Off + 16), name).toEqual(ip6Bytes(t[i]['ipv6.src']));
      expect(payloadOf(r).toString(), name).toBe(data.toString());
      expect(r.warnings, name).toEqual(name === 'a first fragment' ? { ipv6_fragment: 1 } : {});
    });
  });

  it('a later fragment has no transport header: marked fragment, protocol from the fragment header, one ipv6_fragment', async () => {
    const frame = eth6(FRAGMENT, Buffer.concat([fragmentHeader(UDP, 2, false), Buffer.alloc(24, 9)]));
    const t = await tsharkFields(pcapOf(1, [frame]), ['ipv6.fraghdr.nxt', 'udp.srcport']);
    const r = decodeFrame(1, frame);
    expect([r.ok, r.d.fragment, r.d.proto, r.d.sport, r.warnings]).toEqual([false, true, Number(t[0]['ipv6.fraghdr.nxt']), 0, { ipv6_fragment: 1 }]);
    expect(t[0]['udp.srcport']).toBe('');
  });

  it('No Next Header ends the chain without a transport; ESP is a transport-less protocol with its bytes as payload', () => {
    const none = decodeFrame(1, eth6(DEST, Buffer.concat([extHeader(NO_NEXT), Buffer.alloc(8)])));
    expect([none.ok, none.d.proto, none.warnings]).toEqual([false, NO_NEXT, {}]);
    const esp = decodeFrame(1, eth6(HOP, Buffer.concat([extHeader(ESP), Buffer.alloc(40, 3)])));
    expect([esp.ok, esp.d.proto, esp.d.payLen, esp.d.sport]).toEqual([true, ESP, 40, 0]);
  });

  it('the payload length bounds the packet (trailing bytes are not payload); 0 (a jumbogram) keeps the captured end', () => {
    const chain = Buffer.concat([extHeader(UDP), udpDgram(2000)]);
    const padded = Buffer.concat([ipv6(A.ip6, B.ip6, HOP, chain), Buffer.alloc(30, 0xaa)]);
    expect(v6(padded).end).toBe(40 + chain.length);
    const jumbo = ipv6(A.ip6, B.ip6, HOP, chain, 0);
    expect(v6(Buffer.concat([jumbo, Buffer.alloc(30)])).end).toBe(jumbo.length + 30);
  });

  it('15 extension headers are followed; 17 are ipv6_too_many_ext_headers', () => {
    const chainOf = (n: number) => Buffer.concat([...Array.from({ length: n }, (_, i) => extHeader(i === n - 1 ? UDP : DEST)), udpDgram(3000)]);
    const ok = decodeFrame(1, eth6(DEST, chainOf(15)));
    expect([ok.ok, ok.d.sport, ok.warnings]).toEqual([true, 3000, {}]);
    const tooMany = decodeFrame(1, eth6(DEST, chainOf(17)));
    expect([tooMany.ok, tooMany.warnings]).toEqual([false, { ipv6_too_many_ext_headers: 1 }]);
  });

  it('cut or overlong extension headers are ipv6_ext_truncated; under 40 bytes ipv6_truncated; version not 6 ipv6_bad_header', () => {
    const pkt = ipv6(A.ip6, B.ip6, HOP, Buffer.concat([extHeader(DEST, 1), extHeader(UDP), udpDgram(1)]));
    for (let n = 40; n < 40 + 24; n++) expect(v6(pkt, n), `${n} bytes`).toMatchObject({ l4: -1, warn: { ipv6_ext_truncated: 1 } });
    expect(v6(pkt, 64).l4).toBe(64);
    // a header whose length byte points past the packet
    const overlong = ipv6(A.ip6, B.ip6, HOP, Buffer.concat([extHeader(UDP), udpDgram(1)]));
    overlong[41] = 200;
    expect(v6(overlong).warn).toEqual({ ipv6_ext_truncated: 1 });
    for (let n = 0; n < 40; n++) expect(v6(pkt, n).warn).toEqual({ ipv6_truncated: 1 });
    const v4ish = Buffer.from(pkt);
    v4ish[0] = 0x45;
    expect(v6(v4ish).warn).toEqual({ ipv6_bad_header: 1 });
  });

  it('ICMPv6 behind Hop-by-Hop (as MLD reports are sent) is decoded as ICMPv6', async () => {
    const mld = eth6(HOP, Buffer.concat([extHeader(58), icmp(143, 0, Buffer.alloc(4))]));
    const t = await tsharkFields(pcapOf(1, [mld]), ['icmpv6.type']);
    const r = decodeFrame(1, mld);
    expect([r.ok, r.d.proto, r.d.icmpType]).toEqual([true, 58, Number(t[0]['icmpv6.type'])]);
  });
});

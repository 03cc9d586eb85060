// TCP, UDP and ICMP headers: ports, flags and payload bounds as tshark reads
// them; ICMP types mapped to the port equivalents of the Community ID
// specification; cut or malformed headers counted as one warning by kind.
import { describe, expect, it } from 'vitest';
import { newDecoded, ICMP, ICMP6, TCP, UDP } from '../../../sensor/decode/decoded.js';
import { decodeTransport, icmpIsOneWay } from '../../../sensor/decode/transport.js';
import { DecodeWarnings } from '../../../sensor/decode/warnings.js';
import { A, B, decodeFrame, ETH_IPV4, FRAME_AT, ETH_IPV6, ethernet, icmp, ipv4, ipv6, payloadOf, pcapOf, SYN_OPTIONS, tcp, tsharkFields, udp } from './frames.js';

const over4 = (proto: number, payload: Buffer) => ethernet(B.mac, A.mac, ETH_IPV4, ipv4({ src: A.ip, dst: B.ip, proto, payload }));
const over6 = (next: number, payload: Buffer) => ethernet(B.mac, A.mac, ETH_IPV6, ipv6(A.ip6, B.ip6, next, payload));

function transport(proto: number, b: Buffer, end = b.length) {
  const d = newDecoded();
  d.proto = proto;
  const warn = new DecodeWarnings();
  const ok = decodeTransport(b, 0, end, d, warn);
  return { ok, d, warn: { ...warn.counts } };
}

describe('TCP', () => {
  it('ports and all eight flag bits, for every flag combination, as tshark reads them', async () => {
    const frames = Array.from({ length: 256 }, (_, flags) => over4(TCP, tcp({ sport: 1024 + flags, dport: 65535 - flags, flags })));
    const t = await tsharkFields(pcapOf(1, frames), ['tcp.srcport', 'tcp.dstport', 'tcp.flags']);
    frames.forEach((f, i) => {
      const r = decodeFrame(1, f);
      expect(r.ok).toBe(true);
      expect([r.d.sport, r.d.dport, r.d.tcpFlags]).toEqual([Number(t[i]['tcp.srcport']), Number(t[i]['tcp.dstport']), parseInt(t[i]['tcp.flags'], 16) & 0xff]);
    });
  });

  it('the payload starts after the data offset (options included), over IPv4 and IPv6', async () => {
    const body = Buffer.from('\x16\x03\x01 hello');
    const frames = [over4(TCP, tcp({ sport: 1, dport: 443, flags: 0x18, options: SYN_OPTIONS, payload: body })), over6(TCP, tcp({ sport: 1, dport: 443, flags: 0x18, options: SYN_OPTIONS.subarray(0, 12), payload: body }))];
    const t = await tsharkFields(pcapOf(1, frames), ['tcp.hdr_len', 'tcp.len']);
    frames.forEach((f, i) => {
      const r = decodeFrame(1, f);
      expect(r.d.payLen).toBe(Number(t[i]['tcp.len']));
      expect(payloadOf(r)).toEqual(body);
      expect(r.d.payOff - FRAME_AT).toBe(f.length - body.length);
      expect(Number(t[i]['tcp.hdr_len'])).toBe(i === 0 ? 40 : 32);
    });
  });

  it('options cut by the snap length keep ports and flags, with an empty payload and no warning', () => {
    const seg = tcp({ sport: 5555, dport: 80, flags: 0x02, options: SYN_OPTIONS });
    for (let end = 20; end < 40; end++) {
      const r = transport(TCP, seg, end);
      expect([r.ok, r.d.sport, r.d.dport, r.d.tcpFlags, r.d.payLen, r.warn]).toEqual([true, 5555, 80, 0x02, 0, {}]);
      expect(r.d.payOff).toBe(end);
    }
  });

  it('fewer than 20 bytes is tcp_truncated; a data offset under 5 words is tcp_bad_header_length', () => {
    const seg = tcp({ sport: 1, dport: 2, flags: 0x10 });
    for (let end = 0; end < 20; end++) expect(transport(TCP, seg, end)).toMatchObject({ ok: false, warn: { tcp_truncated: 1 } });
    for (const off of [0, 1, 4]) expect(transport(TCP, tcp({ sport: 1, dport: 2, flags: 0x10, dataOffset: off }))).toMatchObject({ ok: false, warn: { tcp_bad_header_length: 1 } });
  });
});

describe('UDP', () => {
  it('the length field bounds the payload when shorter than the datagram; the captured bytes when longer or invalid', async () => {
    const body = Buffer.from('0123456789abcdef');
    const frames = [
      over4(UDP, udp(1, 2, body)), // exact
      over4(UDP, udp(1, 2, body, 8 + 10)), // UDP length says 10 of the 16 bytes
    ];
    const t = await tsharkFields(pcapOf(1, frames), ['udp.length']);
    expect(payloadOf(decodeFrame(1, frames[0]))).toEqual(body);
    expect(decodeFrame(1, frames[1]).d.payLen).toBe(Number(t[1]['udp.length']) - 8);
    // longer than what was captured (a snap length): what is there
    expect(transport(UDP, udp(1, 2, body, 8 + 1000)).d.payLen).toBe(body.length);
    // a length under the 8-byte header is invalid: what is there
    for (const len of [0, 7]) expect(transport(UDP, udp(1, 2, body, len)).d.payLen).toBe(body.length);
  });

  it('fewer than 8 bytes is udp_truncated', () => {
    const d = udp(53, 53, Buffer.alloc(4));
    for (let end = 0; end < 8; end++) expect(transport(UDP, d, end)).toMatchObject({ ok: false, warn: { udp_truncated: 1 } });
    expect(transport(UDP, d, 8)).toMatchObject({ ok: true, warn: {} });
  });
});

// The Community ID specification's port equivalents for ICMP: corelight/pycommunityid,
// communityid/icmp.py and icmp6.py (mirroring Zeek). A type with a counterpart maps to
// (type, counterpart) and is two-way; any other type maps to (type, code) and is one-way.
const ICMP4_SPEC: Record<number, number> = { 8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17 };
const ICMP6_SPEC: Record<number, number> = { 128: 129, 129: 128, 130: 131, 131: 130, 133: 134, 134: 133, 135: 136, 136: 135, 139: 140, 140: 139, 144: 145, 145: 144 };

describe('ICMP and ICMPv6', () => {
  for (const [proto, spec, name] of [[ICMP, ICMP4_SPEC, 'ICMP'], [ICMP6, ICMP6_SPEC, 'ICMPv6']] as const) {
    it(`${name}: every type 0-255 gets the Community ID port equivalents and one-way flag`, () => {
      for (let type = 0; type < 256; type++) {
        const code = (type * 7) % 16;
        const r = transport(proto, icmp(type, code));
        const peer = spec[type];
        expect([r.ok, r.d.icmpType, r.d.icmpCode], `type ${type}`).toEqual([true, type, code]);
        expect([r.d.sport, r.d.dport], `type ${type}`).toEqual([type, peer ?? code]);
        expect(icmpIsOneWay(proto, type), `type ${type}`).toBe(peer === undefined);
      }
    });
  }

  it('type, code and payload length as tshark reads them', async () => {
    const frames = [over4(ICMP, icmp(8, 0, Buffer.alloc(60, 1))), over4(ICMP, icmp(3, 3, Buffer.alloc(32))), over6(ICMP6, icmp(128, 0, Buffer.alloc(12))), over6(ICMP6, icmp(135, 0, Buffer.alloc(20)))];
    const t = await tsharkFields(pcapOf(1, frames), ['icmp.type', 'icmp.code', 'icmpv6.type', 'icmpv6.code', 'ip.len', 'ipv6.plen']);
    frames.forEach((f, i) => {
      const r = decodeFrame(1, f);
      expect([r.d.icmpType, r.d.icmpCode]).toEqual([Number(t[i]['icmp.type'] || t[i]['icmpv6.type']), Number(t[i]['icmp.code'] || t[i]['icmpv6.code'])]);
      expect(r.d.payLen).toBe(t[i]['ip.len'] ? Number(t[i]['ip.len']) - 20 - 4 : Number(t[i]['ipv6.plen']) - 4);
    });
  });

  it('fewer than 4 bytes is icmp_truncated or icmp6_truncated', () => {
    for (let end = 0; end < 4; end++) {
      expect(transport(ICMP, icmp(8, 0), end).warn).toEqual({ icmp_truncated: 1 });
      expect(transport(ICMP6, icmp(128, 0), end).warn).toEqual({ icmp6_truncated: 1 });
    }
  });
});

describe('other protocols', () => {
  it('GRE, IGMP, SCTP: no ports, the whole rest is payload, no warning', () => {
    for (const proto of [2, 47, 132]) {
      const r = transport(proto, Buffer.alloc(30, 5));
      expect([r.ok, r.d.sport, r.d.dport, r.d.payOff, r.d.payLen, r.warn]).toEqual([true, 0, 0, 0, 30, {}]);
    }
  });
});

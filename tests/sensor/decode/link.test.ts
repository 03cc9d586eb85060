// The link layer of every supported link type is stripped where tshark strips
// it: the same MACs, the same network header behind it, whatever VLAN tags,
// cooked headers or loopback families come first. Headers the capture cut
// short are counted by kind, never thrown. Real captures re-encapsulated in
// every link type give tshark's conversations and the IP flows of the
// Ethernet original.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../../contract/types.js';
import { newDecoded } from '../../../sensor/decode/decoded.js';
import { decodeLink, type LinkOut } from '../../../sensor/decode/link.js';
import { DecodeWarnings } from '../../../sensor/decode/warnings.js';
import { fixture } from '../../helpers/corpus.js';
import { LINKTYPE, reencapsulate, type Encap } from '../../helpers/encap.js';
import { compareWithTshark } from '../../helpers/oracle.js';
import { readWithPcapParser, writePcap } from '../../helpers/pcap.js';
import { phonehomeView } from '../../helpers/phonehome.js';
import { A, B, decodeFrame, ETH_ARP, ETH_IPV4, ETH_IPV6, ethernet, icmp, ip4Number, ip6Bytes, ipv4, ipv6, macBytes, macNumber, pcapOf, tsharkFields, udp } from './frames.js';

const udp4 = () => ipv4({ src: A.ip, dst: B.ip, proto: 17, payload: udp(40000, 53, Buffer.from('query')) });
const udp6 = () => ipv6(A.ip6, B.ip6, 17, udp(40001, 443, Buffer.from('quic')));

/** Linux cooked header v1 (LINKTYPE_LINUX_SLL): packet type, ARPHRD type, address length, address, protocol. */
function sll(hatype: number, addr: Buffer, protocol: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(0, 0);
  h.writeUInt16BE(hatype, 2);
  h.writeUInt16BE(addr.length, 4);
  addr.subarray(0, 8).copy(h, 6);
  h.writeUInt16BE(protocol, 14);
  return Buffer.concat([h, payload]);
}

/** Linux cooked header v2 (LINKTYPE_LINUX_SLL2): protocol, reserved, ifindex, ARPHRD type, packet type, address length, address. */
function sll2(hatype: number, addr: Buffer, protocol: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(protocol, 0);
  h.writeUInt32BE(3, 4);
  h.writeUInt16BE(hatype, 8);
  h[10] = 0;
  h[11] = addr.length;
  addr.subarray(0, 8).copy(h, 12);
  return Buffer.concat([h, payload]);
}

/** A BSD loopback header: the address family as a 32-bit number in either byte order. */
function loopback(family: number, bigEndian: boolean, payload: Buffer): Buffer {
  const h = Buffer.alloc(4);
  if (bigEndian) h.writeUInt32BE(family);
  else h.writeUInt32LE(family);
  return Buffer.concat([h, payload]);
}

function link(linktype: number, frame: Buffer) {
  const d = newDecoded();
  const out: LinkOut = { type: -1, off: -1 };
  const warn = new DecodeWarnings();
  const ok = decodeLink(linktype, frame, 0, frame.length, d, out, warn);
  return { ok, d, out, warn: { ...warn.counts } };
}

describe('Ethernet and VLAN tags', () => {
  const cases: [string, [number, number][]][] = [
    ['untagged', []],
    ['802.1Q', [[0x8100, 42]]],
    ['802.1ad outer, 802.1Q inner', [[0x88a8, 100], [0x8100, 42]]],
    ['pre-standard 0x9100 outer, 802.1Q inner', [[0x9100, 7], [0x8100, 42]]],
    ['three tags', [[0x88a8, 1], [0x8100, 2], [0x8100, 3]]],
  ];

  it('MACs, addresses and ports behind any stack of tags are those tshark reads', async () => {
    const frames = cases.flatMap(([, tags]) => [ethernet(B.mac, A.mac, ETH_IPV4, udp4(), tags), ethernet(A.mac, B.mac, ETH_IPV6, udp6(), tags)]);
    const t = await tsharkFields(pcapOf(1, frames), ['eth.src', 'eth.dst', 'ip.src', 'ipv6.src', 'udp.srcport', 'udp.dstport']);
    expect(t).toHaveLength(frames.length);
    frames.forEach((f, i) => {
      const r = decodeFrame(1, f);
      const what = `${cases[i >> 1][0]} ${i & 1 ? 'IPv6' : 'IPv4'}`;
      expect(r.ok, what).toBe(true);
      expect(r.d.srcMac, what).toBe(macNumber(t[i]['eth.src']));
      expect(r.d.dstMac, what).toBe(macNumber(t[i]['eth.dst']));
      if (i & 1) expect(r.d.data.subarray(r.d.src6Off, r.d.src6Off + 16), what).toEqual(ip6Bytes(t[i]['ipv6.src']));
      else expect(r.d.src4, what).toBe(ip4Number(t[i]['ip.src']));
      expect([r.d.sport, r.d.dport], what).toEqual([Number(t[i]['udp.srcport']), Number(t[i]['udp.dstport'])]);
    });
  });

  it('the network header starts after 14 bytes plus 4 per tag, with the innermost ethertype', () => {
    for (const [what, tags] of cases) {
      const r = link(1, ethernet(B.mac, A.mac, ETH_ARP, Buffer.alloc(28), tags));
      expect(r.ok, what).toBe(true);
      expect(r.out, what).toEqual({ type: ETH_ARP, off: 14 + 4 * tags.length });
    }
  });

  it('a frame shorter than 14 bytes is ethernet_truncated; a cut tag is vlan_truncated', () => {
    const tagged = ethernet(B.mac, A.mac, ETH_IPV4, udp4(), [[0x88a8, 100], [0x8100, 42]]);
    for (let len = 0; len < 14; len++) expect(link(1, tagged.subarray(0, len)).warn, `${len} bytes`).toEqual({ ethernet_truncated: 1 });
    for (let len = 14; len < 22; len++) {
      const r = link(1, tagged.subarray(0, len));
      expect(r.ok, `${len} bytes`).toBe(false);
      expect(r.warn, `${len} bytes`).toEqual({ vlan_truncated: 1 });
    }
    expect(link(1, tagged.subarray(0, 22)).warn).toEqual({});
  });
});

describe('Linux cooked captures (SLL and SLL2)', () => {
  const eth = macBytes(A.mac);

  it('the source MAC of an Ethernet interface, as tshark reads it; addresses behind the header', async () => {
    const frames = [sll(1, eth, ETH_IPV4, udp4()), sll(1, eth, ETH_IPV6, udp6())];
    const frames2 = [sll2(1, eth, ETH_IPV4, udp4()), sll2(1, eth, ETH_IPV6, udp6())];
    for (const [lt, list] of [[113, frames], [276, frames2]] as const) {
      const t = await tsharkFields(pcapOf(lt, list), ['sll.src.eth', 'ip.src', 'ipv6.dst', 'udp.dstport']);
      list.forEach((f, i) => {
        const r = decodeFrame(lt, f);
        expect(r.ok).toBe(true);
        expect(r.d.srcMac, `${lt} frame ${i}`).toBe(macNumber(t[i]['sll.src.eth']));
        expect(r.d.dstMac).toBe(-1);
        expect(r.d.dport).toBe(Number(t[i]['udp.dstport']));
        if (i === 0) expect(r.d.src4).toBe(ip4Number(t[i]['ip.src']));
        else expect(r.d.data.subarray(r.d.dst6Off, r.d.dst6Off + 16)).toEqual(ip6Bytes(t[i]['ipv6.dst']));
      });
    }
  });

  it('no MAC from an interface that is not Ethernet (loopback ARPHRD 772, a tunnel with no address)', () => {
    for (const [lt, build] of [[113, sll], [276, sll2]] as const) {
      expect(decodeFrame(lt, build(772, Buffer.alloc(6), ETH_IPV4, udp4())).d.srcMac).toBe(-1);
      const tun = decodeFrame(lt, build(65534, Buffer.alloc(0), ETH_IPV4, udp4()));
      expect(tun.ok).toBe(true);
      expect(tun.d.srcMac).toBe(-1);
      expect(tun.d.src4).toBe(ip4Number(A.ip));
    }
  });

  it('headers of 16 (SLL) and 20 (SLL2) bytes; shorter is sll_truncated / sll2_truncated', () => {
    expect(link(113, sll(1, eth, ETH_IPV6, udp6())).out).toEqual({ type: ETH_IPV6, off: 16 });
    expect(link(276, sll2(1, eth, ETH_IPV6, udp6())).out).toEqual({ type: ETH_IPV6, off: 20 });
    for (let len = 0; len < 16; len++) expect(link(113, sll(1, eth, ETH_IPV4, udp4()).subarray(0, len)).warn).toEqual({ sll_truncated: 1 });
    for (let len = 0; len < 20; len++) expect(link(276, sll2(1, eth, ETH_IPV4, udp4()).subarray(0, len)).warn).toEqual({ sll2_truncated: 1 });
  });
});

describe('BSD loopback (NULL and LOOP)', () => {
  // AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD, OpenBSD), 28 (FreeBSD), 30 (macOS): tcpdump's
  // LINKTYPE_NULL documentation. NULL is in the writer's byte order, LOOP always big-endian.
  const variants: [string, number, number, boolean, Buffer][] = [
    ['NULL, little-endian AF_INET', 0, 2, false, udp4()],
    ['NULL, big-endian AF_INET', 0, 2, true, udp4()],
    ...[24, 28, 30].flatMap((af): [string, number, number, boolean, Buffer][] => [
      [`NULL, little-endian AF_INET6 ${af}`, 0, af, false, udp6()],
      [`NULL, big-endian AF_INET6 ${af}`, 0, af, true, udp6()],
      [`LOOP, AF_INET6 ${af}`, 108, af, true, udp6()],
    ]),
    ['LOOP, AF_INET', 108, 2, true, udp4()],
  ];

  it('every family encoding tshark knows leads to the same addresses and ports', async () => {
    for (const lt of [0, 108]) {
      const mine = variants.filter((v) => v[1] === lt);
      const t = await tsharkFields(pcapOf(lt, mine.map(([, , af, be, p]) => loopback(af, be, p))), ['ip.src', 'ipv6.src', 'udp.srcport']);
      mine.forEach(([what, , af, be, payload], i) => {
        const r = decodeFrame(lt, loopback(af, be, payload));
        expect(r.ok, what).toBe(true);
        expect(r.d.srcMac, what).toBe(-1);
        expect(r.d.ipVersion, what).toBe(t[i]['ip.src'] ? 4 : 6);
        if (r.d.ipVersion === 4) expect(r.d.src4, what).toBe(ip4Number(t[i]['ip.src']));
        else expect(r.d.data.subarray(r.d.src6Off, r.d.src6Off + 16), what).toEqual(ip6Bytes(t[i]['ipv6.src']));
        expect(r.d.sport, what).toBe(Number(t[i]['udp.srcport']));
      });
    }
  });

  it('an unknown family is not IP (and not a warning); fewer than 4 bytes is loopback_truncated', () => {
    const r = link(0, loopback(17, false, udp4()));
    expect(r.ok).toBe(true);
    expect(r.out.type).toBe(0);
    expect(decodeFrame(0, loopback(17, false, udp4())).ok).toBe(false);
    for (const lt of [0, 108]) for (let len = 0; len < 4; len++) expect(link(lt, loopback(2, true, udp4()).subarray(0, len)).warn).toEqual({ loopback_truncated: 1 });
  });
});

describe('raw IP link types', () => {
  it('101, 12 and 14 read the IP version from the first byte; 228 is IPv4 and 229 IPv6', async () => {
    for (const lt of [101, 12, 14]) {
      const t = await tsharkFields(pcapOf(lt, [udp4(), udp6()]), ['ip.src', 'ipv6.src', 'udp.srcport']);
      expect(t.map((x) => x['udp.srcport'])).toEqual(['40000', '40001']);
      const four = decodeFrame(lt, udp4());
      const six = decodeFrame(lt, udp6());
      expect([four.d.ipVersion, four.d.src4, four.d.sport, four.d.srcMac]).toEqual([4, ip4Number(t[0]['ip.src']), 40000, -1]);
      expect([six.d.ipVersion, six.d.sport]).toEqual([6, 40001]);
      expect(six.d.data.subarray(six.d.src6Off, six.d.src6Off + 16)).toEqual(ip6Bytes(t[1]['ipv6.src']));
    }
    expect(decodeFrame(228, udp4()).d.src4).toBe(ip4Number(A.ip));
    expect(decodeFrame(229, udp6()).d.sport).toBe(40001);
  });

  it('a raw frame that is neither IPv4 nor IPv6 has no network layer', () => {
    const other = Buffer.from(udp4());
    other[0] = 0x55;
    expect(link(101, other).out.type).toBe(0);
    expect(decodeFrame(101, other).ok).toBe(false);
    // the dedicated IPv4 link type takes the header as IPv4 and finds its version wrong
    expect(decodeFrame(228, other).warnings).toEqual({ ipv4_bad_header: 1 });
  });
});

describe('unsupported link types', () => {
  it('are counted as unsupported_linktype_<n>, one per frame, and nothing is decoded', () => {
    const warn = new DecodeWarnings();
    const d = newDecoded();
    const frame = ethernet(B.mac, A.mac, ETH_IPV4, ipv4({ src: A.ip, dst: B.ip, proto: 1, payload: icmp(8, 0) }));
    for (let i = 0; i < 3; i++) expect(decodeLink(105, frame, 0, frame.length, d, { type: 0, off: 0 }, warn)).toBe(false);
    expect({ ...warn.counts }).toEqual({ unsupported_linktype_105: 3 });
    expect([d.srcMac, d.dstMac]).toEqual([-1, -1]);
  });
});

const encapTmp = mkdtempSync(join(tmpdir(), 'phonehome-link-'));

/** Captures with DNS, TLS, HTTP, DHCP and mDNS traffic from different devices. */
function samples(): string[] {
  return ['TP-LinkPlugHS110', 'HueBridge', 'EdimaxCam1', 'WeMoSwitch', 'D-LinkCam', 'Withings'].map(fixture);
}

const flowKey = (f: FlowRecord) => `${f.proto} ${f.src_ip}:${f.src_port} ${f.dst_ip}:${f.dst_port} ${f.ts}`;
const sorted = (flows: FlowRecord[]) => [...flows].sort((a, b) => flowKey(a).localeCompare(flowKey(b)));

describe('real captures in every link type', () => {
  const files = samples();

  for (const encap of ['sll', 'sll2', 'raw', 'null', 'loop', 'vlan', 'qinq'] as Encap[]) {
    it(`link type ${encap}: tshark agrees, and the IP flows are those of the Ethernet original`, async () => {
      for (const f of files) {
        const { packets } = await readWithPcapParser(f);
        const out = join(encapTmp, `${basename(f, '.pcap')}-${encap}.pcap`);
        writePcap(out, LINKTYPE[encap], packets.map((p) => reencapsulate(p, encap)).filter((p) => p !== null));
        expect(await compareWithTshark(out), `${f} as ${encap}`).toEqual([]);
        const strip = (fl: FlowRecord[]) =>
          sorted(fl).map((x) => `${x.uid} ${x.community_id} ${x.proto} ${x.src_ip}:${x.src_port} ${x.dst_ip}:${x.dst_port} ${x.src_pkts}/${x.dst_pkts} ${x.server_name}`);
        const original = await phonehomeView([f]);
        const variant = await phonehomeView([out]);
        expect(strip(variant.flows)).toEqual(strip(original.flows));
      }
    }, 120_000);
  }
});

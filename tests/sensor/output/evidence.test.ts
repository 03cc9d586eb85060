// Evidence captures hold exactly the packets of an alert's flows: both
// directions, only inside each flow's time span (a later connection on the
// same ports is not evidence), from every input file, with the original
// bytes, timestamps and lengths. tshark selects the same packets from the
// original capture with a display filter; pcap-parser reads both files.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../../contract/types.js';
import type { FlowRef } from '../../../sensor/detect/engine.js';
import { pcapMissing, writeEvidence, type CutResult } from '../../../sensor/output/evidence.js';
import { packet, tcpSession, udpFrame, type Endpoint } from '../../helpers/build.js';
import { fixture } from '../../helpers/corpus.js';
import { LINKTYPE, reencapsulate } from '../../helpers/encap.js';
import { readWithPcapParser, writePcap, type TestPacket } from '../../helpers/pcap.js';
import { phonehomeView } from '../../helpers/phonehome.js';
import { A as A6, B as B6, ETH_IPV4, ETH_IPV6, ethernet, icmp, ipv4, ipv6, udp } from '../decode/frames.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-evidence-'));
let dirs = 0;
const outDir = () => {
  const d = join(tmp, `ev-${dirs++}`);
  mkdirSync(d);
  return d;
};

const T0 = 1_700_000_000;
const dev: Endpoint = { mac: '50:c7:bf:00:c7:03', ip: '192.168.1.20', port: 40000 };
const other: Endpoint = { mac: '00:17:88:24:76:ff', ip: '192.168.1.30', port: 41000 };
const s1: Endpoint = { mac: '00:b5:6d:06:08:ba', ip: '93.184.216.34', port: 443 };
const s2: Endpoint = { mac: '00:b5:6d:06:08:ba', ip: '203.0.113.5', port: 53 };

/** The scenario: connections of two devices, one of them reusing its ports later, IPv6 and ICMP. */
function scenario(): TestPacket[] {
  const p: TestPacket[] = [
    ...tcpSession(T0, dev, s1), // flow 1
    packet(T0 + 1, udpFrame(dev, { ...s2, port: 53 }, Buffer.from('query'))), // flow 2
    packet(T0 + 1.2, udpFrame({ ...s2, port: 53 }, dev, Buffer.from('answer'))),
    ...tcpSession(T0 + 2, other, s1), // another device to the same server
    ...tcpSession(T0 + 400, dev, s1), // flow 1's ports again, much later: another flow
    // IPv6 UDP both ways
    packet(T0 + 3, ethernet(B6.mac, A6.mac, ETH_IPV6, ipv6(A6.ip6, B6.ip6, 17, udp(5353, 443, Buffer.alloc(30, 1))))),
    packet(T0 + 3.1, ethernet(A6.mac, B6.mac, ETH_IPV6, ipv6(B6.ip6, A6.ip6, 17, udp(443, 5353, Buffer.alloc(60, 2))))),
    // ping and its reply
    packet(T0 + 4, ethernet(s1.mac, dev.mac, ETH_IPV4, ipv4({ src: dev.ip, dst: s1.ip, proto: 1, payload: icmp(8, 0, Buffer.from([0, 7, 0, 1, 9, 9])) }))),
    packet(T0 + 4.01, ethernet(dev.mac, s1.mac, ETH_IPV4, ipv4({ src: s1.ip, dst: dev.ip, proto: 1, payload: icmp(0, 0, Buffer.from([0, 7, 0, 1, 9, 9])) }))),
  ];
  return p.sort((a, b) => a.tsSec - b.tsSec || a.tsUsec - b.tsUsec);
}

const ref = (f: FlowRecord): FlowRef => ({ uid: f.uid, proto: f.proto, src_ip: f.src_ip, src_port: f.src_port, dst_ip: f.dst_ip, dst_port: f.dst_port, ts: f.ts, end: f.ts + f.duration, pkts: f.src_pkts + f.dst_pkts });
/** The file names of the captures that hold packets, by alert. */
const fileNames = (cuts: Map<string, CutResult>) => new Map([...cuts].filter(([, c]) => c.file).map(([id, c]) => [id, c.file!]));

/** tshark's frame numbers (1-based) in `file` matching a display filter. */
function tsharkFrames(file: string, filter: string): number[] {
  const out = execFileSync('tshark', ['-n', '-r', file, '-Y', filter, '-T', 'fields', '-e', 'frame.number'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  return out ? out.split('\n').map(Number) : [];
}

/** A display filter for one flow's packets: its two endpoints, its protocol and ports, its time span. */
function filterOf(f: FlowRecord): string {
  const ipf = f.src_ip.includes(':') ? 'ipv6' : 'ip';
  // (an ICMP echo and its reply are one flow)
  const proto = f.proto === 'tcp' || f.proto === 'udp' ? `${f.proto}.port == ${f.src_port} && ${f.proto}.port == ${f.dst_port}` : f.proto === 'icmp' ? 'icmp' : 'icmpv6';
  return `${ipf}.addr == ${f.src_ip} && ${ipf}.addr == ${f.dst_ip} && ${proto} && frame.time_epoch >= ${(f.ts - 1e-6).toFixed(6)} && frame.time_epoch <= ${(f.ts + f.duration + 1e-6).toFixed(6)}`;
}

/** The packets of `capture` that tshark selects for these flows, as pcap-parser reads them. */
async function expected(capture: string, flows: FlowRecord[]): Promise<TestPacket[]> {
  const all = (await readWithPcapParser(capture)).packets;
  const numbers = new Set(flows.flatMap((f) => tsharkFrames(capture, filterOf(f))));
  return [...numbers].sort((a, b) => a - b).map((n) => all[n - 1]);
}

describe('writeEvidence', () => {
  const capture = join(tmp, 'scenario.pcap');
  let flows: FlowRecord[] = [];
  const flow = (pred: (f: FlowRecord) => boolean, what: string) => {
    const found = flows.filter(pred);
    expect(found, what).toHaveLength(1);
    return found[0];
  };

  beforeAll(async () => {
    writePcap(capture, 1, scenario());
    flows = (await phonehomeView([capture])).flows;
  });

  it("each alert's pcap holds exactly the packets tshark selects for its flows, byte for byte", async () => {
    const first = flow((f) => f.src_ip === dev.ip && f.dst_port === 443 && f.ts < T0 + 100, 'first connection');
    const dns = flow((f) => f.proto === 'udp' && f.dst_ip === s2.ip, 'DNS');
    const v6 = flow((f) => f.src_ip.includes(':'), 'IPv6');
    const ping = flow((f) => f.proto === 'icmp', 'ping');
    const refs = new Map<string, FlowRef[]>([
      ['alert-1', [ref(first), ref(dns)]],
      ['alert-2', [ref(first)]], // a flow may be evidence of several alerts
      ['alert-3', [ref(v6), ref(ping)]],
    ]);
    const dir = outDir();
    const names = fileNames(await writeEvidence([capture], refs, dir));
    expect(new Map(names)).toEqual(new Map([['alert-1', 'alert-1.pcap'], ['alert-2', 'alert-2.pcap'], ['alert-3', 'alert-3.pcap']]));
    const want: Record<string, FlowRecord[]> = { 'alert-1': [first, dns], 'alert-2': [first], 'alert-3': [v6, ping] };
    for (const [id, fl] of Object.entries(want)) {
      const file = join(dir, names.get(id)!);
      const got = await readWithPcapParser(file);
      const exp = await expected(capture, fl);
      expect(got.linktype).toBe(1);
      expect(got.packets, id).toEqual(exp);
      // and tshark reads the evidence file itself as that many frames
      expect(tsharkFrames(file, 'frame').length, id).toBe(exp.length);
    }
    // the reused ports at T0+400 are another flow: not in alert-2's 8 packets
    expect((await readWithPcapParser(join(dir, 'alert-2.pcap'))).packets).toHaveLength(8);
    expect((await readWithPcapParser(join(dir, 'alert-3.pcap'))).packets).toHaveLength(4);
  });

  it('an alert whose flows have no packets in the files gets no file', async () => {
    const ghost: FlowRef = { uid: 'Cghost', proto: 'tcp', src_ip: '10.9.9.9', src_port: 1, dst_ip: '10.8.8.8', dst_port: 2, ts: T0, end: T0 + 10, pkts: 3 };
    const late: FlowRef = { ...ref(flow((f) => f.proto === 'udp' && f.dst_ip === s2.ip, 'DNS')), ts: T0 + 5000, end: T0 + 5001 };
    const dir = outDir();
    const cuts = await writeEvidence([capture], new Map([['ghost', [ghost]], ['late', [late]]]), dir);
    expect(fileNames(cuts).size).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
    // and the alert says its capture lacks them, not found in the files
    const e = { first_seen: T0, last_seen: T0 + 10, flows: 1, packets: 3, bytes_out: 0, bytes_in: 0, uids: ['Cghost'] };
    expect(pcapMissing(e, { refs: [ghost], unkept: new Set() }, cuts.get('ghost'))).toMatchObject({ flows: 1, packets: 3, causes: ['not-found'], partial: ['Cghost'] });
  });

  it('a capture split in two files gives the same evidence as the whole', async () => {
    const parts = join(tmp, 'split');
    mkdirSync(parts);
    execFileSync('editcap', ['-c', '7', capture, join(parts, 'part.pcap')]);
    const files = readdirSync(parts).sort().map((f) => join(parts, f));
    expect(files.length).toBeGreaterThan(2);
    const refs = new Map([['a', flows.filter((f) => f.src_ip === dev.ip).map(ref)]]);
    const whole = outDir();
    const split = outDir();
    await writeEvidence([capture], refs, whole);
    await writeEvidence(files, refs, split);
    const w = await readWithPcapParser(join(whole, 'a.pcap'));
    expect(w.packets.length).toBeGreaterThan(15);
    expect((await readWithPcapParser(join(split, 'a.pcap'))).packets).toEqual(w.packets);
  });

  it('snapped packets keep their captured and original lengths; nanosecond captures become microsecond', async () => {
    const snapped = join(tmp, 'snapped.pcap');
    execFileSync('editcap', ['-s', '60', '-F', 'nsecpcap', capture, snapped]);
    const refs = new Map([['s', [ref(flow((f) => f.src_ip === dev.ip && f.dst_port === 443 && f.ts < T0 + 100, 'first connection'))]]]);
    const dir = outDir();
    await writeEvidence([snapped], refs, dir);
    const got = (await readWithPcapParser(join(dir, 's.pcap'))).packets;
    const original = await expected(capture, [flows.find((f) => f.src_ip === dev.ip && f.dst_port === 443)!]);
    expect(got.map((p) => [p.tsSec, p.tsUsec, p.wirelen])).toEqual(original.map((p) => [p.tsSec, p.tsUsec, p.wirelen]));
    expect(got.map((p) => p.data)).toEqual(original.map((p) => p.data.subarray(0, 60)));
  });

  it('keeps the link type of the input; a flow seen on two interfaces of different link types keeps the first', async () => {
    const pk = scenario();
    const sll = join(tmp, 'scenario-sll.pcap');
    writePcap(sll, LINKTYPE.sll, pk.map((p) => reencapsulate(p, 'sll')!));
    const refs = new Map([['x', [ref(flow((f) => f.proto === 'udp' && f.dst_ip === s2.ip, 'DNS'))]]]);
    const dir = outDir();
    await writeEvidence([sll], refs, dir);
    const fromSll = await readWithPcapParser(join(dir, 'x.pcap'));
    expect(fromSll.linktype).toBe(113);
    expect(fromSll.packets).toEqual(await expected(sll, [flows.find((f) => f.proto === 'udp' && f.dst_ip === s2.ip)!]));
    // the same packets on an Ethernet and an SLL interface of one pcapng (concatenated, so
    // one interface's packets come first): only those of the first kind are kept
    for (const [order, linktype] of [[[capture, sll], 1], [[sll, capture], 113]] as const) {
      const merged = join(tmp, `two-interfaces-${linktype}.pcapng`);
      execFileSync('mergecap', ['-a', '-F', 'pcapng', '-w', merged, ...order]);
      const dir2 = outDir();
      await writeEvidence([merged], refs, dir2);
      const fromMerged = await readWithPcapParser(join(dir2, 'x.pcap'));
      expect(fromMerged.linktype).toBe(linktype);
      expect(fromMerged.packets).toEqual(linktype === 1 ? await expected(capture, [flows.find((f) => f.proto === 'udp' && f.dst_ip === s2.ip)!]) : fromSll.packets);
    }
  });

  it('a capture stops growing at its size bound, and the alert says how many packets of which flow it lacks and why', async () => {
    const many: TestPacket[] = [];
    for (let i = 0; i < 2300; i++) many.push(packet(T0 + i * 0.001, udpFrame(dev, { ...s2, port: 9999 }, Buffer.from(String(i)))));
    const f = join(tmp, 'many.pcap');
    writePcap(f, 1, many);
    const big = (await phonehomeView([f])).flows;
    expect(big).toHaveLength(1);
    const dir = outDir();
    // room for the header and exactly 1000 records of this size
    const recBytes = 16 + many[500].data.length;
    expect(many.slice(0, 1000).every((p) => p.data.length <= many[500].data.length)).toBe(true);
    const bound = 24 + 1000 * recBytes;
    const cuts = await writeEvidence([f], new Map([['big', [ref(big[0])]]]), dir, bound);
    const got = (await readWithPcapParser(join(dir, 'big.pcap'))).packets;
    expect(got.length).toBeGreaterThanOrEqual(1000);
    expect(got).toEqual(many.slice(0, got.length));
    const e = { first_seen: T0, last_seen: T0 + 3, flows: 1, packets: 2300, bytes_out: 0, bytes_in: 0, uids: [big[0].uid] };
    const missing = pcapMissing(e, { refs: [ref(big[0])], unkept: new Set() }, cuts.get('big'), bound);
    expect(missing).toMatchObject({ flows: 1, packets: 2300 - got.length, causes: ['size'], partial: [big[0].uid] });
    expect(missing!.reason).toContain(`size bound (${bound.toLocaleString('en-US')} bytes)`);
    // without a bound worth the name, the capture holds all 2,300
    const all = outDir();
    const whole = await writeEvidence([f], new Map([['big', [ref(big[0])]]]), all);
    expect((await readWithPcapParser(join(all, 'big.pcap'))).packets).toEqual(many);
    expect(pcapMissing(e, { refs: [ref(big[0])], unkept: new Set() }, whole.get('big'))).toBeNull();
  });

  it('on a real capture: the evidence of every flow of a device is every packet tshark gives for its conversations', async () => {
    const real = fixture('TP-LinkPlugHS110');
    const v = await phonehomeView([real]);
    const mac = '50:c7:bf:00:c7:03';
    const mine = v.flows.filter((f) => (f.proto === 'tcp' || f.proto === 'udp') && f.src_mac === mac);
    expect(mine.length).toBeGreaterThan(3);
    const dir = outDir();
    await writeEvidence([real], new Map([['plug', mine.map(ref)]]), dir);
    const got = (await readWithPcapParser(join(dir, 'plug.pcap'))).packets;
    expect(got).toEqual(await expected(real, mine));
  });
});

// ARP tells who is on the local network: parseArp reads the sender MAC and
// IPv4 address of every Ethernet/IPv4 ARP packet as tshark does, behind any
// link layer that carries ARP, and refuses ARP for other hardware or
// protocols and packets too short to hold both addresses.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCaptureFile } from '../../../sensor/capture/reader.js';
import { parseArp, type ArpSender } from '../../../sensor/decode/arp.js';
import { newDecoded } from '../../../sensor/decode/decoded.js';
import { decodePacket } from '../../../sensor/decode/packet.js';
import { DecodeWarnings } from '../../../sensor/decode/warnings.js';
import { FIXTURES } from '../../helpers/corpus.js';
import { LINKTYPE, reencapsulate } from '../../helpers/encap.js';
import { readWithPcapParser, writePcap, type TestPacket } from '../../helpers/pcap.js';
import { A, B, decodeFrame, ETH_ARP, ethernet, ip4Bytes, ip4Number, macBytes, macNumber, tmp, tsharkFields } from './frames.js';

/** Sender of each ARP frame of a capture per phonehome, in frame order (null for frames that are not ARP). */
async function arpSenders(file: string): Promise<(ArpSender | null | 'refused')[]> {
  const out: (ArpSender | null | 'refused')[] = [];
  const d = newDecoded();
  const warn = new DecodeWarnings();
  await readCaptureFile(file, (p) => {
    decodePacket(p, d, warn);
    out.push(d.isArp ? (parseArp(d.data, d.payOff, d.payLen) ?? 'refused') : null);
  });
  return out;
}

/** An ARP packet (RFC 826) for Ethernet and IPv4 unless told otherwise. */
function arp(op: number, senderMac: string, senderIp: string, targetIp: string, o: { htype?: number; ptype?: number; hlen?: number; plen?: number } = {}): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16BE(o.htype ?? 1, 0);
  b.writeUInt16BE(o.ptype ?? 0x0800, 2);
  b[4] = o.hlen ?? 6;
  b[5] = o.plen ?? 4;
  b.writeUInt16BE(op, 6);
  macBytes(senderMac).copy(b, 8);
  ip4Bytes(senderIp).copy(b, 14);
  ip4Bytes(targetIp).copy(b, 24);
  return b;
}

describe('ARP senders', () => {
  it('every ARP frame of the bundled captures: the sender MAC and IPv4 address tshark reads', async () => {
    const packets: TestPacket[] = [];
    for (const f of readdirSync(FIXTURES).filter((n) => n.endsWith('.pcap')).sort()) packets.push(...(await readWithPcapParser(join(FIXTURES, f))).packets);
    for (const encap of ['ethernet', 'vlan', 'qinq', 'sll', 'sll2'] as const) {
      const file = join(tmp, `arp-${encap}.pcap`);
      writePcap(file, encap === 'ethernet' ? 1 : LINKTYPE[encap], encap === 'ethernet' ? packets : packets.map((p) => reencapsulate(p, encap)!));
      const [ours, t] = await Promise.all([arpSenders(file), tsharkFields(file, ['arp.opcode', 'arp.src.hw_mac', 'arp.src.proto_ipv4'])]);
      expect(ours.length).toBe(t.length);
      const theirs = t.map((x) => (x['arp.opcode'] ? { mac: macNumber(x['arp.src.hw_mac']), ip: ip4Number(x['arp.src.proto_ipv4']) } : null));
      expect(theirs.filter(Boolean).length, encap).toBeGreaterThan(20);
      expect(ours, encap).toEqual(theirs);
    }
  });

  it('requests, replies and gratuitous ARP give their sender', () => {
    for (const [op, ip, target] of [[1, A.ip, '192.168.1.1'], [2, '192.168.1.1', A.ip], [1, A.ip, A.ip]] as const) {
      const r = decodeFrame(1, ethernet('ff:ff:ff:ff:ff:ff', A.mac, ETH_ARP, arp(op, A.mac, ip, target)));
      expect(r.ok).toBe(false);
      expect(r.d.isArp).toBe(true);
      expect(parseArp(r.d.data, r.d.payOff, r.d.payLen)).toEqual({ mac: macNumber(A.mac), ip: ip4Number(ip) });
    }
  });

  it('ARP padded to the Ethernet minimum reads the same sender', () => {
    const frame = Buffer.concat([ethernet(B.mac, A.mac, ETH_ARP, arp(2, B.mac, '10.0.0.1', '10.0.0.2')), Buffer.alloc(18)]);
    const r = decodeFrame(1, frame);
    expect(parseArp(r.d.data, r.d.payOff, r.d.payLen)).toEqual({ mac: macNumber(B.mac), ip: ip4Number('10.0.0.1') });
  });

  it('refuses ARP for other hardware (IEEE 802, type 6) or protocols, other address sizes, and fewer than 28 bytes', () => {
    const good = arp(1, A.mac, A.ip, B.ip);
    expect(parseArp(good, 0, 28)).not.toBeNull();
    expect(parseArp(arp(1, A.mac, A.ip, B.ip, { htype: 6 }), 0, 28)).toBeNull();
    expect(parseArp(arp(1, A.mac, A.ip, B.ip, { ptype: 0x86dd }), 0, 28)).toBeNull();
    expect(parseArp(arp(1, A.mac, A.ip, B.ip, { hlen: 8 }), 0, 28)).toBeNull();
    expect(parseArp(arp(1, A.mac, A.ip, B.ip, { plen: 16 }), 0, 28)).toBeNull();
    for (let len = 0; len < 28; len++) expect(parseArp(good, 0, len)).toBeNull();
  });

  it('reads at the given offset, not the start of the buffer', () => {
    const b = Buffer.concat([Buffer.alloc(11, 0xff), arp(1, B.mac, '172.16.5.4', A.ip)]);
    expect(parseArp(b, 11, 28)).toEqual({ mac: macNumber(B.mac), ip: ip4Number('172.16.5.4') });
  });
});

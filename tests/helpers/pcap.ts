import { writeFileSync } from 'node:fs';
import * as pcapParser from 'pcap-parser';

export interface TestPacket {
  tsSec: number;
  tsUsec: number;
  data: Buffer;
  wirelen: number;
}

/** Every packet of a classic pcap as pcap-parser (the reference reader) frames it. */
export function readWithPcapParser(file: string): Promise<{ linktype: number; packets: TestPacket[] }> {
  return new Promise((resolve, reject) => {
    const p = pcapParser.parse(file);
    let linktype = -1;
    const packets: TestPacket[] = [];
    p.on('globalHeader', (h) => (linktype = h.linkLayerType));
    p.on('packet', (pk) => packets.push({ tsSec: pk.header.timestampSeconds, tsUsec: pk.header.timestampMicroseconds, data: Buffer.from(pk.data), wirelen: pk.header.originalLength }));
    p.on('error', reject);
    p.on('end', () => resolve({ linktype, packets }));
  });
}

/** Writes a classic microsecond pcap, little- or big-endian. */
export function writePcap(file: string, linktype: number, packets: TestPacket[], bigEndian = false): void {
  const parts: Buffer[] = [];
  const h = Buffer.alloc(24);
  const w32 = (b: Buffer, v: number, o: number) => (bigEndian ? b.writeUInt32BE(v, o) : b.writeUInt32LE(v, o));
  const w16 = (b: Buffer, v: number, o: number) => (bigEndian ? b.writeUInt16BE(v, o) : b.writeUInt16LE(v, o));
  w32(h, 0xa1b2c3d4, 0);
  w16(h, 2, 4);
  w16(h, 4, 6);
  w32(h, 262144, 16);
  w32(h, linktype, 20);
  parts.push(h);
  for (const p of packets) {
    const r = Buffer.alloc(16);
    w32(r, p.tsSec, 0);
    w32(r, p.tsUsec, 4);
    w32(r, p.data.length, 8);
    w32(r, p.wirelen, 12);
    parts.push(r, p.data);
  }
  writeFileSync(file, Buffer.concat(parts));
}

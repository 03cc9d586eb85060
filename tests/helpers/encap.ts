// Re-encapsulates Ethernet frames in other link types, so one real capture
// can exercise every link-layer decoder (and tshark can check each result).
import type { TestPacket } from './pcap.js';

export type Encap = 'sll' | 'sll2' | 'raw' | 'null' | 'loop' | 'vlan' | 'qinq';

export const LINKTYPE: Record<Encap, number> = { sll: 113, sll2: 276, raw: 101, null: 0, loop: 108, vlan: 1, qinq: 1 };

function withHeader(p: TestPacket, header: Buffer, strip: number): TestPacket {
  const data = Buffer.concat([header, p.data.subarray(strip)]);
  return { ...p, data, wirelen: p.wirelen - strip + header.length };
}

/** null when the frame has no equivalent in that link type (non-IP frames on IP-only links). */
export function reencapsulate(p: TestPacket, to: Encap): TestPacket | null {
  const d = p.data;
  if (d.length < 14) return null;
  const type = d.readUInt16BE(12);
  const isIp = type === 0x0800 || type === 0x86dd;
  switch (to) {
    case 'sll': {
      const h = Buffer.alloc(16);
      h.writeUInt16BE(0, 0);
      h.writeUInt16BE(1, 2);
      h.writeUInt16BE(6, 4);
      d.copy(h, 6, 6, 12);
      h.writeUInt16BE(type, 14);
      return withHeader(p, h, 14);
    }
    case 'sll2': {
      const h = Buffer.alloc(20);
      h.writeUInt16BE(type, 0);
      h.writeUInt32BE(1, 4);
      h.writeUInt16BE(1, 8);
      h[10] = 0;
      h[11] = 6;
      d.copy(h, 12, 6, 12);
      return withHeader(p, h, 14);
    }
    case 'raw':
      return isIp ? withHeader(p, Buffer.alloc(0), 14) : null;
    case 'null':
    case 'loop': {
      if (!isIp) return null;
      const h = Buffer.alloc(4);
      const family = type === 0x0800 ? 2 : 30;
      if (to === 'null') h.writeUInt32LE(family);
      else h.writeUInt32BE(family);
      return withHeader(p, h, 14);
    }
    case 'vlan':
    case 'qinq': {
      const tags = to === 'vlan' ? [[0x8100, 42]] : [[0x88a8, 100], [0x8100, 42]];
      const h = Buffer.alloc(12 + tags.length * 4);
      d.copy(h, 0, 0, 12);
      tags.forEach(([tpid, vid], i) => {
        h.writeUInt16BE(tpid, 12 + i * 4);
        h.writeUInt16BE(vid, 14 + i * 4);
      });
      return withHeader(p, h, 12);
    }
  }
}

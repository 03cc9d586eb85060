/** Sender of an Ethernet/IPv4 ARP packet, which tells us a local host's MAC and IP. */
export interface ArpSender {
  mac: number;
  ip: number;
}

export function parseArp(b: Buffer, off: number, len: number): ArpSender | null {
  if (len < 28) return null;
  // hardware type Ethernet, protocol IPv4, address sizes 6 and 4
  if (b.readUInt16BE(off) !== 1 || b.readUInt16BE(off + 2) !== 0x0800 || b[off + 4] !== 6 || b[off + 5] !== 4) return null;
  return { mac: b.readUIntBE(off + 8, 6), ip: b.readUInt32BE(off + 14) };
}

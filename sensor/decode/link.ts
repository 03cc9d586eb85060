import type { Decoded } from './decoded.js';
import type { DecodeWarnings } from './warnings.js';
import { u16, u32 } from '../util/bytes.js';

export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;
// Some platforms write DLT_RAW's historic values.
const LINKTYPE_RAW_ALT1 = 12;
const LINKTYPE_RAW_ALT2 = 14;

export const ETH_IPV4 = 0x0800;
export const ETH_ARP = 0x0806;
export const ETH_IPV6 = 0x86dd;
const ETH_VLAN = 0x8100;
const ETH_QINQ = 0x88a8;
const ETH_QINQ_OLD = 0x9100;
const ARPHRD_ETHER = 1;

function mac(b: Buffer, o: number): number {
  // By hand: readUIntBE validates its arguments on every call, twice per frame.
  return ((b[o] << 8) | b[o + 1]) * 4294967296 + (((b[o + 2] << 24) | (b[o + 3] << 16) | (b[o + 4] << 8) | b[o + 5]) >>> 0);
}

function byVersion(b: Buffer, o: number, end: number): number {
  if (o >= end) return 0;
  const v = b[o] >> 4;
  return v === 4 ? ETH_IPV4 : v === 6 ? ETH_IPV6 : 0;
}

/** Where the network header starts and what it is (an ethertype). */
export interface LinkOut {
  type: number;
  off: number;
}

/** Strips the link layer and sets the MACs on `d`; false when nothing above it can be decoded. */
export function decodeLink(linktype: number, b: Buffer, off: number, end: number, d: Decoded, out: LinkOut, warn: DecodeWarnings): boolean {
  d.srcMac = -1;
  d.dstMac = -1;
  switch (linktype) {
    case LINKTYPE_ETHERNET: {
      if (end - off < 14) return bad(warn, 'ethernet_truncated');
      d.dstMac = mac(b, off);
      d.srcMac = mac(b, off + 6);
      let type = u16(b, off + 12);
      let o = off + 14;
      while (type === ETH_VLAN || type === ETH_QINQ || type === ETH_QINQ_OLD) {
        if (end - o < 4) return bad(warn, 'vlan_truncated');
        type = u16(b, o + 2);
        o += 4;
      }
      out.type = type;
      out.off = o;
      return true;
    }
    case LINKTYPE_LINUX_SLL: {
      if (end - off < 16) return bad(warn, 'sll_truncated');
      if (u16(b, off + 2) === ARPHRD_ETHER && u16(b, off + 4) === 6) d.srcMac = mac(b, off + 6);
      out.type = u16(b, off + 14);
      out.off = off + 16;
      return true;
    }
    case LINKTYPE_LINUX_SLL2: {
      if (end - off < 20) return bad(warn, 'sll2_truncated');
      if (u16(b, off + 8) === ARPHRD_ETHER && b[off + 11] === 6) d.srcMac = mac(b, off + 12);
      out.type = u16(b, off);
      out.off = off + 20;
      return true;
    }
    case LINKTYPE_RAW:
    case LINKTYPE_RAW_ALT1:
    case LINKTYPE_RAW_ALT2:
      out.type = byVersion(b, off, end);
      out.off = off;
      return true;
    case LINKTYPE_IPV4:
      out.type = ETH_IPV4;
      out.off = off;
      return true;
    case LINKTYPE_IPV6:
      out.type = ETH_IPV6;
      out.off = off;
      return true;
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP: {
      if (end - off < 4) return bad(warn, 'loopback_truncated');
      // NULL stores the address family in the writer's byte order; LOOP in network order.
      // AF_INET is 2 everywhere; AF_INET6 is 24, 28 or 30 depending on the BSD.
      const be = u32(b, off);
      const family = linktype === LINKTYPE_LOOP || be < 0x10000 ? be : b.readUInt32LE(off);
      out.type = family === 2 ? ETH_IPV4 : family === 24 || family === 28 || family === 30 ? ETH_IPV6 : 0;
      out.off = off + 4;
      return true;
    }
    default:
      warn.add(`unsupported_linktype_${linktype}`);
      return false;
  }
}

function bad(warn: DecodeWarnings, kind: string): false {
  warn.add(kind);
  return false;
}

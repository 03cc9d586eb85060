import { ICMP, ICMP6, TCP, UDP, type Decoded } from './decoded.js';
import type { DecodeWarnings } from './warnings.js';
import { u16 } from '../util/bytes.js';

// Request/reply ICMP types that form one bidirectional conversation, as the
// Community ID specification pairs them (so flows and community_id agree).
const ICMP4_PAIRS = new Map<number, number>([[8, 0], [0, 8], [13, 14], [14, 13], [15, 16], [16, 15], [10, 9], [9, 10], [17, 18], [18, 17]]);
const ICMP6_PAIRS = new Map<number, number>([
  [128, 129], [129, 128], [130, 131], [131, 130], [133, 134], [134, 133],
  [135, 136], [136, 135], [139, 140], [140, 139], [144, 145], [145, 144],
]);

/** Decodes TCP, UDP or ICMP at `off`; sets ports, flags and payload bounds. False when malformed. */
export function decodeTransport(b: Buffer, off: number, end: number, d: Decoded, warn: DecodeWarnings): boolean {
  const avail = end - off;
  switch (d.proto) {
    case TCP: {
      if (avail < 20) return bad(warn, 'tcp_truncated');
      const hlen = (b[off + 12] >> 4) * 4;
      if (hlen < 20) return bad(warn, 'tcp_bad_header_length');
      d.sport = u16(b, off);
      d.dport = u16(b, off + 2);
      d.tcpFlags = b[off + 13];
      if (avail < hlen) {
        // Options cut off by the snap length: ports and flags are still good.
        d.payOff = end;
        d.payLen = 0;
        return true;
      }
      d.payOff = off + hlen;
      d.payLen = avail - hlen;
      return true;
    }
    case UDP: {
      if (avail < 8) return bad(warn, 'udp_truncated');
      d.sport = u16(b, off);
      d.dport = u16(b, off + 2);
      const ulen = u16(b, off + 4);
      d.payOff = off + 8;
      d.payLen = ulen >= 8 && ulen - 8 < avail - 8 ? ulen - 8 : avail - 8;
      return true;
    }
    case ICMP:
    case ICMP6: {
      if (avail < 4) return bad(warn, d.proto === ICMP ? 'icmp_truncated' : 'icmp6_truncated');
      const type = b[off];
      const code = b[off + 1];
      d.icmpType = type;
      d.icmpCode = code;
      const peer = (d.proto === ICMP ? ICMP4_PAIRS : ICMP6_PAIRS).get(type);
      d.sport = type;
      d.dport = peer ?? code;
      d.payOff = off + 4;
      d.payLen = avail - 4;
      return true;
    }
    default:
      d.payOff = off;
      d.payLen = avail;
      return true;
  }
}

/** ICMP types without a reply type are one-way: Community ID does not reorder their endpoints. */
export function icmpIsOneWay(proto: number, type: number): boolean {
  return !(proto === ICMP ? ICMP4_PAIRS : ICMP6_PAIRS).has(type);
}

function bad(warn: DecodeWarnings, kind: string): false {
  warn.add(kind);
  return false;
}

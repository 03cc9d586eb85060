import type { RawPacket } from '../capture/packet.js';
import type { Decoded } from './decoded.js';
import { decodeIPv4, decodeIPv6 } from './ip.js';
import { decodeLink, ETH_ARP, ETH_IPV4, ETH_IPV6, type LinkOut } from './link.js';
import { decodeTransport } from './transport.js';
import type { DecodeWarnings } from './warnings.js';

const link: LinkOut = { type: 0, off: 0 };
const ipEnd = { end: 0 };

/**
 * Decodes one frame into the reused `d`. Returns false for frames with no IP
 * flow (non-IP, malformed); ARP frames return false with `d.isArp` set.
 */
export function decodePacket(p: RawPacket, d: Decoded, warn: DecodeWarnings): boolean {
  const b = p.data;
  const end = p.off + p.caplen;
  d.data = b;
  d.ts = p.tsSec + p.tsNsec / 1e9;
  d.wirelen = p.wirelen;
  d.ipVersion = 0;
  d.isArp = false;
  d.fragment = false;
  d.proto = -1;
  d.sport = 0;
  d.dport = 0;
  d.tcpFlags = 0;
  d.icmpType = -1;
  d.icmpCode = -1;
  d.payOff = 0;
  d.payLen = 0;
  if (!decodeLink(p.linktype, b, p.off, end, d, link, warn)) return false;
  let l4: number;
  if (link.type === ETH_IPV4) l4 = decodeIPv4(b, link.off, end, d, warn, ipEnd);
  else if (link.type === ETH_IPV6) l4 = decodeIPv6(b, link.off, end, d, warn, ipEnd);
  else {
    if (link.type === ETH_ARP) {
      d.isArp = true;
      d.payOff = link.off;
      d.payLen = end - link.off;
    }
    return false;
  }
  // Non-first fragments carry no ports; they are counted (as warnings) but not put in flows.
  if (l4 < 0) return false;
  return decodeTransport(b, l4, ipEnd.end, d, warn);
}

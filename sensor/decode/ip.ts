import type { Decoded } from './decoded.js';
import type { DecodeWarnings } from './warnings.js';
import { u16, u32 } from '../util/bytes.js';

/**
 * IPv4 header: sets addresses and protocol, returns the transport header offset
 * or -1. A non-first fragment returns -1 with `d.fragment` set.
 * `end` is clipped to the IP total length so Ethernet padding is not payload.
 */
export function decodeIPv4(b: Buffer, off: number, end: number, d: Decoded, warn: DecodeWarnings, endOut: { end: number }): number {
  if (end - off < 20) return fail(warn, 'ipv4_truncated');
  const vihl = b[off];
  const ihl = (vihl & 0x0f) * 4;
  if (vihl >> 4 !== 4 || ihl < 20) return fail(warn, 'ipv4_bad_header');
  if (end - off < ihl) return fail(warn, 'ipv4_truncated');
  const total = u16(b, off + 2);
  if (total < ihl) return fail(warn, 'ipv4_bad_length');
  // A total length beyond the captured bytes is normal with a snap length; keep what we have.
  if (off + total < end) end = off + total;
  endOut.end = end;
  d.ipVersion = 4;
  d.src4 = u32(b, off + 12);
  d.dst4 = u32(b, off + 16);
  d.proto = b[off + 9];
  const frag = u16(b, off + 6);
  const fragOffset = frag & 0x1fff;
  if (fragOffset !== 0 || frag & 0x2000) warn.add('ipv4_fragment');
  if (fragOffset !== 0) {
    d.fragment = true;
    return -1;
  }
  return off + ihl;
}

// Extension headers that share the generic (next header, length in 8-octet units) layout.
const HOP_BY_HOP = 0;
const ROUTING = 43;
const FRAGMENT = 44;
const AH = 51;
const DEST_OPTS = 60;
const MOBILITY = 135;
const HIP = 139;
const SHIM6 = 140;
const NO_NEXT = 59;
const MAX_EXT_HEADERS = 16;

/** IPv6 header and extension header chain; returns the transport header offset or -1. */
export function decodeIPv6(b: Buffer, off: number, end: number, d: Decoded, warn: DecodeWarnings, endOut: { end: number }): number {
  if (end - off < 40) return fail(warn, 'ipv6_truncated');
  if (b[off] >> 4 !== 6) return fail(warn, 'ipv6_bad_header');
  const payload = u16(b, off + 4);
  // Jumbograms (payload length 0) keep the captured end.
  if (payload !== 0 && off + 40 + payload < end) end = off + 40 + payload;
  endOut.end = end;
  d.ipVersion = 6;
  d.src6Off = off + 8;
  d.dst6Off = off + 24;
  let next = b[off + 6];
  let o = off + 40;
  for (let n = 0; n < MAX_EXT_HEADERS; n++) {
    switch (next) {
      case HOP_BY_HOP:
      case ROUTING:
      case DEST_OPTS:
      case MOBILITY:
      case HIP:
      case SHIM6: {
        if (end - o < 8) return fail(warn, 'ipv6_ext_truncated');
        next = b[o];
        o += (b[o + 1] + 1) * 8;
        break;
      }
      case AH: {
        if (end - o < 8) return fail(warn, 'ipv6_ext_truncated');
        next = b[o];
        o += (b[o + 1] + 2) * 4;
        break;
      }
      case FRAGMENT: {
        if (end - o < 8) return fail(warn, 'ipv6_ext_truncated');
        const fragOffset = u16(b, o + 2) >> 3;
        const more = b[o + 3] & 1;
        next = b[o];
        o += 8;
        if (fragOffset !== 0 || more) warn.add('ipv6_fragment');
        if (fragOffset !== 0) {
          d.proto = next;
          d.fragment = true;
          return -1;
        }
        break;
      }
      case NO_NEXT:
        d.proto = next;
        return -1;
      default:
        if (o > end) return fail(warn, 'ipv6_ext_truncated');
        d.proto = next;
        return o;
    }
  }
  return fail(warn, 'ipv6_too_many_ext_headers');
}

function fail(warn: DecodeWarnings, kind: string): -1 {
  warn.add(kind);
  return -1;
}


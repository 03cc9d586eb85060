/**
 * PCP (RFC 6887) MAP requests a client sends to its gateway's UDP port 5351:
 * version 2, the R bit clear, opcode 1, the lifetime asked for, the client's
 * address (who the mapping is for; another host's with THIRD_PARTY), then
 * the protocol, internal port and the external port and address suggested.
 * A lifetime of 0 asks for a mapping to be removed.
 */
import { ip4String, ip6String } from '../util/addr.js';
import { validRange } from './text.js';

export interface PcpMapping {
  /** 'tcp', 'udp', 'all' (protocol 0) or the IANA protocol number */
  protocol: string;
  /** 0: every port (with protocol 0) */
  internalPort: number;
  /** 0: any port the gateway chooses */
  externalPort: number;
  lifetimeS: number;
  /** the PCP client address field: who asks for the mapping */
  client: string;
  /** the external address suggested; null for none (all zeros) */
  externalIp: string | null;
}

const VERSION = 2;
const MAP = 1;
const HEADER = 24;
const MAP_BODY = 36;
/** RFC 6887 §7: requests are at most 1100 bytes, a multiple of 4. */
const MAX_REQUEST = 1100;

/** Parses a PCP MAP request at b[off, off + len), or null when it is not one. */
export function parsePcpMapRequest(b: Buffer, off: number, len: number): PcpMapping | null {
  if (!validRange(b, off, len) || len < HEADER + MAP_BODY || len > MAX_REQUEST || len % 4 !== 0) return null;
  if (b[off] !== VERSION || b[off + 1] !== MAP) return null;
  const m = off + HEADER;
  const proto = b[m + 12];
  return {
    protocol: proto === 6 ? 'tcp' : proto === 17 ? 'udp' : proto === 0 ? 'all' : String(proto),
    internalPort: b.readUInt16BE(m + 16),
    externalPort: b.readUInt16BE(m + 18),
    lifetimeS: b.readUInt32BE(off + 4),
    client: address(b, off + 8),
    externalIp: suggested(address(b, m + 20)),
  };
}

/** All zeros (::, or ::ffff:0.0.0.0 for IPv4) suggest no address. */
const suggested = (ip: string): string | null => (ip === '0.0.0.0' || ip === '::' ? null : ip);

/** A 16-byte PCP address: IPv4-mapped ones (::ffff:a.b.c.d) in dotted form. */
function address(b: Buffer, p: number): string {
  const mapped = b.readUInt32BE(p) === 0 && b.readUInt32BE(p + 4) === 0 && b.readUInt32BE(p + 8) === 0xffff;
  return mapped ? ip4String(b.readUInt32BE(p + 12)) : ip6String(b, p);
}

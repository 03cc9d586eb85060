/**
 * NAT-PMP (RFC 6886) mapping requests a client sends to its gateway's UDP
 * port 5351: version 0, opcode 1 (UDP) or 2 (TCP), the internal port, the
 * external port suggested and the lifetime asked for. A lifetime of 0 asks
 * for a mapping to be removed. The gateway's answers (opcode 128 and up) and
 * the external address request (opcode 0) are not mapping requests.
 */
import { validRange } from './text.js';

export interface NatPmpMapping {
  protocol: 'tcp' | 'udp';
  internalPort: number;
  /** 0: any port the gateway chooses */
  externalPort: number;
  lifetimeS: number;
}

/** The UDP port NAT-PMP and PCP servers listen on. */
export const PORT_CONTROL_PORT = 5351;

/** Parses a NAT-PMP mapping request at b[off, off + len), or null when it is not one. */
export function parseNatPmpRequest(b: Buffer, off: number, len: number): NatPmpMapping | null {
  // A request is exactly 12 bytes; a longer datagram is something else.
  if (!validRange(b, off, len) || len !== 12 || b[off] !== 0) return null;
  const op = b[off + 1];
  if (op !== 1 && op !== 2) return null;
  if (b.readUInt16BE(off + 2) !== 0) return null;
  return { protocol: op === 1 ? 'udp' : 'tcp', internalPort: b.readUInt16BE(off + 4), externalPort: b.readUInt16BE(off + 6), lifetimeS: b.readUInt32BE(off + 8) };
}

import type { DnsRecord } from '../../contract/types.js';

/** The ports of the few protocols whose payloads name destinations or describe devices. */
export const DNS_PORTS: Record<number, DnsRecord['proto']> = { 53: 'dns', 5353: 'mdns', 5355: 'llmnr' };

export const isDhcp = (sport: number, dport: number): boolean => sport === 67 || sport === 68 || dport === 67 || dport === 68;
export const isDhcp6 = (sport: number, dport: number): boolean => sport === 546 || sport === 547 || dport === 546 || dport === 547;
export const isSsdp = (sport: number, dport: number): boolean => sport === 1900 || dport === 1900;

/**
 * Length of the DNS message in a TCP payload at b[off, off + len) (a 2-byte
 * length, then the message), or -1 unless the segment holds all of it: only
 * whole messages in one segment are read.
 */
export function tcpDnsLength(b: Buffer, off: number, len: number): number {
  if (len <= 2) return -1;
  const n = b.readUInt16BE(off);
  return n <= len - 2 ? n : -1;
}

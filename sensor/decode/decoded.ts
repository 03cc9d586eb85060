/** Link, network and transport headers of one frame. One instance is reused for every packet. */
export interface Decoded {
  data: Buffer;
  /** epoch seconds */
  ts: number;
  wirelen: number;
  /** 48-bit MACs as numbers, -1 when the link layer has none */
  srcMac: number;
  dstMac: number;
  /** 0 none, 4 IPv4, 6 IPv6 */
  ipVersion: 0 | 4 | 6;
  isArp: boolean;
  /** IPv4 addresses as unsigned 32-bit numbers */
  src4: number;
  dst4: number;
  /** offsets of the 16-byte IPv6 addresses in data */
  src6Off: number;
  dst6Off: number;
  /** IP protocol number of the transport header (after IPv6 extension headers) */
  proto: number;
  /** a non-first IPv4/IPv6 fragment: no transport header */
  fragment: boolean;
  /** ports; for ICMP the Community ID port equivalents of type and code */
  sport: number;
  dport: number;
  tcpFlags: number;
  icmpType: number;
  icmpCode: number;
  /** transport payload within data */
  payOff: number;
  payLen: number;
}

export function newDecoded(): Decoded {
  return {
    data: Buffer.alloc(0), ts: 0, wirelen: 0, srcMac: -1, dstMac: -1, ipVersion: 0, isArp: false,
    src4: 0, dst4: 0, src6Off: 0, dst6Off: 0, proto: -1, fragment: false, sport: 0, dport: 0,
    tcpFlags: 0, icmpType: -1, icmpCode: -1, payOff: 0, payLen: 0,
  };
}

export const TCP = 6;
export const UDP = 17;
export const ICMP = 1;
export const ICMP6 = 58;

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const ACK = 0x10;

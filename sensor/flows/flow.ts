import type { AppFacts } from './app.js';
import type { FlowRecord } from '../../contract/types.js';

/** Mutable per-flow state while the flow is live. Turned into a FlowRecord when it ends. */
export class Flow {
  // Endpoints as the initiator sees them. Addresses are four 32-bit words
  // (IPv4 uses the first) so the table compares numbers, never strings.
  v6 = false;
  s0 = 0;
  s1 = 0;
  s2 = 0;
  s3 = 0;
  d0 = 0;
  d1 = 0;
  d2 = 0;
  d3 = 0;
  /** the table's hash bucket and the next flow in it */
  hash = 0;
  chain: Flow | null = null;
  /** the table's activity list (by timeout class), least recently active first */
  lru = 0;
  older: Flow | null = null;
  newer: Flow | null = null;
  srcIp = '';
  dstIp = '';
  sport = 0;
  dport = 0;
  srcMac = -1;
  dstMac = -1;
  srcLocal = false;
  dstLocal = false;
  icmpOneWay = false;
  /** the initiator was inventoried as a local device at one of its packets (it may have been evicted since) */
  srcTracked = false;
  /** for flows to a group address (broadcast, multicast): the sender's MAC, part of the key; else -1 */
  sender = -1;
  /** TCP: the start (SYN or SYN-ACK) was not seen */
  midStream = false;
  /** the Locality version srcLocal and dstLocal were judged at (addresses learnt on the link since may change them) */
  localVersion = 0;

  first = 0;
  last = 0;
  srcPkts = 0;
  srcBytes = 0;
  dstPkts = 0;
  dstBytes = 0;

  // TCP handshake and teardown, for the state and for closing
  origSyn = false;
  respSynAck = false;
  origFin = false;
  respFin = false;
  origRst = false;
  respRst = false;
  /** capture time the flow closed (both FINs or a RST), or -1 */
  closedAt = -1;

  sni: string | null = null;
  alpn: string[] | null = null;
  /** TLS client fingerprints of the initiator's ClientHello */
  ja3: string | null = null;
  ja4: string | null = null;
  /** what the server's certificate showed (TLS 1.2 and older); null until seen */
  tlsSelfSigned: boolean | null = null;
  tlsCertExpired: boolean | null = null;
  tlsNameMismatch: boolean | null = null;
  httpHost: string | null = null;
  userAgent: string | null = null;
  dnsName: string | null = null;
  /** a DNS answer gave the initiator this address before the flow began (hard-coded addresses are not) */
  resolved = false;
  /** initiator payload segments looked at for names; bounded so long flows cost nothing */
  appTries = 0;
  /** a ClientHello split over segments, being put back together */
  tlsBuf: Buffer | null = null;
  tlsNeed = 0;
  /** TCP responder payload segments read for a TLS server's certificate; -1 once done */
  tlsServerTries = 0;
  /** the server's first flight while its leaf certificate is incomplete */
  tlsServerBuf: Buffer | null = null;
  /** what payloads showed for detection rules (DNS questions, ...); null until one did */
  app: AppFacts | null = null;

  constructor(readonly proto: number) {}

  get state(): string {
    if (this.proto !== 6) return this.dstPkts > 0 ? 'SF' : 'S0';
    if (!this.origSyn) return 'OTH';
    if (this.respRst && !this.respSynAck) return 'REJ';
    if (this.origRst) return 'RSTO';
    if (this.respRst) return 'RSTR';
    if (!this.respSynAck) return this.dstPkts > 0 ? 'OTH' : 'S0';
    if (this.origFin && this.respFin) return 'SF';
    if (this.origFin) return 'S2';
    if (this.respFin) return 'S3';
    return 'S1';
  }
}

export const PROTO_NAMES: Record<number, string> = { 6: 'tcp', 17: 'udp', 1: 'icmp', 58: 'icmp6' };

export function protoName(proto: number): string {
  return PROTO_NAMES[proto] ?? String(proto);
}

export type FlowEndReason = FlowRecord['end_reason'];

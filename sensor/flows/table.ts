import { ACK, FIN, ICMP, ICMP6, RST, SYN, TCP, UDP, type Decoded } from '../decode/decoded.js';
import { icmpIsOneWay } from '../decode/transport.js';
import { ip4String, ip6String, isSpecial4, isSpecial6 } from '../util/addr.js';
import { evictOldest } from '../util/bounded.js';
import { Flow, type FlowEndReason } from './flow.js';

export interface FlowTimeouts {
  tcp: number;
  udp: number;
  other: number;
}

export const DEFAULT_TIMEOUTS: FlowTimeouts = { tcp: 300, udp: 60, other: 30 };
export const DEFAULT_MAX_FLOWS = 500_000;
/** A closed TCP flow lingers this long so its last ACKs do not start a new flow. */
const CLOSE_LINGER_S = 5;
/** How often (in capture time) idle flows are swept out. */
const SWEEP_EVERY_S = 10;

export type FlowSink = (flow: Flow, reason: FlowEndReason) => void;

/**
 * Bidirectional flows keyed by protocol and both endpoints. Bounded: when full,
 * the oldest flow is evicted and emitted, never dropped.
 */
export class FlowTable {
  private readonly flows = new Map<string, Flow>();
  private nextSweep = 0;
  /** set by update(): whether the packet went from initiator to responder */
  isOrig = true;

  constructor(
    private readonly sink: FlowSink,
    private readonly timeouts: FlowTimeouts = DEFAULT_TIMEOUTS,
    private readonly maxFlows = DEFAULT_MAX_FLOWS,
  ) {}

  get size(): number {
    return this.flows.size;
  }

  /** Accounts the packet to its flow, creating it if needed. */
  update(d: Decoded): Flow {
    const ts = d.ts;
    if (ts >= this.nextSweep) {
      if (this.nextSweep !== 0) this.sweep(ts);
      this.nextSweep = ts + SWEEP_EVERY_S;
    }
    let src: number | string;
    let dst: number | string;
    if (d.ipVersion === 4) {
      src = d.src4;
      dst = d.dst4;
    } else {
      src = d.data.toString('latin1', d.src6Off, d.src6Off + 16);
      dst = d.data.toString('latin1', d.dst6Off, d.dst6Off + 16);
    }
    const sport = d.sport;
    const dport = d.dport;
    const fwd = src < dst || (src === dst && sport <= dport);
    const key = fwd ? `${d.proto}|${src}|${sport}|${dst}|${dport}` : `${d.proto}|${dst}|${dport}|${src}|${sport}`;
    let flow = this.flows.get(key);
    const flags = d.tcpFlags;
    if (flow !== undefined) {
      const idle = ts - flow.last;
      const pureSyn = d.proto === TCP && (flags & (SYN | ACK)) === SYN;
      if (idle > this.timeoutOf(flow)) {
        this.end(flow, 'idle');
        flow = undefined;
      } else if (flow.closedAt >= 0 && pureSyn) {
        this.end(flow, 'reused');
        flow = undefined;
      }
    }
    if (flow === undefined) {
      // Oldest first, a hundredth of the table at a time (see evictOldest for why in bulk).
      if (this.flows.size >= this.maxFlows) evictOldest(this.flows, Math.max(0, this.maxFlows - Math.ceil(this.maxFlows / 100)), (f) => this.sink(f, 'evicted'));
      flow = this.create(key, d, src, dst);
      this.flows.set(key, flow);
    }
    // A host talking to itself on one port counts every packet as the initiator's.
    const orig = flow.src === src && flow.sport === sport;
    this.isOrig = orig;
    flow.last = ts;
    if (orig) {
      flow.srcPkts++;
      flow.srcBytes += d.wirelen;
    } else {
      flow.dstPkts++;
      flow.dstBytes += d.wirelen;
    }
    if (d.proto === TCP) this.tcpState(flow, orig, flags, ts);
    return flow;
  }

  private create(key: string, d: Decoded, src: number | string, dst: number | string): Flow {
    const f = new Flow(key, d.proto);
    let swap = false;
    // A SYN-ACK seen first means the other side opened the connection.
    if (d.proto === TCP && (d.tcpFlags & (SYN | ACK)) === (SYN | ACK)) swap = true;
    const b = d.data;
    if (d.ipVersion === 4) {
      f.srcIp = ip4String(d.src4);
      f.dstIp = ip4String(d.dst4);
      f.srcLocal = isSpecial4(d.src4);
      f.dstLocal = isSpecial4(d.dst4);
    } else {
      f.srcIp = ip6String(b, d.src6Off);
      f.dstIp = ip6String(b, d.dst6Off);
      f.srcLocal = isSpecial6(b, d.src6Off);
      f.dstLocal = isSpecial6(b, d.dst6Off);
    }
    f.src = src;
    f.dst = dst;
    f.sport = d.sport;
    f.dport = d.dport;
    f.srcMac = d.srcMac;
    f.dstMac = d.dstMac;
    if (d.proto === ICMP || d.proto === ICMP6) f.icmpOneWay = icmpIsOneWay(d.proto, d.icmpType);
    if (swap) swapEndpoints(f);
    f.first = d.ts;
    f.last = d.ts;
    return f;
  }

  private tcpState(f: Flow, orig: boolean, flags: number, ts: number): void {
    if (flags & SYN) {
      if (flags & ACK) {
        if (!orig) f.respSynAck = true;
      } else if (orig) f.origSyn = true;
    }
    if (flags & FIN) {
      if (orig) f.origFin = true;
      else f.respFin = true;
    }
    if (flags & RST) {
      if (orig) f.origRst = true;
      else f.respRst = true;
    }
    if (f.closedAt < 0 && ((f.origFin && f.respFin) || flags & RST)) f.closedAt = ts;
  }

  private timeoutOf(f: Flow): number {
    if (f.closedAt >= 0) return CLOSE_LINGER_S;
    return f.proto === TCP ? this.timeouts.tcp : f.proto === UDP ? this.timeouts.udp : this.timeouts.other;
  }

  /** Emits flows idle (in capture time) beyond their timeout. */
  sweep(now: number): void {
    for (const f of this.flows.values()) {
      if (now - f.last > this.timeoutOf(f)) this.end(f, f.closedAt >= 0 ? 'closed' : 'idle');
    }
  }

  /** Emits every live flow (end of input or shutdown). */
  flush(): void {
    for (const f of this.flows.values()) this.end(f, f.closedAt >= 0 ? 'closed' : 'end');
  }

  private end(f: Flow, reason: FlowEndReason): void {
    this.flows.delete(f.key);
    this.sink(f, reason);
  }
}

function swapEndpoints(f: Flow): void {
  [f.src, f.dst] = [f.dst, f.src];
  [f.srcIp, f.dstIp] = [f.dstIp, f.srcIp];
  [f.sport, f.dport] = [f.dport, f.sport];
  [f.srcMac, f.dstMac] = [f.dstMac, f.srcMac];
  [f.srcLocal, f.dstLocal] = [f.dstLocal, f.srcLocal];
}

import { ACK, FIN, ICMP, ICMP6, RST, SYN, TCP, UDP, type Decoded } from '../decode/decoded.js';
import { icmpIsOneWay } from '../decode/transport.js';
import { ip4String, ip6String } from '../util/addr.js';
import { u32 } from '../util/bytes.js';
import { Flow, type FlowEndReason } from './flow.js';
import { DEFAULT_LOCALITY, type Locality } from './locality.js';
import { SessionNames } from './sessions.js';

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
 * Ended flows are released in epochs: at every sweep and every EPOCH_PACKETS
 * packets of the input. With worker threads the router (parallel/route.ts)
 * ends epochs for all shards at those same packets, so a flow ends in the same epoch
 * however packets are sharded, and sorting within an epoch gives one order
 * for one worker or many.
 */
const EPOCH_PACKETS = 16384;

/** Whether an epoch ends at the `packets`-th packet of the input, given whether the table swept there. */
export function isEpochEnd(swept: boolean, packets: number): boolean {
  return swept || (packets & (EPOCH_PACKETS - 1)) === 0;
}

/**
 * When idle flows are swept: every SWEEP_EVERY_S of capture time, judged on
 * every packet of the input. One clock drives the table, or (worker threads)
 * the router, which sees every packet, drives the sweeps of every shard.
 */
export class SweepClock {
  private nextSweep = 0;

  /** Returns true when a sweep is due at this packet. */
  tick(ts: number): boolean {
    if (ts < this.nextSweep) return false;
    const due = this.nextSweep !== 0;
    this.nextSweep = ts + SWEEP_EVERY_S;
    return due;
  }
}

/**
 * Bidirectional flows keyed by protocol and both endpoints. Bounded: when full,
 * the oldest flow is evicted and emitted, never dropped.
 */
export class FlowTable {
  /** hash -> first flow of the bucket; further flows hang off Flow.chain */
  private readonly buckets = new Map<number, Flow>();
  private count = 0;
  /**
   * One list per timeout class (TCP, UDP, other, closed), least recently
   * active first, so a sweep stops at the first live flow instead of visiting
   * all of them (under a flood that visit dominated). A list whose times went
   * backwards (out-of-order or concatenated captures) is scanned whole once.
   */
  private readonly oldest: (Flow | null)[] = [null, null, null, null];
  private readonly newest: (Flow | null)[] = [null, null, null, null];
  private readonly inOrder = [true, true, true, true];
  private readonly clock = new SweepClock();
  /** set by update(): whether the packet went from initiator to responder */
  isOrig = true;

  /** names of TCP sessions that went idle, for the piece that resumes them without a handshake */
  private readonly sessions = new SessionNames();

  constructor(
    private readonly sink: FlowSink,
    private readonly timeouts: FlowTimeouts = DEFAULT_TIMEOUTS,
    private readonly maxFlows = DEFAULT_MAX_FLOWS,
    private readonly locality: Locality = DEFAULT_LOCALITY,
  ) {}

  get size(): number {
    return this.count;
  }

  /** Accounts the packet to its flow, creating it if needed. Allocates nothing for a known flow. */
  update(d: Decoded): Flow {
    const ts = d.ts;
    const v6 = d.ipVersion === 6;
    let s0: number, s1: number, s2: number, s3: number, d0: number, d1: number, d2: number, d3: number;
    if (v6) {
      const b = d.data;
      const o = d.src6Off;
      const p = d.dst6Off;
      s0 = u32(b, o);
      s1 = u32(b, o + 4);
      s2 = u32(b, o + 8);
      s3 = u32(b, o + 12);
      d0 = u32(b, p);
      d1 = u32(b, p + 4);
      d2 = u32(b, p + 8);
      d3 = u32(b, p + 12);
    } else {
      s0 = d.src4;
      d0 = d.dst4;
      s1 = s2 = s3 = d1 = d2 = d3 = 0;
    }
    const proto = d.proto;
    const sport = d.sport;
    const dport = d.dport;
    // The same hash for both directions: hash the endpoints in a canonical order.
    const c = s0 !== d0 ? s0 - d0 : s1 !== d1 ? s1 - d1 : s2 !== d2 ? s2 - d2 : s3 !== d3 ? s3 - d3 : sport - dport;
    // Packets to a group address (broadcast, multicast) are one flow per sender: DHCP
    // discovers of many devices all go 0.0.0.0:68 -> 255.255.255.255:67.
    const group = v6 ? d0 >>> 24 === 0xff : d0 === 0xffffffff || d0 >>> 28 === 0xe;
    const sender = group ? d.srcMac : -1;
    let h = c <= 0 ? hashFlow(proto, s0, s1, s2, s3, sport, d0, d1, d2, d3, dport) : hashFlow(proto, d0, d1, d2, d3, dport, s0, s1, s2, s3, sport);
    if (group) h = (h ^ Math.imul(sender | 0, 0x9e3779b1) ^ Math.floor(sender / 0x100000000)) & 0x3fffffff;
    let flow: Flow | null | undefined = this.buckets.get(h);
    let orig = true;
    while (flow !== undefined && flow !== null) {
      if (flow.proto === proto && flow.v6 === v6 && flow.sender === sender) {
        if (flow.sport === sport && flow.dport === dport && flow.s0 === s0 && flow.d0 === d0 && flow.s1 === s1 && flow.d1 === d1 && flow.s2 === s2 && flow.d2 === d2 && flow.s3 === s3 && flow.d3 === d3) {
          orig = true;
          break;
        }
        if (flow.sport === dport && flow.dport === sport && flow.s0 === d0 && flow.d0 === s0 && flow.s1 === d1 && flow.d1 === s1 && flow.s2 === d2 && flow.d2 === s2 && flow.s3 === d3 && flow.d3 === s3) {
          orig = false;
          break;
        }
      }
      flow = flow.chain;
    }
    const flags = d.tcpFlags;
    if (flow) {
      const pureSyn = proto === TCP && (flags & (SYN | ACK)) === SYN;
      if (ts - flow.last > this.timeoutOf(flow)) {
        this.end(flow, 'idle');
        flow = null;
      } else if (flow.closedAt >= 0 && pureSyn) {
        this.end(flow, 'reused');
        flow = null;
      }
    }

    if (!flow) {
      if (this.count >= this.maxFlows) this.evict(this.maxFlows - Math.ceil(this.maxFlows / 100));
      flow = this.create(d, v6, s0, s1, s2, s3, d0, d1, d2, d3);
      flow.hash = h;
      flow.sender = sender;
      flow.chain = this.buckets.get(h) ?? null;
      this.buckets.set(h, flow);
      this.count++;

      // create() may have swapped the endpoints (SYN-ACK seen first).
      orig = flow.sport === sport && flow.s0 === s0 && flow.s1 === s1 && flow.s2 === s2 && flow.s3 === s3;
    }
    this.isOrig = orig;
    this.account(flow, orig, d);
    return flow;
  }

  /** The packet's share of its flow: times, counts, TCP state, activity. */
  private account(flow: Flow, orig: boolean, d: Decoded): void {
    const ts = d.ts;
    // Overlapping captures and clock steps go back in time: a flow spans its earliest to its latest packet.
    if (ts > flow.last) flow.last = ts;
    else if (ts < flow.first) flow.first = ts;
    if (orig) {
      flow.srcPkts++;
      flow.srcBytes += d.wirelen;
    } else {
      flow.dstPkts++;
      flow.dstBytes += d.wirelen;
    }
    if (d.proto === TCP) this.tcpState(flow, orig, d.tcpFlags, ts);
    // Only flows an outside host opened pay for this (an object on their first payload): whether the local end answered with data.
    if (d.payLen > 0 && !flow.srcLocal) {
      const app = (flow.app ??= {});
      app.payload = (app.payload ?? 0) | (orig ? 1 : 2);
    }
    this.touch(flow);
  }

  /** Makes `f` the most recently active of its class; most packets follow one of the same flow, which is then already there. */
  private touch(f: Flow): void {
    const l = this.listOf(f);
    if (this.newest[l] === f && f.lru === l) return;
    this.unlink(f);
    this.append(f);
  }

  private listOf(f: Flow): number {
    return f.closedAt >= 0 ? 3 : f.proto === TCP ? 0 : f.proto === UDP ? 1 : 2;
  }

  /** Makes `f` the most recently active of its class. */
  private append(f: Flow): void {
    const l = this.listOf(f);
    f.lru = l;
    const tail = this.newest[l];
    f.older = tail;
    f.newer = null;
    if (tail) {
      tail.newer = f;
      if (f.last < tail.last) this.inOrder[l] = false;
    } else this.oldest[l] = f;
    this.newest[l] = f;
  }

  private unlink(f: Flow): void {
    const l = f.lru;
    if (f.older) f.older.newer = f.newer;
    else if (this.oldest[l] === f) this.oldest[l] = f.newer;
    else return; // not linked
    if (f.newer) f.newer.older = f.older;
    else this.newest[l] = f.older;
    f.older = f.newer = null;
    if (this.oldest[l] === null) this.inOrder[l] = true;
  }

  /**
   * Advances capture time, sweeping idle flows when due; call it for every
   * packet before update(). Returns true when it swept. Takes the decoded
   * packet, not its time: a float argument is boxed, once per packet.
   */
  tick(d: { ts: number }): boolean {
    const ts = d.ts;
    if (!this.clock.tick(ts)) return false;
    this.sweep(ts);
    return true;
  }

  private create(d: Decoded, v6: boolean, s0: number, s1: number, s2: number, s3: number, d0: number, d1: number, d2: number, d3: number): Flow {
    const f = new Flow(d.proto);
    const b = d.data;
    f.v6 = v6;
    f.s0 = s0;
    f.s1 = s1;
    f.s2 = s2;
    f.s3 = s3;
    f.d0 = d0;
    f.d1 = d1;
    f.d2 = d2;
    f.d3 = d3;
    const where = this.locality;
    if (!v6) {
      f.srcIp = ip4String(d.src4);
      f.dstIp = ip4String(d.dst4);
      f.srcLocal = where.local4(d.src4);
      f.dstLocal = where.local4(d.dst4);
    } else {
      f.srcIp = ip6String(b, d.src6Off);
      f.dstIp = ip6String(b, d.dst6Off);
      f.srcLocal = where.local6(b, d.src6Off, f.srcIp);
      f.dstLocal = where.local6(b, d.dst6Off, f.dstIp);
    }
    f.localVersion = where.version;
    f.sport = d.sport;
    f.dport = d.dport;
    f.srcMac = d.srcMac;
    f.dstMac = d.dstMac;
    if (d.proto === ICMP || d.proto === ICMP6) f.icmpOneWay = icmpIsOneWay(d.proto, d.icmpType);
    if (d.proto === TCP) this.opened(f, d.tcpFlags);
    f.first = d.ts;
    f.last = d.ts;
    return f;
  }

  /**
   * Who opened a TCP connection. A SYN-ACK seen first means the other side
   * did. Without either, the start was not seen (it began before the capture,
   * or the session was idle past the timeout): the side with the lower port
   * is taken as the server, as Zeek flips such flows, and a session that went
   * idle lends the piece that resumes it its names.
   */
  private opened(f: Flow, flags: number): void {
    if ((flags & (SYN | ACK)) === (SYN | ACK)) return swapEndpoints(f);
    if (flags & SYN) return;
    f.midStream = true;
    if (f.sport < f.dport) swapEndpoints(f);
    this.sessions.resume(f);
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

  private all(): Flow[] {
    const out: Flow[] = [];
    for (const head of this.buckets.values()) for (let g: Flow | null = head; g; g = g.chain) out.push(g);
    return out;
  }

  /** Emits flows idle (in capture time) beyond their timeout. */
  sweep(now: number): void {
    for (let l = 0; l < 4; l++) {
      if (!this.inOrder[l]) {
        this.sweepAll(l, now);
        continue;
      }
      for (let f = this.oldest[l]; f && now - f.last > this.timeoutOf(f); f = this.oldest[l]) this.end(f, f.closedAt >= 0 ? 'closed' : 'idle');
    }
  }

  /** A list out of time order: every flow is checked, and the rest put back in order. */
  private sweepAll(l: number, now: number): void {
    const keep: Flow[] = [];
    for (let f = this.oldest[l]; f; f = f.newer) keep.push(f);
    for (const f of keep) this.unlink(f);
    keep.sort((a, b) => a.last - b.last);
    for (const f of keep) {
      if (now - f.last > this.timeoutOf(f)) {
        this.end(f, f.closedAt >= 0 ? 'closed' : 'idle');
      } else this.append(f);
    }
  }

  /** Emits every live flow (end of input or shutdown). */
  flush(): void {
    for (const f of this.all()) this.end(f, f.closedAt >= 0 ? 'closed' : 'end');
  }

  /**
   * flush(), earliest first packet first, `chunk` flows at a time (more when
   * several began at the same time): after each chunk `between(t)` hears that
   * every flow that began at or before t has ended, so a consumer can release
   * those and not hold a record of every live flow at once.
   */
  flushInOrder(chunk: number, between: (upTo: number) => void): void {
    const live = this.all().sort((a, b) => a.first - b.first);
    for (let i = 0; i < live.length; ) {
      let j = Math.min(live.length, i + chunk);
      while (j < live.length && live[j].first === live[j - 1].first) j++;
      for (let k = i; k < j; k++) this.end(live[k], live[k].closedAt >= 0 ? 'closed' : 'end');
      between(live[j - 1].first);
      i = j;
    }
  }

  /**
   * Evicts (and emits) the least recently active flows until `keep` remain,
   * in bulk (a hundredth of the table) so a flood pays for it rarely.
   */
  private evict(keep: number): void {
    while (this.count > keep) {
      let victim: Flow | null = null;
      for (let l = 0; l < 4; l++) {
        const f = this.oldest[l];
        if (f && (!victim || f.last < victim.last)) victim = f;
      }
      if (!victim) break;
      this.end(victim, 'evicted');
    }
  }

  private end(f: Flow, reason: FlowEndReason): void {
    const head = this.buckets.get(f.hash);
    if (head === f) {
      if (f.chain) this.buckets.set(f.hash, f.chain);
      else this.buckets.delete(f.hash);
    } else {
      for (let g = head ?? null; g; g = g.chain) {
        if (g.chain === f) {
          g.chain = f.chain;
          break;
        }
      }
    }
    f.chain = null;
    this.unlink(f);
    this.count--;
    if (reason === 'idle' && f.proto === TCP) this.sessions.idle(f);
    this.sink(f, reason);
  }
}

/** A 32-bit mix of the flow's fields (in canonical endpoint order). */
function hashFlow(proto: number, a0: number, a1: number, a2: number, a3: number, ap: number, b0: number, b1: number, b2: number, b3: number, bp: number): number {
  let h = Math.imul(proto ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ a0, 0xcc9e2d51);
  h = Math.imul(h ^ (h >>> 15) ^ a1, 0x1b873593);
  h = Math.imul(h ^ (h >>> 13) ^ a2, 0xcc9e2d51);
  h = Math.imul(h ^ (h >>> 15) ^ a3, 0x1b873593);
  h = Math.imul(h ^ (h >>> 13) ^ ((ap << 16) | bp), 0xcc9e2d51);
  h = Math.imul(h ^ (h >>> 15) ^ b0, 0x1b873593);
  h = Math.imul(h ^ (h >>> 13) ^ b1, 0xcc9e2d51);
  h = Math.imul(h ^ (h >>> 15) ^ b2, 0x1b873593);
  h = Math.imul(h ^ (h >>> 13) ^ b3, 0xcc9e2d51);
  // 30 bits: a small integer key stays unboxed, so a lookup allocates nothing.
  return (h ^ (h >>> 16)) & 0x3fffffff;
}

function swapEndpoints(f: Flow): void {
  [f.s0, f.d0] = [f.d0, f.s0];
  [f.s1, f.d1] = [f.d1, f.s1];
  [f.s2, f.d2] = [f.d2, f.s2];
  [f.s3, f.d3] = [f.d3, f.s3];
  [f.srcIp, f.dstIp] = [f.dstIp, f.srcIp];
  [f.sport, f.dport] = [f.dport, f.sport];
  [f.srcMac, f.dstMac] = [f.dstMac, f.srcMac];
  [f.srcLocal, f.dstLocal] = [f.dstLocal, f.srcLocal];
}

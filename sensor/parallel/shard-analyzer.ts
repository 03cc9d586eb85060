import { Analyzer, type AnalyzerOptions } from '../analyzer.js';
import type { RawPacket } from '../capture/packet.js';
import { judges } from '../detect/engine.js';
import { enrichFlow } from '../enrich/flows.js';
import type { GeoIp } from '../enrich/geoip.js';
import type { DnsItem, DoneMessage, EndedFlow } from './messages.js';
import { Kind } from './records.js';

/**
 * One shard's analysis, in a worker or in the thread that merges: an
 * Analyzer in shard mode that keeps of each ended flow what the merging
 * thread needs (its sort key, its JSON line when flows are written, the
 * record when detection judges it), tagged with the epoch it ended in.
 */
export class ShardAnalyzer {
  readonly analyzer: Analyzer;
  flows: EndedFlow[] = [];
  dns: DnsItem[] = [];

  constructor(
    opts: Pick<AnalyzerOptions, 'timeouts' | 'maxFlows'>,
    lines: boolean,
    geo: GeoIp,
    /** epoch `n` ended: every item of epochs up to n has been collected */
    onEpoch: (n: number) => void,
  ) {
    const analyzer: Analyzer = new Analyzer(
      {
        flow: (r, facts, resolved) => {
          const judged = judges(r, facts);
          if (!judged && !lines) return;
          enrichFlow(r, geo);
          this.flows.push([analyzer.epoch, r.ts, r.uid, r.src_pkts + r.dst_pkts, lines ? JSON.stringify(r) : null, judged ? [r, facts, resolved] : null]);
        },
        dns: lines ? (r, packet) => this.dns.push([analyzer.epoch, packet, JSON.stringify(r)]) : undefined,
        outboundOnly: !lines,
        epoch: onEpoch,
      },
      { ...opts, shardWorker: true },
    );
    this.analyzer = analyzer;
  }

  /** A packet or clock decision from the thread reading a stream (see records.ts). */
  apply(kind: Kind, p: RawPacket, packetIndex: number): void {
    const a = this.analyzer;
    a.packetIndex = packetIndex;
    if (kind === Kind.Owned) a.onPacket(p);
    else if (kind === Kind.Shared) a.sharedPacket(p);
    else if (kind === Kind.Sweep) a.sweep(p.tsSec + p.tsNsec / 1e9);
    else a.epochEnd();
  }

  /** Where a Router that feeds this shard should decode, so a packet is decoded once. */
  get decoded(): Analyzer['decoded'] {
    return this.analyzer.decoded;
  }

  /** A Router's delivery, decoded into `decoded` (ok: an IP packet we follow). */
  routed(kind: Kind, p: RawPacket, ok: boolean, packetIndex: number): void {
    const a = this.analyzer;
    a.packetIndex = packetIndex;
    if (kind === Kind.Owned) a.analyse(p, ok);
    else if (kind === Kind.Shared) a.analyseShared(ok);
    else if (kind === Kind.Sweep) a.sweep(p.tsSec + p.tsNsec / 1e9);
    else a.epochEnd();
  }

  /** What was collected since the last take. */
  take(): { flows: EndedFlow[]; dns: DnsItem[] } {
    const t = { flows: this.flows, dns: this.dns };
    this.flows = [];
    this.dns = [];
    return t;
  }

  /** End of input: every live flow ends (in the last epoch). */
  finish(): Omit<DoneMessage, 'type'> & { lastEpoch: number } {
    const a = this.analyzer;
    a.finish();
    return { lastEpoch: a.epoch - 1, flows: a.flows, dnsMessages: a.dnsMessages, warnings: { ...a.warnings.counts }, devices: a.inventory.snapshot() };
  }
}

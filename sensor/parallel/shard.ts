import type { RawPacket } from '../capture/packet.js';
import { judges } from '../detect/engine.js';
import { enrichFlow } from '../enrich/destination.js';
import type { GeoIp } from '../enrich/geoip.js';
import { FlowMeter, type MeterOptions } from '../pipeline/meter.js';
import type { DnsItem, DoneMessage, EndedFlow, EvictedItem } from './messages.js';
import { Kind } from './records.js';

/**
 * One shard's analysis, in a worker or in the thread that merges: the
 * pipeline's flow meter and enrichment (as Pipeline wires them), keeping of
 * each ended flow what the merging thread needs (its sort key, its JSON line
 * when flows are written, the enriched flow when detection judges it),
 * tagged with the epoch it ended in. Detection runs in the merging thread.
 */
export class ShardPipeline {
  readonly meter: FlowMeter;
  flows: EndedFlow[] = [];
  dns: DnsItem[] = [];
  evicted: EvictedItem[] = [];

  constructor(
    opts: Pick<MeterOptions, 'timeouts' | 'maxFlows' | 'localNetworks' | 'maxDevices'>,
    lines: boolean,
    /** detection looks at every flow with a local end, not only outbound ones */
    allFlows: boolean,
    geo: GeoIp,
    /** epoch `n` ended: every item of epochs up to n has been collected */
    onEpoch: (n: number) => void,
  ) {
    const meter: FlowMeter = new FlowMeter(
      {
        flow: (r, device, resolved, ends, more) => {
          const looked = judges(r, device, ends) || (allFlows && (ends.srcLocal || ends.dstLocal));
          if (!looked && !lines) return;
          const e = enrichFlow(r, device, resolved, geo, ends, more);
          this.flows.push([meter.epoch, r.ts, r.uid, r.src_pkts + r.dst_pkts, lines ? JSON.stringify(r) : null, looked ? e : null]);
        },
        dns: lines ? (r, packet) => this.dns.push([meter.epoch, packet, JSON.stringify(r)]) : undefined,
        outboundOnly: !lines && !allFlows,
        evictedSnapshot: (d) => this.evicted.push([meter.epoch, d]),
        epoch: onEpoch,
      },
      { ...opts, shardWorker: true },
    );
    this.meter = meter;
  }

  /** A packet or clock decision from the thread reading a stream (see records.ts). */
  apply(kind: Kind, p: RawPacket, packetIndex: number): void {
    const a = this.meter;
    a.packetIndex = packetIndex;
    if (kind === Kind.Owned) a.onPacket(p);
    else if (kind === Kind.Shared) a.sharedPacket(p);
    else if (kind === Kind.Sweep) a.sweep(p.tsSec + p.tsNsec / 1e9);
    else a.epochEnd();
  }

  /** Where a Router that feeds this shard should decode, so a packet is decoded once. */
  get decoded(): FlowMeter['decoded'] {
    return this.meter.decoded;
  }

  /** A Router's delivery, decoded into `decoded` (ok: an IP packet we follow). */
  routed(kind: Kind, p: RawPacket, ok: boolean, packetIndex: number): void {
    const a = this.meter;
    a.packetIndex = packetIndex;
    if (kind === Kind.Owned) a.onDecoded(p, ok);
    else if (kind === Kind.Shared) a.onDecodedShared(ok);
    else if (kind === Kind.Sweep) a.sweep(p.tsSec + p.tsNsec / 1e9);
    else a.epochEnd();
  }

  /** What was collected since the last take. */
  take(): { flows: EndedFlow[]; dns: DnsItem[]; evicted: EvictedItem[] } {
    const t = { flows: this.flows, dns: this.dns, evicted: this.evicted };
    this.flows = [];
    this.dns = [];
    this.evicted = [];
    return t;
  }

  /** End of input: every live flow ends (in the last epoch). */
  finish(): Omit<DoneMessage, 'type'> & { lastEpoch: number } {
    const a = this.meter;
    a.finish();
    return { lastEpoch: a.epoch - 1, flows: a.flows, dnsMessages: a.dnsMessages, warnings: { ...a.warnings.counts }, devices: a.inventory.snapshot() };
  }
}

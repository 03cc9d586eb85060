import type { AlertRecord, FlowRecord } from '../../contract/types.js';
import type { DeviceFacts } from '../devices/inventory.js';
import type { GeoInfo } from '../enrich/geoip.js';
import { evictOldest, lowWater } from '../util/bounded.js';
import { keep, KeptBudget, MAX_KEPT_SERIES_FLOWS, type KeptFlows } from './kept.js';

/** Flows kept whole per series, for their uids (all are counted, and kept for evidence as bounded in kept.ts). */
const MAX_SERIES_FLOWS = 20;
/**
 * Device-destination pairs followed. A scan or flood of new destinations must
 * not grow memory without bound: the pair updated least recently is
 * forgotten first, and a live beacon is updated every beat.
 */
const MAX_SERIES = 25_000;
/**
 * Destinations followed per device. A device contacting more (a scan, a
 * flood) has its further new destinations left unfollowed until some are
 * forgotten: building a series for each of millions of one-off destinations
 * was most of the cost, and memory churn, of a flood.
 */
const MAX_SERIES_PER_DEVICE = 5_000;
const MAX_STARTS = 100_000;

/** What alerts need of a flow: kept instead of whole records where many are held. */
export type SlimFlow = Pick<FlowRecord, 'uid' | 'ts' | 'duration' | 'proto' | 'src_ip' | 'src_port' | 'dst_ip' | 'dst_port' | 'src_pkts' | 'dst_pkts' | 'src_bytes' | 'dst_bytes'>;

export const slim = (f: FlowRecord): SlimFlow => ({
  uid: f.uid, ts: f.ts, duration: f.duration, proto: f.proto, src_ip: f.src_ip, src_port: f.src_port, dst_ip: f.dst_ip, dst_port: f.dst_port,
  src_pkts: f.src_pkts, dst_pkts: f.dst_pkts, src_bytes: f.src_bytes, dst_bytes: f.dst_bytes,
});

export type Totals = Pick<AlertRecord['evidence'], 'flows' | 'packets' | 'bytes_out' | 'bytes_in' | 'first_seen' | 'last_seen'>;

/** Adds one flow to evidence totals; series and alerts count flows the same way. */
export function addFlow(t: Totals, f: SlimFlow): void {
  t.flows++;
  t.packets += f.src_pkts + f.dst_pkts;
  t.bytes_out += f.src_bytes;
  t.bytes_in += f.dst_bytes;
  t.first_seen = Math.min(t.first_seen, f.ts);
  t.last_seen = Math.max(t.last_seen, f.ts + f.duration);
}

/** One device's connections to one destination (by name when it has one), for the rules that judge them together. */
export interface Series {
  device: DeviceFacts;
  profile: string | null;
  dstIp: string;
  /** the destination as the first flow found it */
  dst: GeoInfo;
  name: string | null;
  starts: number[];
  sizes: number[];
  flows: SlimFlow[];
  /** every connection counted, in the alert evidence's own shape */
  totals: Totals;
  /** the flows kept to cut an alert's evidence capture from */
  kept: KeptFlows;
}

/** The series of every device and destination, bounded as above. */
export class SeriesTracker {
  private readonly series = new Map<string, Series>();
  private readonly perDevice = new Map<string, number>();
  /** flows kept for evidence over every series followed */
  private readonly budget = new KeptBudget(MAX_KEPT_SERIES_FLOWS);

  add(f: FlowRecord, device: DeviceFacts, profile: string | null, dst: GeoInfo): void {
    const name = f.server_name;
    const key = `${device.mac ?? device.ip}|${name ?? f.dst_ip}`;
    let s = this.series.get(key);
    if (s) {
      // Most recently updated last, so the map's first entry is the one to forget.
      this.series.delete(key);
      this.series.set(key, s);
    } else {
      const d = device.mac ?? device.ip;
      const followed = this.perDevice.get(d) ?? 0;
      if (followed >= MAX_SERIES_PER_DEVICE) return;
      if (this.series.size >= MAX_SERIES) evictOldest(this.series, lowWater(MAX_SERIES), (gone) => this.unfollow(gone));
      const totals: Totals = { flows: 0, packets: 0, bytes_out: 0, bytes_in: 0, first_seen: f.ts, last_seen: f.ts };
      s = { device, profile, dstIp: f.dst_ip, dst, name, starts: [], sizes: [], flows: [], totals, kept: { refs: [], unkept: new Set() } };
      this.series.set(key, s);
      this.perDevice.set(d, followed + 1);
    }
    addFlow(s.totals, f);
    if (s.starts.length < MAX_STARTS) {
      s.starts.push(f.ts);
      s.sizes.push(f.src_bytes + f.dst_bytes);
    }
    if (s.flows.length < MAX_SERIES_FLOWS) s.flows.push(slim(f));
    keep(s.kept, f, this.budget, 'series-flows');
  }

  values(): IterableIterator<Series> {
    return this.series.values();
  }

  private unfollow(s: Series): void {
    this.budget.release(s.kept.refs.length);
    const d = s.device.mac ?? s.device.ip;
    const n = (this.perDevice.get(d) ?? 1) - 1;
    if (n > 0) this.perDevice.set(d, n);
    else this.perDevice.delete(d);
  }
}

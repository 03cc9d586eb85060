import type { FlowRecord, PcapMissingCause } from '../../contract/types.js';

/** What finding a flow's packets again takes. */
type Located = Pick<FlowRecord, 'uid' | 'ts' | 'duration' | 'proto' | 'src_ip' | 'src_port' | 'dst_ip' | 'dst_port' | 'src_pkts' | 'dst_pkts'>;

/**
 * Flows kept per alert (and per device-destination series) to cut its
 * evidence capture from; past it flows are counted, not kept.
 */
export const MAX_KEPT_PER_ALERT = 2_000;
/**
 * Flows kept for evidence in one run, over all alerts and, separately, over
 * all series: about 200 bytes each, so at most about 40 MB and 20 MB.
 */
export const MAX_KEPT_ALERT_FLOWS = 200_000;
export const MAX_KEPT_SERIES_FLOWS = 100_000;

/** Enough of a flow to find its packets again, and how many it had. */
export interface FlowRef {
  uid: string;
  proto: string;
  src_ip: string;
  src_port: number;
  dst_ip: string;
  dst_port: number;
  ts: number;
  end: number;
  /** packets the flow counted, both ways: what its evidence capture should hold */
  pkts: number;
}

export const flowRef = (f: Located): FlowRef => ({
  uid: f.uid, proto: f.proto, src_ip: f.src_ip, src_port: f.src_port, dst_ip: f.dst_ip, dst_port: f.dst_port,
  ts: f.ts, end: f.ts + f.duration, pkts: f.src_pkts + f.dst_pkts,
});

/** A count of flows kept in one run, shared by the alerts (or the series) that keep them. */
export class KeptBudget {
  private held = 0;

  constructor(private readonly max: number) {}

  take(): boolean {
    if (this.held >= this.max) return false;
    this.held++;
    return true;
  }

  release(n: number): void {
    this.held = Math.max(0, this.held - n);
  }
}

/** The flows an alert or series keeps for its capture, and why any it counted were not kept. */
export interface KeptFlows {
  refs: FlowRef[];
  unkept: Set<PcapMissingCause>;
}

/** Keeps the flow unless the holder's or the run's bound says no; says which did. */
export function keep(k: KeptFlows, f: Located, budget: KeptBudget, own: PcapMissingCause): void {
  if (k.refs.length >= MAX_KEPT_PER_ALERT) k.unkept.add(own);
  else if (!budget.take()) k.unkept.add(own === 'series-flows' ? 'run-series-flows' : 'run-flows');
  else k.refs.push(flowRef(f));
}

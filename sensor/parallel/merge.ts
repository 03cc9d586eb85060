import type { EnrichedFlow } from '../enrich/destination.js';
import { compareFlowKeys } from '../pipeline/records.js';
import type { DeviceRecord } from '../../contract/types.js';
import type { DeviceSnapshot } from '../devices/inventory.js';
import type { DnsItem, EndedFlow, EvictedItem } from './messages.js';

export interface ShardedSinks {
  /**
   * Every flow, in the order one meter gives them: its JSON line when
   * `lines` is set, and the enriched record when detection looks at it.
   */
  flow: (line: string | null, judged: EnrichedFlow | null) => void;
  /** DNS messages as JSON lines, in packet order; only asked for when lines are */
  dnsLine?: (line: string) => void;
  lines: boolean;
  /** detection looks at every flow with a local end (Detector.seesAll), not only outbound ones */
  allFlows: boolean;
  /** devices the shards' inventories let go of, an epoch at a time (by key within it) */
  evicted?: (devices: DeviceSnapshot[]) => void;
  /** a device the merged inventory let go of (past --max-devices): its record goes out now */
  device?: (r: DeviceRecord) => void;
}

interface Slot {
  flows: EndedFlow[];
  dns: DnsItem[];
  evicted: EvictedItem[];
}

/**
 * Where the shards' results meet: held by the epoch they ended in, and
 * released once every shard has delivered that epoch, sorted as one meter
 * sorts them, so the output is the output of one thread.
 */
export class EpochMerger {
  /** per shard, the last epoch it has delivered completely; Infinity once it is done */
  readonly through: number[];
  private readonly pending = new Map<number, Slot>();
  private next = 0;
  /** per worker, the `through` of each batch received and not yet released */
  private readonly unreleased: number[][];

  constructor(
    private readonly count: number,
    /** per worker, how many of its batches were released: a worker waits on it before it sends more */
    private readonly taken: Int32Array,
    private readonly sinks: ShardedSinks,
  ) {
    this.through = new Array(count).fill(-1);
    this.unreleased = Array.from({ length: count }, () => []);
  }

  /** A shard's items, of any epochs not yet released (evicted: none when it evicted no device). */
  collect(items: Omit<Slot, 'evicted'> & { evicted?: EvictedItem[] }): void {
    for (const f of items.flows) this.slot(f[0]).flows.push(f);
    for (const d of items.dns) this.slot(d[0]).dns.push(d);
    for (const d of items.evicted ?? []) this.slot(d[0]).evicted.push(d);
  }

  /** Shard `i` has delivered every epoch up to `through` (a worker's batch: remember it until released). */
  delivered(i: number, through: number, batch = false): void {
    this.through[i] = through;
    if (batch) this.unreleased[i].push(through);
    this.release();
  }

  /** The epoch every worker has delivered (the slowest one's). */
  slowestWorker(): number {
    return Math.min(...this.through.slice(1));
  }

  private release(): void {
    const upto = Math.min(...this.through);
    const epochs = upto === Infinity ? [...this.pending.keys()].sort((a, b) => a - b) : null;
    for (;;) {
      let e: number;
      if (epochs) {
        if (epochs.length === 0) break;
        e = epochs.shift()!;
      } else {
        if (this.next > upto) break;
        e = this.next++;
      }
      const got = this.pending.get(e);
      if (!got) continue;
      this.pending.delete(e);
      this.emit(got);
    }
    this.freeWorkers(upto);
  }

  private emit(got: Slot): void {
    const sinks = this.sinks;
    got.flows.sort((a, b) => compareFlowKeys(a[1], a[2], a[3], b[1], b[2], b[3]));
    for (const [, , , , line, judged] of got.flows) sinks.flow(line, judged);
    if (sinks.dnsLine) {
      got.dns.sort((a, b) => a[1] - b[1]);
      for (const [, , line] of got.dns) sinks.dnsLine(line);
    }
    if (sinks.evicted && got.evicted.length > 0) sinks.evicted(got.evicted.map((e) => e[1]).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)));
  }

  /**
   * A worker may send more once its batches are released, not merely received:
   * otherwise a faster worker piles results up here while this thread's shard catches up.
   */
  private freeWorkers(upto: number): void {
    for (let i = 1; i < this.count; i++) {
      const q = this.unreleased[i];
      let n = 0;
      while (n < q.length && (upto === Infinity || q[n] < this.next)) n++;
      if (n === 0) continue;
      q.splice(0, n);
      Atomics.add(this.taken, i, n);
      Atomics.notify(this.taken, i);
    }
  }

  private slot(epoch: number): Slot {
    let s = this.pending.get(epoch);
    if (!s) this.pending.set(epoch, (s = { flows: [], dns: [], evicted: [] }));
    return s;
  }
}

import type { RawPacket } from '../capture/packet.js';
import { newDecoded, type Decoded } from '../decode/decoded.js';
import { decodePacket } from '../decode/packet.js';
import { DecodeWarnings } from '../decode/warnings.js';
import { isSharedFact, shardOf } from '../flows/shard.js';
import { isEpochEnd, SweepClock } from '../flows/table.js';
import { Kind } from './records.js';

/** Hands shard `w` a packet, or (Sweep, Epoch) a clock decision taken at this packet. */
export type Deliver = (w: number, kind: Kind, p: RawPacket) => void;

/**
 * The one rule for what each of `count` shards sees of the input: decodes
 * each packet once to pick the shard its flow hashes to, sends the packets
 * every shard reads to all of them, and decides for every shard when flows
 * are swept and epochs end, so shards stay in step with what one thread
 * would do. Counts packets and decode warnings for the whole input.
 */
export class Router {
  readonly warnings = new DecodeWarnings();
  packets = 0;
  bytes = 0;
  private readonly clock = new SweepClock();

  constructor(
    private readonly count: number,
    private readonly deliver: Deliver,
    /** where each packet is decoded, and left for `deliver` to use */
    readonly d: Decoded = newDecoded(),
  ) {}

  /** whether the packet being delivered decoded as an IP packet we follow */
  ok = false;

  readonly sink = (p: RawPacket): void => {
    this.packets++;
    this.bytes += p.wirelen;
    const d = this.d;
    const n = this.count;
    const ok = (this.ok = decodePacket(p, d, this.warnings));
    const swept = this.clock.tick(d.ts);
    if (isEpochEnd(swept, this.packets)) for (let w = 0; w < n; w++) this.deliver(w, swept ? Kind.Sweep : Kind.Epoch, p);
    if (!ok) {
      if (d.isArp) for (let w = 0; w < n; w++) this.deliver(w, Kind.Shared, p);
      return;
    }
    const owner = shardOf(d, n);
    if (!isSharedFact(d)) return this.deliver(owner, Kind.Owned, p);
    for (let w = 0; w < n; w++) this.deliver(w, w === owner ? Kind.Owned : Kind.Shared, p);
  };
}

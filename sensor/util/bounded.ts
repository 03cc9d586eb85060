/**
 * Removes the oldest entries (insertion order) of a map until at most `keep`
 * remain. Done in bulk on purpose: V8 leaves deleted slots at the front of a
 * Map until it rehashes, so taking `keys().next()` after every insert costs
 * time proportional to the deletions so far, and a flood turns quadratic.
 */
export function evictOldest<K, V>(map: Map<K, V>, keep: number, onEvict?: (v: V, k: K) => void): void {
  if (map.size <= keep) return;
  let excess = map.size - keep;
  for (const [k, v] of map) {
    if (excess-- <= 0) break;
    map.delete(k);
    onEvict?.(v, k);
  }
}

/** Room made when a bounded map is full: a tenth, so eviction runs once per many inserts. */
export function lowWater(max: number): number {
  return Math.max(0, Math.floor(max * 0.9));
}

/**
 * At most `max` values, the earliest seen (then the smallest): which values
 * are kept does not depend on the order they arrive in, so sets filled by
 * several shards merge to what one would have kept.
 */
export class EarliestSet {
  private readonly first = new Map<string, number>();
  /** the latest kept time, while full; adding anything later is a no-op */
  private latest = Infinity;

  constructor(private readonly max: number) {}

  add(value: string, ts: number): void {
    const had = this.first.get(value);
    if (had !== undefined) {
      if (ts >= had) return;
      this.first.set(value, ts);
      // The value may have been the latest kept: what a later add is compared with moves.
      if (this.first.size === this.max) this.latest = this.findLatest()[1];
      return;
    }
    if (this.first.size < this.max) {
      this.first.set(value, ts);
      if (this.first.size === this.max) this.latest = this.findLatest()[1];
      return;
    }
    if (ts > this.latest) return;
    const [worst, wts] = this.findLatest();
    if (ts === wts && value > worst) return;
    this.first.delete(worst);
    this.first.set(value, ts);
    this.latest = this.findLatest()[1];
  }

  private findLatest(): [string, number] {
    let worst = '';
    let wts = -Infinity;
    for (const [v, t] of this.first) {
      if (t > wts || (t === wts && v > worst)) {
        worst = v;
        wts = t;
      }
    }
    return [worst, wts];
  }

  get size(): number {
    return this.first.size;
  }

  entries(): [string, number][] {
    return [...this.first];
  }

  /** The values, sorted. */
  values(): string[] {
    return [...this.first.keys()].sort();
  }
}

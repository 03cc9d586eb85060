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

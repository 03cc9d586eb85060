// Bounded collections: evictOldest removes exactly the oldest entries in
// insertion order; EarliestSet keeps the `max` values seen earliest (ties by
// value) whatever order or split the values arrive in.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EarliestSet, evictOldest, lowWater } from '../../../sensor/util/bounded.js';

describe('evictOldest', () => {
  it('keeps the newest `keep` entries by insertion order and reports each removed one, oldest first', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string(), { maxLength: 60 }), fc.nat({ max: 70 }), (keys, keep) => {
        const m = new Map(keys.map((k, i) => [k, i]));
        const evicted: [number, string][] = [];
        evictOldest(m, keep, (v, k) => evicted.push([v, k]));
        const gone = Math.max(0, keys.length - keep);
        expect([...m.keys()]).toEqual(keys.slice(gone));
        expect(evicted).toEqual(keys.slice(0, gone).map((k, i) => [i, k]));
      }),
      { numRuns: 2000 },
    );
  });

  it('a re-inserted key counts from its first insertion; deleted and re-added counts as new', () => {
    const m = new Map([['a', 1], ['b', 2], ['c', 3]]);
    m.set('a', 10);
    m.delete('b');
    m.set('b', 20);
    evictOldest(m, 2);
    expect([...m]).toEqual([['c', 3], ['b', 20]]);
  });

  it('evicting from a large map repeatedly stays linear (bulk removal)', () => {
    const m = new Map<number, number>();
    const t0 = performance.now();
    for (let i = 0; i < 300_000; i++) {
      m.set(i, i);
      if (m.size > 1000) evictOldest(m, lowWater(1000));
    }
    expect(m.size).toBeLessThanOrEqual(1000);
    expect([...m.keys()].at(-1)).toBe(299_999);
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});

describe('lowWater', () => {
  it('is 90% of the maximum, rounded down, never negative', () => {
    expect([lowWater(1000), lowWater(10), lowWater(1), lowWater(0), lowWater(-5)]).toEqual([900, 9, 0, 0, 0]);
  });
});

/** The values an EarliestSet of `max` must hold: by earliest time seen, then by value. */
function oracle(adds: [string, number][], max: number): [string, number][] {
  const first = new Map<string, number>();
  for (const [v, t] of adds) first.set(v, Math.min(t, first.get(v) ?? Infinity));
  return [...first].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1)).slice(0, max);
}

const sortByValue = (e: [string, number][]) => [...e].sort((a, b) => (a[0] < b[0] ? -1 : 1));

describe('EarliestSet', () => {
  const values = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l');
  const times = fc.integer({ min: 0, max: 20 });

  it('values each seen once: keeps the earliest (then smallest) whatever the arrival order', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(values, times), { selector: ([v]) => v, maxLength: 12 }), fc.integer({ min: 1, max: 6 }), (adds, max) => {
        const s = new EarliestSet(max);
        for (const [v, t] of adds) s.add(v, t);
        expect(sortByValue(s.entries())).toEqual(sortByValue(oracle(adds, max)));
        expect(s.values()).toEqual(oracle(adds, max).map(([v]) => v).sort());
        expect(s.size).toBe(Math.min(max, adds.length));
      }),
      { numRuns: 5000 },
    );
  });

  it('a value seen again earlier keeps its earliest time; seen again later changes nothing', () => {
    const s = new EarliestSet(4);
    s.add('x', 10);
    s.add('x', 5);
    s.add('x', 7);
    expect(s.entries()).toEqual([['x', 5]]);
  });

  it('while full, a later value is refused and an earlier one replaces the latest kept', () => {
    const s = new EarliestSet(2);
    s.add('a', 1);
    s.add('b', 5);
    s.add('c', 9);
    expect(s.values()).toEqual(['a', 'b']);
    s.add('d', 3);
    expect(sortByValue(s.entries())).toEqual([['a', 1], ['d', 3]]);
    // a tie on time is decided by the value
    s.add('c', 3);
    expect(s.values()).toEqual(['a', 'c']);
    s.add('z', 3);
    expect(s.values()).toEqual(['a', 'c']);
  });

  // A full set that learns an earlier time for a value it holds must compare later values
  // with the new latest kept time; shards merged by adding each other's entries rely on it.
  it('any arrival order, repeats and shard merges: keeps the earliest (then smallest) values', () => {
    const s = new EarliestSet(2);
    s.add('a', 5);
    s.add('b', 6);
    s.add('b', 1); // b is now the earliest; the latest kept is a@5
    s.add('c', 5.5); // later than both kept values: must be refused
    expect(sortByValue(s.entries())).toEqual([['a', 5], ['b', 1]]);
  });

  it('shards merged by adding their entries keep what one set fed everything would keep (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(values, times), { maxLength: 30 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), (adds, max, shards) => {
        const parts = Array.from({ length: shards }, () => new EarliestSet(max));
        adds.forEach(([v, t], i) => parts[i % shards].add(v, t));
        const merged = new EarliestSet(max);
        for (const p of parts) for (const [v, t] of p.entries()) merged.add(v, t);
        expect(sortByValue(merged.entries())).toEqual(sortByValue(oracle(adds, max)));
      }),
      { numRuns: 5000, seed: 1 },
    );
  });
});

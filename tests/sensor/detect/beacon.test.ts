// Beacon scoring: periodic traffic with jitter scores as a beacon whatever its
// period; irregular repeated traffic never passes the beacon thresholds.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scoreBeacon } from '../../../sensor/detect/beacon.js';
import { loadDetectionConfig } from '../../../sensor/detect/config.js';
import { isBeacon as beaconThresholds } from '../../../sensor/detect/rules/beaconing.js';

const cfg = loadDetectionConfig().rules.beaconing.params;
const isBeacon = (s: ReturnType<typeof scoreBeacon>) => s !== null && beaconThresholds(s, cfg);

function series(gap: (r: () => number) => number, seed: number, span: number, size: (r: () => number) => number) {
  let s = seed;
  const r = () => (s = (s * 16807) % 2147483647) / 2147483647;
  const starts: number[] = [];
  const sizes: number[] = [];
  for (let t = 1000 + r() * 60; t < 1000 + span; t += gap(r)) {
    starts.push(t);
    sizes.push(size(r));
  }
  return { starts, sizes };
}

describe('beacon scoring', () => {
  it('periodic connections with up to 10% jitter are beacons, for periods from 10 s to 15 min', () => {
    fc.assert(
      fc.property(fc.integer({ min: 10, max: 900 }), fc.double({ min: 0, max: 0.1, noNaN: true }), fc.integer({ min: 1, max: 1e9 }), (period, jitter, seed) => {
        const span = period * 200;
        const { starts, sizes } = series((r) => period * (1 + (r() - 0.5) * 2 * jitter), seed, span, (r) => 400 + Math.floor(r() * 20));
        const s = scoreBeacon(starts, sizes, 1000, 1000 + span);
        expect(isBeacon(s), JSON.stringify(s)).toBe(true);
        expect(Math.abs(s!.interval - period) / period).toBeLessThan(0.1);
      }),
      { numRuns: 200 },
    );
  });

  it('irregular connections (Poisson arrivals) are not beacons, even with identical sizes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 10, max: 900 }), fc.integer({ min: 1, max: 1e9 }), (mean, seed) => {
        const span = mean * 200;
        const { starts, sizes } = series((r) => -Math.log(1 - r()) * mean, seed, span, () => 500);
        expect(isBeacon(scoreBeacon(starts, sizes, 1000, 1000 + span))).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it('retries within the merge window are one beat', () => {
    const starts = [0, 60, 61, 120, 180, 180.5, 240, 300].map((t) => t + 1000);
    const s = scoreBeacon(starts, starts.map(() => 100), 1000, 1300)!;
    expect(s.beats).toBe(6);
    expect(s.interval).toBe(60);
    expect(s.jitter).toBe(0);
  });

  it('fewer than four beats cannot be judged', () => {
    expect(scoreBeacon([1, 61, 121], [1, 1, 1], 0, 200)).toBeNull();
  });
});

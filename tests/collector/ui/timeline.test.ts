// Flows per day by country or operator for the device page's charts: every
// day from the first to the last, the top countries as lines and the rest as
// "other", flows without a country (local ones) left out, and a far-off
// clock unable to make a chart of years.
import { describe, expect, it } from 'vitest';
import type { StoredFlow } from '../../../collector/store/store.js';
import { countByDay, MAX_DAYS } from '../../../collector/ui/timeline.js';

const DAY = 86_400;
const T0 = 1_700_000_000 - (1_700_000_000 % DAY);

/** A flow at `day` (days after T0) to a country and operator; null country: a local destination. */
function flow(day: number, country: string | null, org: string | null = null, asn: number | null = null): StoredFlow {
  return { ts: T0 + day * DAY + 3600, dst_country: country, dst_as_org: org, dst_asn: asn } as StoredFlow;
}

describe('countByDay', () => {
  it('counts flows per UTC day and country, with a zero on days without any', () => {
    const t = countByDay([flow(0, 'CN'), flow(0, 'CN'), flow(2, 'CN'), flow(2, 'US'), flow(1, null)], 'country');
    expect(t.days).toEqual([T0, T0 + DAY, T0 + 2 * DAY]);
    expect(t.series).toEqual([
      { label: 'CN', flows: [2, 0, 1] },
      { label: 'US', flows: [0, 0, 1] },
    ]);
    expect(t.flows).toBe(4);
  });

  it('draws the top countries and sums the rest as other', () => {
    const flows = ['A', 'B', 'C', 'D', 'E', 'F', 'G'].flatMap((c, i) => Array.from({ length: 10 - i }, () => flow(0, c)));
    const t = countByDay(flows, 'country', 5);
    expect(t.series.map((s) => [s.label, s.flows[0]])).toEqual([['A', 10], ['B', 9], ['C', 8], ['D', 7], ['E', 6], ['other', 9]]);
  });

  it('keys by operator, else by AS number, for flows with a country', () => {
    const t = countByDay([flow(0, 'US', 'Amazon.com, Inc.', 16509), flow(0, 'US', null, 49), flow(0, 'US', null, null), flow(0, null, 'Local', 1)], 'operator');
    expect(t.series.map((s) => s.label).sort()).toEqual(['AS49', 'Amazon.com, Inc.', 'unknown']);
  });

  it(`draws at most ${MAX_DAYS} days back from the newest flow`, () => {
    const t = countByDay([flow(0, 'CN'), flow(100_000, 'CN'), flow(100_000 - MAX_DAYS + 1, 'CN')], 'country');
    expect(t.days).toHaveLength(MAX_DAYS);
    expect(t.days[t.days.length - 1]).toBe(T0 + 100_000 * DAY);
    expect(t.flows).toBe(2);
  });

  it('is empty without an Internet flow', () => {
    expect(countByDay([flow(0, null)], 'country')).toEqual({ by: 'country', days: [], series: [], flows: 0 });
  });
});

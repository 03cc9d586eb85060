// A device's flows to the Internet per day, by destination country or
// operator, for the chart of its page (assets/timeline.ts draws it). The
// store keeps flows, not daily counts: the newest flows of the device are
// read, at most MAX_FLOWS of them, and the answer says when it stopped
// there (the chart then covers the days those flows span).
import type { StoredFlow } from '../store/store.js';
import type { CollectorContext } from '../context.js';

export const MAX_FLOWS = 20_000;
/** Countries or operators drawn as lines; the rest are summed as "other". */
export const TOP = 5;
/** Days drawn at most, back from the newest flow's: a sensor's clock far off cannot make a chart of years. */
export const MAX_DAYS = 400;
const DAY = 86_400;

export type TimelineKey = 'country' | 'operator';

export interface Timeline {
  by: TimelineKey;
  /** UTC midnights, epoch seconds, ascending, every day from the first to the last */
  days: number[];
  series: { label: string; flows: number[] }[];
  /** Internet flows counted */
  flows: number;
  /** MAX_FLOWS were read and older flows were left out */
  truncated: boolean;
}

const keyOf = (by: TimelineKey, f: StoredFlow): string | null =>
  f.dst_country === null ? null : by === 'country' ? f.dst_country : (f.dst_as_org ?? (f.dst_asn !== null ? `AS${f.dst_asn}` : 'unknown'));

/** The newest flows of a device (up to `max`), and whether there were more. */
async function newestFlows(ctx: CollectorContext, device: string, max: number): Promise<{ flows: StoredFlow[]; truncated: boolean }> {
  const flows: StoredFlow[] = [];
  let cursor: string | undefined;
  do {
    const page = await ctx.store.listFlows({ device, limit: Math.min(1000, max - flows.length), cursor });
    flows.push(...page.items);
    cursor = page.next_cursor ?? undefined;
  } while (cursor && flows.length < max);
  return { flows, truncated: cursor !== undefined };
}

/** Counts per day and key of flows with a destination country (Internet flows, as GeoIP placed them). */
export function countByDay(flows: readonly StoredFlow[], by: TimelineKey, top = TOP): Omit<Timeline, 'truncated'> {
  const keyed = flows
    .map((f) => ({ k: keyOf(by, f), day: Math.floor(f.ts / DAY) * DAY }))
    .filter((x): x is { k: string; day: number } => x.k !== null && Number.isFinite(x.day));
  if (!keyed.length) return { by, days: [], series: [], flows: 0 };
  const last = keyed.reduce((m, x) => Math.max(m, x.day), -Infinity);
  const kept = keyed.filter((x) => x.day > last - MAX_DAYS * DAY);
  const first = kept.reduce((m, x) => Math.min(m, x.day), last);
  const perKey = new Map<string, Map<number, number>>();
  const totals = new Map<string, number>();
  for (const { k, day } of kept) {
    const m = perKey.get(k) ?? new Map<number, number>();
    m.set(day, (m.get(day) ?? 0) + 1);
    perKey.set(k, m);
    totals.set(k, (totals.get(k) ?? 0) + 1);
  }
  const days = Array.from({ length: (last - first) / DAY + 1 }, (_, i) => first + i * DAY);
  const ranked = [...totals].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([k]) => k);
  const line = (keys: string[]) => days.map((d) => keys.reduce((n, k) => n + (perKey.get(k)?.get(d) ?? 0), 0));
  const series = ranked.slice(0, top).map((k) => ({ label: k, flows: line([k]) }));
  if (ranked.length > top) series.push({ label: 'other', flows: line(ranked.slice(top)) });
  return { by, days, series, flows: kept.length };
}

/** The timeline of a device's newest flows. */
export async function deviceTimeline(ctx: CollectorContext, device: string, by: TimelineKey, max = MAX_FLOWS): Promise<Timeline> {
  const { flows, truncated } = await newestFlows(ctx, device, max);
  return { ...countByDay(flows, by), truncated };
}

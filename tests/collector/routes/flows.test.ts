// The flows API and the alert's evidence flows, against the collector as a
// real process on SQLite and on a real PostgreSQL server.
import { describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../../contract/types.js';
import { api } from '../../helpers/collector.js';
import { backends, events, useBackends, useLoadedCollector } from './backends.js';

useBackends();

type Page = { items: (FlowRecord & { sensor: string })[]; next_cursor: string | null };

describe.each(backends)('flows API on %s', (_name, dbUrl) => {
  const c = useLoadedCollector(dbUrl);

  async function pages(query: string, limit: number): Promise<string[]> {
    const uids: string[] = [];
    let cursor: string | null = null;
    do {
      const r = await api(c.url, `/api/v1/flows?${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(r.status, query).toBe(200);
      const p = (await r.json()) as Page;
      uids.push(...p.items.map((f) => f.uid));
      cursor = p.next_cursor;
    } while (cursor);
    return uids;
  }

  it('lists flows by device, destination, uid and time, page by page, as the sensor sent them', async () => {
    const sorted = (fs: FlowRecord[]) => [...fs].sort((a, b) => b.ts - a.ts || (a.uid < b.uid ? 1 : a.uid > b.uid ? -1 : 0)).map((f) => f.uid);
    expect(await pages('', 7)).toEqual(sorted(events.flows));
    const mac = events.flows.find((f) => f.src_mac)!.src_mac!;
    expect(await pages(`device=${mac.toUpperCase()}`, 5)).toEqual(sorted(events.flows.filter((f) => f.src_mac === mac)));
    const dst = events.flows.find((f) => f.dst_country)!.dst_ip;
    expect(await pages(`dst=${dst}`, 2)).toEqual(sorted(events.flows.filter((f) => f.dst_ip === dst)));
    const some = events.flows.slice(0, 4).map((f) => f.uid);
    expect((await pages(`uid=${some.join(',')}`, 100)).sort()).toEqual([...some].sort());
    const mid = events.flows[Math.floor(events.flows.length / 2)].ts;
    expect(await pages(`from=${mid}`, 50)).toEqual(sorted(events.flows.filter((f) => f.ts >= mid)));
    const [one] = ((await (await api(c.url, `/api/v1/flows?uid=${some[0]}`)).json()) as Page).items;
    expect(one).toEqual({ ...events.flows[0], sensor: 'lab' });
  });

  it("serves an alert's evidence flows, and refuses what it cannot read", async () => {
    const a = events.alerts.find((x) => x.evidence.uids.length > 1)!;
    const r = (await (await api(c.url, `/api/v1/alerts/${a.id}/flows`)).json()) as { items: FlowRecord[]; missing: string[]; counted: number };
    expect(r.items.map((f) => f.uid).sort()).toEqual([...a.evidence.uids].sort());
    expect(r.missing).toEqual([]);
    expect(r.counted).toBe(a.evidence.flows);
    expect((await api(c.url, '/api/v1/alerts/nope/flows')).status).toBe(404);
    expect((await api(c.url, '/api/v1/flows?cursor=bogus')).status).toBe(400);
    expect((await api(c.url, '/api/v1/flows?from=yesterday')).status).toBe(400);
    expect((await fetch(`${c.url}/api/v1/flows`)).status).toBe(401);
  });

  it('mutes: an analyst mutes a destination, its alerts are listed as muted, and lifting it shows them again', async () => {
    const a = events.alerts.find((x) => x.destination?.ip)!;
    const bad = await api(c.url, '/api/v1/mutes', { method: 'POST', body: JSON.stringify({ reason: 'x', hours: 1 }) });
    expect(bad.status, 'a mute names something').toBe(400);
    const r = await api(c.url, '/api/v1/mutes', { method: 'POST', body: JSON.stringify({ destination: a.destination!.ip, reason: 'vendor NTP', hours: 2 }) });
    expect(r.status).toBe(201);
    const mute = (await r.json()) as { id: string; created_by: string };
    expect(mute.created_by).toBe('api-token');
    const only = ((await (await api(c.url, '/api/v1/alerts?muted=only&limit=1000')).json()) as { items: { id: string }[] }).items;
    expect(only.map((x) => x.id).sort()).toEqual(events.alerts.filter((x) => x.destination?.ip === a.destination!.ip || x.destination?.name === a.destination!.ip).map((x) => x.id).sort());
    expect(((await (await api(c.url, '/api/v1/mutes')).json()) as { items: unknown[] }).items).toHaveLength(1);
    expect((await api(c.url, `/api/v1/mutes/${mute.id}`, { method: 'DELETE' })).status).toBe(200);
    expect((await api(c.url, `/api/v1/mutes/${mute.id}`, { method: 'DELETE' })).status).toBe(404);
    expect(((await (await api(c.url, '/api/v1/alerts?muted=only')).json()) as { items: unknown[] }).items).toEqual([]);
  });
});

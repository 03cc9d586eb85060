// The alerts API against the collector as a real process, on SQLite and on a
// real PostgreSQL server: listing, filters, pagination, acknowledging and
// evidence downloads.
import { describe, expect, it } from 'vitest';
import type { StoredAlert } from '../../../contract/types.js';
import { api } from '../../helpers/collector.js';
import { backends, events, useBackends, useLoadedCollector } from './backends.js';

useBackends();

describe.each(backends)('alerts API on %s', (_name, dbUrl) => {
  const c = useLoadedCollector(dbUrl);

  it('serves alerts newest first, filtered and paginated', async () => {
    const all: StoredAlert[] = [];
    let cursor: string | null = null;
    do {
      const r = await api(c.url, `/api/v1/alerts?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(r.status).toBe(200);
      const page = (await r.json()) as { items: StoredAlert[]; next_cursor: string | null };
      all.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    expect(all.map((a) => a.id).sort()).toEqual(events.alerts.map((a) => a.id).sort());
    for (let i = 1; i < all.length; i++) expect(all[i - 1].ts).toBeGreaterThanOrEqual(all[i].ts);
    const geo = (await (await api(c.url, '/api/v1/alerts?rule=geo-callback&country=us')).json()).items as StoredAlert[];
    expect(geo.length).toBe(events.alerts.filter((a) => a.rule === 'geo-callback' && a.destination?.country === 'US').length);
    const mac = events.alerts[0].device.mac!;
    const byDevice = (await (await api(c.url, `/api/v1/alerts?device=${mac}`)).json()).items as StoredAlert[];
    expect(byDevice.length).toBe(events.alerts.filter((a) => a.device.mac === mac).length);
    expect((await api(c.url, '/api/v1/alerts?severity=urgent')).status).toBe(400);
    expect((await api(c.url, '/api/v1/alerts?from=yesterday')).status).toBe(400);
    // Only epoch seconds and ISO 8601: a lenient date parser reads these as the year 2001.
    for (const bad of ['-1', "' OR '1'='1", '1 2', '2024-13']) {
      const r = await api(c.url, `/api/v1/alerts?from=${encodeURIComponent(bad)}`);
      expect(r.status, bad).toBe(400);
      expect((await r.json()).message, bad).toContain('must be epoch seconds or an ISO 8601 time');
    }
    for (const good of ['0', '1700000000.5', '2016-04-21', '2016-04-21T13:00:00Z', '2016-04-21T13:00:00.123+02:00']) {
      expect((await api(c.url, `/api/v1/alerts?from=${encodeURIComponent(good)}`)).status, good).toBe(200);
    }
  });

  it('an analyst acknowledges an alert with a note; the evidence pcap downloads', async () => {
    const a = events.alerts.find((x) => events.evidence.has(x.id))!;
    const r = await api(c.url, `/api/v1/alerts/${a.id}`, { method: 'PATCH', body: JSON.stringify({ status: 'acknowledged', note: 'vendor confirms NTP', who: 'soc-1' }) });
    expect(r.status).toBe(200);
    expect((await r.json()).state).toMatchObject({ status: 'acknowledged', note: 'vendor confirms NTP', updated_by: 'soc-1' });
    const open = (await (await api(c.url, '/api/v1/alerts?status=acknowledged')).json()).items as StoredAlert[];
    expect(open.map((x) => x.id)).toEqual([a.id]);
    const pcap = await api(c.url, `/api/v1/alerts/${a.id}/pcap`);
    expect(pcap.status).toBe(200);
    expect(pcap.headers.get('content-type')).toBe('application/vnd.tcpdump.pcap');
    expect(Buffer.from(await pcap.arrayBuffer())).toEqual(events.evidence.get(a.id));
    expect((await api(c.url, '/api/v1/alerts/nope')).status).toBe(404);
    expect((await api(c.url, `/api/v1/alerts/${a.id}`, { method: 'PATCH', body: JSON.stringify({ status: 'gone', who: 'x' }) })).status).toBe(400);
  });

  it('an alert without evidence has no pcap; an unknown alert cannot be acknowledged', async () => {
    const a = events.alerts.find((x) => !events.evidence.has(x.id));
    if (a) expect((await api(c.url, `/api/v1/alerts/${a.id}/pcap`)).status).toBe(404);
    expect((await api(c.url, '/api/v1/alerts/nope/pcap')).status).toBe(404);
    expect((await api(c.url, '/api/v1/alerts/nope', { method: 'PATCH', body: JSON.stringify({ status: 'resolved', who: 'x' }) })).status).toBe(404);
  });
});

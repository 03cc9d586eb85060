// GET /api/v1/dead-letters against the collector as a real process, on
// SQLite and on a real PostgreSQL server: what two sensors' refused events
// left, filtered and paginated; and no sensor token reads the API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../../contract/types.js';
import { api, SENSOR_TOKEN, startCollector, type RunningCollector } from '../../helpers/collector.js';
import { batch, eventsOf } from '../../helpers/events.js';
import { backends, events, useBackends, writeConfig } from './backends.js';

useBackends();

const OTHER_TOKEN = 'other-sensor-secret-0123456789';

describe.each(backends)('dead letters on %s', (_name, dbUrl) => {
  let c: RunningCollector;
  let t0: number;
  beforeAll(async () => {
    c = await startCollector(dbUrl(), ['--config', writeConfig(), '--sensor-token', `other:${OTHER_TOKEN}`]);
    t0 = Math.floor(Date.now() / 1000);
    const all = eventsOf(events);
    expect((await api(c.url, '/api/v1/events', { method: 'POST', body: JSON.stringify(batch(all)), token: SENSOR_TOKEN })).status).toBe(200);
    // The other sensor reuses the first one's alert ids: each is refused, and a bad flow of its own too.
    const alerts = all.filter((e) => e.kind === 'alert').map((e) => ({ ...e, data: { ...e.data, message: 'overwritten' } }));
    const bad = { kind: 'flow', key: 'bad-flow', data: { ...events.flows[0], dst_port: 70000 } };
    const r = await api(c.url, '/api/v1/events', { method: 'POST', body: JSON.stringify(batch([...alerts, bad] as never)), token: OTHER_TOKEN });
    expect(r.status).toBe(200);
    const result = await r.json();
    expect(result.accepted).toBe(0);
    expect(result.refused.map((x: { code: string }) => x.code)).toEqual([...alerts.map(() => 'not_owner'), 'invalid_event']);
  }, 60_000);
  afterAll(async () => {
    expect(await c.stop()).toBe(0);
  });

  const list = async (q: string): Promise<{ items: DeadLetter[]; next_cursor: string | null }> => {
    const r = await api(c.url, `/api/v1/dead-letters${q}`);
    expect(r.status, await r.clone().text()).toBe(200);
    return r.json();
  };

  it('lists what was refused, with why, and the alerts stay as their own sensor stored them', async () => {
    const { items } = await list('?sensor=other');
    expect(items).toHaveLength(events.alerts.length + 1);
    expect(items.find((d) => d.key === 'bad-flow')).toMatchObject({ sensor: 'other', kind: 'flow', code: 'invalid_event', reason: 'data.dst_port must be <= 65535', truncated: false });
    expect(items.filter((d) => d.code === 'not_owner').map((d) => JSON.parse(d.event).data.id).sort()).toEqual(events.alerts.map((a) => a.id).sort());
    for (const a of events.alerts) {
      const stored = await (await api(c.url, `/api/v1/alerts/${encodeURIComponent(a.id)}`)).json();
      expect([stored.message, stored.sensor]).toEqual([a.message, 'lab']);
    }
    expect((await list('?sensor=lab')).items).toEqual([]);
  });

  it('filters by code and time, pages with a cursor, and refuses a time that is neither epoch seconds nor ISO 8601', async () => {
    expect((await list('?code=invalid_event')).items.map((d) => d.key)).toEqual(['bad-flow']);
    expect((await list(`?from=${t0 + 3600}`)).items).toEqual([]);
    expect((await list(`?from=${new Date((t0 - 60) * 1000).toISOString()}&to=${t0 + 3600}`)).items).toHaveLength(events.alerts.length + 1);
    const ids: string[] = [];
    let cursor = '';
    do {
      const page = await list(`?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      ids.push(...page.items.map((d) => d.id));
      cursor = page.next_cursor ?? '';
    } while (cursor);
    expect(ids).toEqual((await list('')).items.map((d) => d.id));
    for (const q of ['?from=-1', "?to=' OR '1'='1", '?code=unknown', '?limit=0']) expect((await api(c.url, `/api/v1/dead-letters${q}`)).status, q).toBe(400);
  });

  it('no sensor token reads any of the API: 401 on every GET route', async () => {
    const a = events.alerts[0].id;
    for (const path of ['/api/v1/dead-letters', '/api/v1/alerts', `/api/v1/alerts/${a}`, `/api/v1/alerts/${a}/pcap`, '/api/v1/devices', `/api/v1/devices/${events.devices[0].mac}`, '/api/v1/sensors']) {
      for (const token of [SENSOR_TOKEN, OTHER_TOKEN]) expect((await api(c.url, path, { token })).status, path).toBe(401);
    }
  });
});

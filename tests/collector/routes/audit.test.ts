// Roles on the real routes and the audit log they write, against the
// collector as a real process on SQLite and on a real PostgreSQL server.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, SENSOR_TOKEN, startCollector, type RunningCollector } from '../../helpers/collector.js';
import { batch, eventsOf } from '../../helpers/events.js';
import { backends, events, tmp, useBackends } from './backends.js';

useBackends();

const TOKENS = { viewer: 'viewer-secret-0123456789', analyst: 'analyst-secret-9876543210', admin: 'admin-secret-0123456789' };

describe.each(backends)('roles and the audit log on %s', (_name, dbUrl) => {
  let c: RunningCollector;
  beforeAll(async () => {
    const file = join(tmp, `api-${Math.random()}.tokens`);
    writeFileSync(file, `ro:viewer:${TOKENS.viewer}\nsoc-1:analyst:${TOKENS.analyst}\nboss:admin:${TOKENS.admin}\n`);
    c = await startCollector(dbUrl(), ['--api-token-file', file]);
    expect((await api(c.url, '/api/v1/events', { method: 'POST', body: JSON.stringify(batch(eventsOf(events), 'b1')), token: SENSOR_TOKEN })).status).toBe(200);
  }, 60_000);
  afterAll(async () => {
    expect(await c.stop()).toBe(0);
  });

  const status = async (path: string, token: string, init: RequestInit = {}) => (await api(c.url, path, { ...init, token })).status;
  const patch = (id: string, token: string, body: object) => api(c.url, `/api/v1/alerts/${id}`, { method: 'PATCH', body: JSON.stringify(body), token });

  it('a viewer reads everything but changes nothing and cannot read the audit log', async () => {
    const a = events.alerts[0];
    for (const path of ['/api/v1/alerts', `/api/v1/alerts/${a.id}`, '/api/v1/devices', '/api/v1/sensors']) expect(await status(path, TOKENS.viewer), path).toBe(200);
    const r = await patch(a.id, TOKENS.viewer, { status: 'resolved' });
    expect(r.status).toBe(403);
    expect(await r.json()).toEqual({ statusCode: 403, error: 'Forbidden', message: "API token 'ro' has role viewer; changing an alert needs analyst" });
    expect((await (await api(c.url, `/api/v1/alerts/${a.id}`, { token: TOKENS.viewer })).json()).state.status).toBe('open');
    const audit = await api(c.url, '/api/v1/audit', { token: TOKENS.viewer });
    expect(audit.status).toBe(403);
    expect((await audit.json()).message).toBe("API token 'ro' has role viewer; reading the audit log needs admin");
    expect(await status('/api/v1/audit', 'not-a-token-0123456789')).toBe(401);
  });

  it('an analyst changes alerts, an admin too and reads the audit log: who, what, when, from what', async () => {
    const [a, b] = events.alerts;
    const before = Date.now() / 1000;
    expect((await patch(a.id, TOKENS.analyst, { status: 'acknowledged', note: 'vendor says NTP' })).status).toBe(200);
    expect((await patch(a.id, TOKENS.admin, { status: 'resolved', note: 'firmware 1.2', who: 'Dana' })).status).toBe(200);
    expect((await patch(b.id, TOKENS.analyst, { status: 'acknowledged' })).status).toBe(200);
    expect(await status('/api/v1/audit', TOKENS.analyst)).toBe(403);
    // The single --api-token is an admin.
    const r = await api(c.url, '/api/v1/audit');
    expect(r.status).toBe(200);
    const log = (await r.json()) as { items: { actor: string; role: string; action: string; target: string; at: number; detail: { set: object; was: object } }[]; next_cursor: string | null };
    expect(log.items.map((e) => [e.actor, e.role, e.action, e.target])).toEqual([
      ['soc-1', 'analyst', 'PATCH /api/v1/alerts/:id', b.id],
      ['boss', 'admin', 'PATCH /api/v1/alerts/:id', a.id],
      ['soc-1', 'analyst', 'PATCH /api/v1/alerts/:id', a.id],
    ]);
    expect(log.items[1].detail).toEqual({ set: { status: 'resolved', note: 'firmware 1.2', who: 'Dana' }, was: { status: 'acknowledged', note: 'vendor says NTP', who: 'soc-1' } });
    expect(log.items[2].detail).toEqual({ set: { status: 'acknowledged', note: 'vendor says NTP', who: 'soc-1' }, was: { status: 'open', note: null, who: null } });
    for (const e of log.items) expect(e.at).toBeGreaterThanOrEqual(before - 1);
    const alert = await (await api(c.url, `/api/v1/alerts/${a.id}`, { token: TOKENS.viewer })).json();
    expect(alert.state).toMatchObject({ status: 'resolved', updated_by: 'Dana' });
  });

  it('the audit log pages newest first and filters by actor and target', async () => {
    const first = await (await api(c.url, '/api/v1/audit?limit=2', { token: TOKENS.admin })).json();
    expect(first.items).toHaveLength(2);
    const rest = await (await api(c.url, `/api/v1/audit?limit=2&cursor=${encodeURIComponent(first.next_cursor)}`, { token: TOKENS.admin })).json();
    expect(rest).toMatchObject({ next_cursor: null });
    expect(rest.items.map((e: { actor: string }) => e.actor)).toEqual(['soc-1']);
    const boss = await (await api(c.url, '/api/v1/audit?actor=boss', { token: TOKENS.admin })).json();
    expect(boss.items.map((e: { target: string }) => e.target)).toEqual([events.alerts[0].id]);
    const byTarget = await (await api(c.url, `/api/v1/audit?target=${encodeURIComponent(events.alerts[1].id)}`, { token: TOKENS.admin })).json();
    expect(byTarget.items).toHaveLength(1);
    expect(await status('/api/v1/audit?from=yesterday', TOKENS.admin)).toBe(400);
    expect(await status('/api/v1/audit?cursor=garbage', TOKENS.admin)).toBe(400);
  });
});

// The collector as a real process on a loopback port, spoken to over HTTP, on
// SQLite and on a real PostgreSQL server: authentication, validation, limits,
// idempotent ingest, the analyst API, evidence downloads, metrics and docs.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredAlert } from '../../contract/types.js';
import { api, SENSOR_TOKEN, startCollector, type RunningCollector } from '../helpers/collector.js';
import { fixture } from '../helpers/corpus.js';
import { batch, eventsOf, realEvents, type RealEvents } from '../helpers/events.js';
import { startPostgres } from '../helpers/postgres.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-collector-'));
let pg: { url: string; stop(): Promise<void> } | null = null;
let events: RealEvents;

beforeAll(async () => {
  events = await realEvents([fixture('TP-LinkPlugHS110'), fixture('HueBridge'), fixture('WeMoSwitch')], { watchCountries: ['US', 'IE', 'CN'] });
  pg = await startPostgres();
}, 120_000);

afterAll(async () => {
  await pg?.stop();
});

const backends: [string, () => string][] = [
  ['sqlite', () => `sqlite:${join(tmp, `c-${Date.now()}-${Math.random()}.db`)}`],
  ['postgres', () => pg!.url],
];

describe.each(backends)('collector on %s', (_name, dbUrl) => {
  let c: RunningCollector;
  beforeAll(async () => {
    c = await startCollector(dbUrl(), ['--config', writeConfig()]);
  }, 60_000);
  afterAll(async () => {
    expect(await c.stop()).toBe(0);
  });

  const ingest = (body: unknown, token = SENSOR_TOKEN) => api(c.url, '/api/v1/events', { method: 'POST', body: JSON.stringify(body), token });

  it('refuses a missing or wrong sensor token with 401, and the API token is not a sensor token', async () => {
    const b = batch(eventsOf(events).slice(0, 2));
    expect((await fetch(`${c.url}/api/v1/events`, { method: 'POST', body: JSON.stringify(b), headers: { 'content-type': 'application/json' } })).status).toBe(401);
    expect((await ingest(b, 'wrong-token-000000000000')).status).toBe(401);
    expect((await ingest(b, 'analyst-secret-0123456789')).status).toBe(401);
    expect((await api(c.url, '/api/v1/alerts', { token: SENSOR_TOKEN })).status).toBe(401);
  });

  it('refuses malformed batches with 400 and the reason', async () => {
    const r = await ingest({ batch_id: 'x', sensor: { name: 'lab', version: '1' }, events: [{ kind: 'flow', key: 'k', data: { uid: 'u' } }] });
    expect(r.status).toBe(400);
    const body = await r.json();
    expect(body.message).toMatch(/events/);
    const notJson = await api(c.url, '/api/v1/events', { method: 'POST', body: '{"batch_id": ', token: SENSOR_TOKEN });
    expect(notJson.status).toBe(400);
  });

  it('stores a real batch once: a replay is all duplicates', async () => {
    const all = eventsOf(events);
    const first = await ingest(batch(all, 'b1'));
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ accepted: all.length, duplicates: 0 });
    const again = await ingest(batch(all, 'b1-replay'));
    expect(await again.json()).toEqual({ accepted: 0, duplicates: all.length });
  });

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

  it('serves devices, sensors, health, OpenAPI docs and metrics', async () => {
    const devices = (await (await api(c.url, '/api/v1/devices')).json()).items;
    expect(devices.map((d: { mac: string }) => d.mac).sort()).toEqual(events.devices.map((d) => d.mac).sort());
    const plug = await (await api(c.url, '/api/v1/devices/50:C7:BF:00:C7:03')).json();
    expect(plug.vendor_country).toBe('CN');
    expect(plug.countries.length).toBeGreaterThan(0);
    const sensors = (await (await api(c.url, '/api/v1/sensors')).json()).items;
    expect(sensors).toMatchObject([{ name: 'lab', version: 'test', lag_s: 0.5 }]);
    expect((await fetch(`${c.url}/readyz`)).status).toBe(200);
    const docs = await (await fetch(`${c.url}/docs/json`)).json();
    expect(Object.keys(docs.paths)).toEqual(expect.arrayContaining(['/api/v1/events', '/api/v1/alerts', '/api/v1/alerts/{id}', '/api/v1/alerts/{id}/pcap', '/api/v1/devices', '/api/v1/sensors']));
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    for (const m of ['phonehome_alerts_total', 'phonehome_alerts_open', 'phonehome_device_bytes_out_total', 'phonehome_device_flows_total', 'phonehome_device_destinations', 'phonehome_devices', 'phonehome_sensor_last_seen_timestamp_seconds', 'phonehome_ingest_events_total', 'phonehome_ingest_rejected_total', 'process_cpu_seconds_total']) {
      expect(metrics, m).toContain(`# TYPE ${m} `);
    }
    expect(metrics).toMatch(/phonehome_ingest_rejected_total\{reason="unauthorized"\} [1-9]/);
    expect(metrics).toMatch(/phonehome_device_flows_total\{device="50:c7:bf:00:c7:03",country="[A-Z]{2}"\} [1-9]/);
  });

  it('refuses a body over the limit with 413, and too many requests with 429', async () => {
    const big = batch([{ kind: 'evidence', key: 'big', data: { alert_id: 'x', pcap_base64: 'A'.repeat(3_000_000) } }]);
    expect((await ingest(big)).status).toBe(413);
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push((await ingest(batch([], `rl-${i}`))).status);
    expect(statuses).toContain(429);
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    expect(metrics).toMatch(/phonehome_ingest_rejected_total\{reason="too_large"\} [1-9]/);
    expect(metrics).toMatch(/phonehome_ingest_rejected_total\{reason="rate_limited"\} [1-9]/);
  });
});

function writeConfig(): string {
  const f = join(tmp, `collector-${Math.random()}.yaml`);
  writeFileSync(f, 'body_limit_bytes: 2097152\nrate_limit_per_minute: 30\n');
  return f;
}

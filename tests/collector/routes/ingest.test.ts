// POST /api/v1/events against the collector as a real process, on SQLite and
// on a real PostgreSQL server: authentication, validation, limits and
// idempotent ingest; and hostile bodies that must never crash it or corrupt
// what it stores.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredAlert } from '../../../contract/types.js';
import { api, SENSOR_TOKEN, startCollector, type RunningCollector } from '../../helpers/collector.js';
import { fixture } from '../../helpers/corpus.js';
import { batch, eventsOf, realEvents, type RealEvents } from '../../helpers/events.js';
import { backends, events, useBackends, writeConfig } from './backends.js';

useBackends();

describe.each(backends)('ingest on %s', (_name, dbUrl) => {
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

describe('ingest under hostile input', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'phonehome-fuzz-ingest-'));
  let c: RunningCollector;
  let events: RealEvents;

  beforeAll(async () => {
    events = await realEvents([fixture('TP-LinkPlugHS110')], { watchCountries: ['US', 'IE'] });
    c = await startCollector(`sqlite:${join(tmp, 'c.db')}`);
  }, 60_000);
  afterAll(async () => {
    expect(await c.stop()).toBe(0);
  });

  const post = (body: string) => api(c.url, '/api/v1/events', { method: 'POST', token: SENSOR_TOKEN, body });

  /** JSON nested n levels deep, written out directly (JSON.stringify itself would overflow the stack). */
  function deep(n: number): string {
    return `${'{"a":['.repeat(n)}1${']}'.repeat(n)}`;
  }

  it('random JSON and mutated real batches get 2xx or 4xx, never a 5xx', async () => {
    const real = eventsOf(events);
    const mutated = fc.tuple(fc.nat({ max: real.length - 1 }), fc.constantFrom('kind', 'key', 'data'), fc.jsonValue()).map(([i, field, value]) => {
      const ev = structuredClone(real.slice(0, 5));
      (ev[i % ev.length] as Record<string, unknown>)[field] = value;
      return JSON.stringify(batch(ev, 'mut'));
    });
    const wrongTypes = fc.record({ batch_id: fc.jsonValue(), sensor: fc.jsonValue(), events: fc.jsonValue() }).map((x) => JSON.stringify(x));
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.jsonValue().map((v) => JSON.stringify(v)), fc.string(), mutated, wrongTypes), async (body) => {
        const r = await post(body);
        expect(r.status, body.slice(0, 200)).toBeLessThan(500);
        await r.arrayBuffer();
      }),
      { numRuns: 300 },
    );
    for (const body of [deep(100_000), JSON.stringify(batch([{ kind: 'flow', key: 'k', data: JSON.parse(deep(2000)) }])), JSON.stringify(batch([{ kind: 'flow', key: 'x'.repeat(10_000), data: events.flows[0] }])), '[]', 'null', '"x"']) {
      const r = await post(body);
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
    }
  }, 120_000);

  it('afterwards the real batch stores and reads back exactly, and a replay changes nothing', async () => {
    const all = eventsOf(events);
    const before = (await (await post(JSON.stringify(batch(all, 'real')))).json()) as { accepted: number; duplicates: number };
    expect(before.accepted + before.duplicates).toBe(all.length);
    expect(await (await post(JSON.stringify(batch(all, 'again')))).json()).toEqual({ accepted: 0, duplicates: all.length });
    const stored = (await (await api(c.url, '/api/v1/alerts?limit=1000')).json()).items as StoredAlert[];
    expect(stored.map((a) => a.id).sort()).toEqual(events.alerts.map((a) => a.id).sort());
    for (const a of events.alerts) {
      const s = stored.find((x) => x.id === a.id)!;
      expect({ ...s, sensor: undefined, state: undefined, received_at: undefined, has_pcap: undefined }).toEqual({ ...a, sensor: undefined, state: undefined, received_at: undefined, has_pcap: undefined });
    }
  });
});

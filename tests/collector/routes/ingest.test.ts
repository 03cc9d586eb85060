// POST /api/v1/events against the collector as a real process, on SQLite and
// on a real PostgreSQL server: authentication, the envelope and each event
// checked on their own, limits (a 413 that reaches the client) and idempotent
// ingest; and hostile bodies that must never crash it or corrupt what it
// stores.
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

  it('refuses a batch whose envelope is unusable with 400 and the reason', async () => {
    const ev = eventsOf(events).slice(0, 1);
    const cases: [unknown, string][] = [
      [{ batch_id: 'x', sensor: { name: 'lab', version: '1' } }, "body must have required property 'events'"],
      [{ batch_id: 'x', sensor: { name: 'lab', version: '1' }, events: {} }, 'body/events must be array'],
      [{ sensor: { name: 'lab', version: '1' }, events: ev }, "body must have required property 'batch_id'"],
      [{ batch_id: 'x', events: ev }, "body must have required property 'sensor'"],
      // The envelope is checked as sent, too: a number is not a version.
      [{ batch_id: 'x', sensor: { name: 'lab', version: 1 }, events: ev }, 'body/sensor/version must be string'],
      [[], 'body must be object'],
    ];
    for (const [body, message] of cases) {
      const r = await ingest(body);
      expect(r.status, JSON.stringify(body).slice(0, 100)).toBe(400);
      expect((await r.json()).message).toBe(message);
    }
    const notJson = await api(c.url, '/api/v1/events', { method: 'POST', body: '{"batch_id": ', token: SENSOR_TOKEN });
    expect(notJson.status).toBe(400);
  });

  it('stores the good events of a batch and lists each refused one, checked as sent (true is not 1), counted in /metrics', async () => {
    const [flow, other] = events.flows;
    const body = batch([
      { kind: 'flow', key: 'strict-1', data: { ...flow, uid: 'Cstrict1', ts: true } },
      { kind: 'flow', key: 'strict-2', data: { ...other, uid: 'Cstrict2' } },
      { kind: 'flow', key: 'strict-3', data: { uid: 'u' } },
    ] as never);
    const r = await ingest(body);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({
      accepted: 1,
      duplicates: 0,
      refused: [
        { index: 0, key: 'strict-1', code: 'invalid_event', reason: 'data.ts must be number, got boolean' },
        { index: 2, key: 'strict-3', code: 'invalid_event', reason: 'data.ts is required' },
      ],
    });
    const dead = (await (await api(c.url, '/api/v1/dead-letters?sensor=lab&code=invalid_event')).json()).items;
    expect(dead.map((d: { key: string }) => d.key)).toEqual(expect.arrayContaining(['strict-1', 'strict-3']));
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    expect(metrics).toMatch(/phonehome_collector_events_refused_total\{reason="invalid_event"\} [2-9]/);
    expect(metrics).toMatch(/phonehome_collector_events_refused_total\{reason="too_deep"\} 0/);
    // Corrected, the refused event is stored under its key.
    expect(await (await ingest(batch([{ kind: 'flow', key: 'strict-1', data: { ...flow, uid: 'Cstrict1' } }]))).json()).toEqual({ accepted: 1, duplicates: 0, refused: [] });
  });

  it('stores a real batch once: a replay is all duplicates', async () => {
    const all = eventsOf(events);
    const first = await ingest(batch(all, 'b1'));
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ accepted: all.length, duplicates: 0, refused: [] });
    const again = await ingest(batch(all, 'b1-replay'));
    expect(await again.json()).toEqual({ accepted: 0, duplicates: all.length, refused: [] });
  });

  it('refuses a body over the limit with a 413 the client receives, sent or streamed, and too many requests with 429', async () => {
    const big = batch([{ kind: 'evidence', key: 'big', data: { alert_id: 'x', pcap_base64: 'A'.repeat(3_000_000) } }]);
    expect((await ingest(big)).status).toBe(413);
    // 64 MiB against a 2 MiB limit: the client is still writing when the answer comes.
    const huge = Buffer.alloc(64 * 1024 * 1024, 0x41);
    const headers = { authorization: `Bearer ${SENSOR_TOKEN}`, 'content-type': 'application/json' };
    const chunk = new Uint8Array(1024 * 1024).fill(0x41);
    const stream = (): ReadableStream<Uint8Array> => {
      let n = 0;
      return new ReadableStream<Uint8Array>({
        pull(ctl) {
          if (n++ < 64) ctl.enqueue(chunk);
          else ctl.close();
        },
      });
    };
    // Several times each: a reset under a writing client is a race it does not always lose.
    for (let i = 0; i < 3; i++) {
      const sent = await fetch(`${c.url}/api/v1/events`, { method: 'POST', headers, body: huge });
      expect(sent.status).toBe(413);
      expect((await sent.json()).message).toBe('Request body is too large');
      const streamed = await fetch(`${c.url}/api/v1/events`, { method: 'POST', headers, body: stream(), duplex: 'half' } as RequestInit);
      expect(streamed.status).toBe(413);
      await streamed.arrayBuffer();
    }
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
    for (const body of ['[]', 'null', '"x"']) expect((await post(body)).status).toBe(400);
    // An event the envelope carries is refused on its own, with the reason.
    const inside = [
      JSON.stringify(batch([{ kind: 'flow', key: 'k', data: JSON.parse(deep(2000)) }])),
      JSON.stringify(batch([{ kind: 'flow', key: 'x'.repeat(10_000), data: events.flows[0] }])),
    ];
    for (const body of inside) {
      const r = await post(body);
      expect(r.status).toBe(200);
      expect((await r.json()).refused).toHaveLength(1);
    }
  }, 120_000);

  it('a device record nested 4,108 levels deep is refused on its own and the inventory keeps answering', async () => {
    const device = JSON.stringify({ ...events.devices[0], destinations: [] }).replace('"destinations":[]', `"destinations":[${deep(4108)}]`);
    const body = `{"batch_id":"deep","sensor":{"name":"lab","version":"1"},"events":[{"kind":"device","key":"deep-device","data":${device}},${JSON.stringify(eventsOf(events)[0])}]}`;
    const r = await post(body);
    expect(r.status).toBe(200);
    const result = await r.json();
    expect(result.refused).toEqual([{ index: 0, key: 'deep-device', code: 'too_deep', reason: `data.destinations[0]${'.a[0]'.repeat(14)}.a nests deeper than 32 levels` }]);
    expect(result.accepted + result.duplicates).toBe(1);
    expect((await api(c.url, '/api/v1/devices')).status).toBe(200);
    const [dead] = (await (await api(c.url, '/api/v1/dead-letters?code=too_deep')).json()).items;
    expect(dead).toMatchObject({ key: 'deep-device', kind: 'device', truncated: true });
  });

  it('a body nested 100,000 levels deep is a 400 naming what the batch lacks, not a 500', async () => {
    for (const body of [deep(100_000), `${'['.repeat(100_000)}${']'.repeat(100_000)}`]) {
      const r = await post(body);
      expect(r.status).toBe(400);
      expect((await r.json()).message).toMatch(/^body must (have required property 'batch_id'|be object)$/);
    }
    // Inside an event it is that event that is refused.
    const r = await post(`{"batch_id":"d","sensor":{"name":"lab","version":"1"},"events":[{"kind":"flow","key":"kd","data":${deep(100_000)}}]}`);
    expect(r.status).toBe(200);
    expect((await r.json()).refused.map((x: { code: string }) => x.code)).toEqual(['too_deep']);
    expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
  });

  it('afterwards the real batch stores and reads back exactly, and a replay changes nothing', async () => {
    const all = eventsOf(events);
    const before = (await (await post(JSON.stringify(batch(all, 'real')))).json()) as { accepted: number; duplicates: number; refused: unknown[] };
    expect(before.refused).toEqual([]);
    expect(before.accepted + before.duplicates).toBe(all.length);
    expect(await (await post(JSON.stringify(batch(all, 'again')))).json()).toEqual({ accepted: 0, duplicates: all.length, refused: [] });
    const stored = (await (await api(c.url, '/api/v1/alerts?limit=1000')).json()).items as StoredAlert[];
    expect(stored.map((a) => a.id).sort()).toEqual(events.alerts.map((a) => a.id).sort());
    for (const a of events.alerts) {
      const s = stored.find((x) => x.id === a.id)!;
      expect({ ...s, sensor: undefined, state: undefined, received_at: undefined, has_pcap: undefined }).toEqual({ ...a, sensor: undefined, state: undefined, received_at: undefined, has_pcap: undefined });
    }
  });
});

// Hostile ingest bodies (random JSON, wrong types, deep nesting, huge strings,
// mutated real batches, replays) never crash the collector or corrupt what it
// stores: every answer is a 2xx or a 4xx, and afterwards the real data reads
// back exactly.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredAlert } from '../../contract/types.js';
import { api, SENSOR_TOKEN, startCollector, type RunningCollector } from '../helpers/collector.js';
import { fixture } from '../helpers/corpus.js';
import { batch, eventsOf, realEvents, type RealEvents } from '../helpers/events.js';

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

describe('ingest under hostile input', () => {
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

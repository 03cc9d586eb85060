// The retention job in a real collector process: it runs as soon as the
// collector listens, counts what it removed in /metrics and writes it to the
// audit log; --retention sets the periods, 0 keeps a kind forever.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cutoffsAt } from '../../collector/retention.js';
import { openStore } from '../../collector/store/open.js';
import type { IngestEvent } from '../../contract/types.js';
import { fixture } from '../helpers/corpus.js';
import { eventsOf, realEvents, type RealEvents } from '../helpers/events.js';
import { launch } from './launch.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-retention-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const API = 'analyst-secret-0123456789';
const DAY = 86_400;
let events: RealEvents;
beforeAll(async () => {
  events = await realEvents([fixture('TP-LinkPlugHS110')], { watchCountries: ['US'] });
}, 60_000);

/** A database holding the capture's events as if received `ageDays` ago, with times that old. */
async function databaseAged(ageDays: number): Promise<string> {
  const url = `sqlite:${join(tmp, `r-${Math.random()}.db`)}`;
  const store = await openStore(url);
  const shift = Date.now() / 1000 - ageDays * DAY - Math.max(...events.flows.map((f) => f.ts));
  const moved = eventsOf(events).map((e) => (e.kind === 'flow' || e.kind === 'alert' ? { ...e, data: { ...e.data, ts: e.data.ts + shift } } : e)) as IngestEvent[];
  await store.ingest({ name: 'lab', version: 't', lag_s: null }, moved, Date.now() / 1000 - ageDays * DAY);
  await store.close();
  return url;
}

async function removedMetric(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Object.fromEntries([...text.matchAll(/^phonehome_collector_retention_removed_total\{kind="(\w+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
}

describe('the retention job', () => {
  it('the period of each kind is counted back from now; 0 keeps it', () => {
    expect(cutoffsAt({ flows: 30, alerts: 365, evidence: 0, dead_letters: 0.5 }, 1_000 * DAY)).toEqual({ flows: 970 * DAY, alerts: 635 * DAY, dead_letters: 999.5 * DAY });
  });

  it('runs at start: flows older than 30 days go, alerts of 40 days stay; counted in /metrics and in the audit log', async () => {
    const c = await launch(['--listen', '127.0.0.1:0', '--db', await databaseAged(40), '--sensor-token', 'lab:lab-sensor-secret-0123456789', '--api-token', API], {});
    try {
      const want = { flows: events.flows.length, alerts: 0, evidence: 0, dead_letters: 0 };
      for (let i = 0; JSON.stringify(await removedMetric(c.url())) !== JSON.stringify(want); i++) {
        if (i > 100) expect(await removedMetric(c.url()), c.out()).toEqual(want);
        await new Promise((r) => setTimeout(r, 50));
      }
      const get = async (path: string) => (await fetch(`${c.url()}${path}`, { headers: { authorization: `Bearer ${API}` } })).json();
      expect((await get('/api/v1/alerts?limit=1000')).items).toHaveLength(events.alerts.length);
      const audit = (await get('/api/v1/audit')).items;
      expect(audit).toMatchObject([{ actor: 'retention', role: 'system', action: 'retention', detail: { removed: { flows: events.flows.length } } }]);
    } finally {
      expect(await c.stop()).toBe(0);
    }
    expect(c.out()).toContain('"msg":"retention removed old rows"');
  }, 60_000);

  it('--retention alerts=10,flows=0: alerts and evidence go, flows stay', async () => {
    const c = await launch(['--listen', '127.0.0.1:0', '--db', await databaseAged(40), '--sensor-token', 'lab:lab-sensor-secret-0123456789', '--api-token', API, '--retention', 'alerts=10,evidence=10,flows=0'], {});
    try {
      const want = { flows: 0, alerts: events.alerts.length, evidence: events.evidence.size, dead_letters: 0 };
      for (let i = 0; JSON.stringify(await removedMetric(c.url())) !== JSON.stringify(want); i++) {
        if (i > 100) expect(await removedMetric(c.url()), c.out()).toEqual(want);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      expect(await c.stop()).toBe(0);
    }
  }, 60_000);
});

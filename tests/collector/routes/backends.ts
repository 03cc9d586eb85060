// What the route tests share: real events from three device captures, and
// the collector as a real process on a loopback port, on SQLite and on a
// real PostgreSQL server.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { api, SENSOR_TOKEN, startCollector, type RunningCollector } from '../../helpers/collector.js';
import { fixture } from '../../helpers/corpus.js';
import { batch, eventsOf, realEvents, type RealEvents } from '../../helpers/events.js';
import { startPostgres } from '../../helpers/postgres.js';

export const tmp = mkdtempSync(join(tmpdir(), 'phonehome-collector-'));
let pg: { url: string; stop(): Promise<void> } | null = null;

/** Filled by useBackends's beforeAll. */
export const events = {} as RealEvents;

/** Starts PostgreSQL (and analyzes the captures into `events`) before the file's tests; stops it after them. */
export function useBackends(opts: { events: boolean } = { events: true }): void {
  beforeAll(async () => {
    if (opts.events) Object.assign(events, await realEvents([fixture('TP-LinkPlugHS110'), fixture('HueBridge'), fixture('WeMoSwitch')], { watchCountries: ['US', 'IE', 'CN'] }));
    pg = await startPostgres();
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
  });
}

export const backends: [string, () => string][] = [
  ['sqlite', () => `sqlite:${join(tmp, `c-${Date.now()}-${Math.random()}.db`)}`],
  ['postgres', () => pg!.url],
];

/** A config file with a 2 MiB body limit and 30 batches a minute, so 413 and 429 are cheap to provoke. */
export function writeConfig(): string {
  const f = join(tmp, `collector-${Math.random()}.yaml`);
  writeFileSync(f, 'body_limit_bytes: 2097152\nrate_limit_per_minute: 30\n');
  return f;
}

/**
 * For one describe block: a collector process on the backend with the
 * fixture's events delivered, stopped after the block (and checked to exit 0).
 */
export function useLoadedCollector(dbUrl: () => string): { readonly url: string } {
  let c: RunningCollector;
  beforeAll(async () => {
    c = await startCollector(dbUrl(), ['--config', writeConfig()]);
    const stored = await api(c.url, '/api/v1/events', { method: 'POST', body: JSON.stringify(batch(eventsOf(events), 'b1')), token: SENSOR_TOKEN });
    expect(stored.status).toBe(200);
  }, 60_000);
  afterAll(async () => {
    expect(await c.stop()).toBe(0);
  });
  return {
    get url() {
      return c.url;
    },
  };
}

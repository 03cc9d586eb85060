// The assembled server as a real process, on SQLite and on a real PostgreSQL
// server: every API route is documented in its OpenAPI description.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type RunningCollector } from '../helpers/collector.js';
import { backends, useBackends, writeConfig } from './routes/backends.js';

useBackends({ events: false });

describe.each(backends)('collector server on %s', (_name, dbUrl) => {
  let c: RunningCollector;
  beforeAll(async () => {
    c = await startCollector(dbUrl(), ['--config', writeConfig()]);
  }, 60_000);
  afterAll(async () => {
    expect(await c.stop()).toBe(0);
  });

  it('serves OpenAPI docs listing every API route, with bearer authentication', async () => {
    const docs = await (await fetch(`${c.url}/docs/json`)).json();
    expect(Object.keys(docs.paths)).toEqual(expect.arrayContaining(['/api/v1/events', '/api/v1/alerts', '/api/v1/alerts/{id}', '/api/v1/alerts/{id}/pcap', '/api/v1/devices', '/api/v1/sensors']));
    expect(docs.components.securitySchemes).toEqual({ bearer: { type: 'http', scheme: 'bearer' } });
    expect(Object.keys(docs.paths)).not.toContain('/metrics');
  });
});

// Health, readiness and Prometheus metrics against the collector as a real
// process, on SQLite and on a real PostgreSQL server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, SENSOR_TOKEN, startCollector, type RunningCollector } from '../../helpers/collector.js';
import { batch, eventsOf } from '../../helpers/events.js';
import { backends, events, useBackends, writeConfig } from './backends.js';

useBackends();

describe.each(backends)('health and metrics on %s', (name, dbUrl) => {
  let c: RunningCollector;
  beforeAll(async () => {
    c = await startCollector(dbUrl(), ['--config', writeConfig()]);
    const stored = await api(c.url, '/api/v1/events', { method: 'POST', body: JSON.stringify(batch(eventsOf(events), 'b1')), token: SENSOR_TOKEN });
    expect(stored.status).toBe(200);
    // A refused delivery, for the rejection counter.
    expect((await api(c.url, '/api/v1/events', { method: 'POST', body: JSON.stringify(batch([])), token: 'wrong-token-000000000000' })).status).toBe(401);
  }, 60_000);
  afterAll(async () => {
    expect(await c.stop()).toBe(0);
  });

  it('serves health, readiness and metrics', async () => {
    expect(await (await fetch(`${c.url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect((await fetch(`${c.url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    for (const m of ['phonehome_alerts_total', 'phonehome_alerts_open', 'phonehome_device_bytes_out_total', 'phonehome_device_flows_total', 'phonehome_device_destinations', 'phonehome_devices', 'phonehome_sensor_last_seen_timestamp_seconds', 'phonehome_ingest_events_total', 'phonehome_ingest_rejected_total', 'process_cpu_seconds_total']) {
      expect(metrics, m).toContain(`# TYPE ${m} `);
    }
    expect(metrics).toMatch(/phonehome_ingest_rejected_total\{reason="unauthorized"\} [1-9]/);
    expect(metrics).toMatch(/phonehome_device_flows_total\{device="50:c7:bf:00:c7:03",country="[A-Z]{2}"\} [1-9]/);
  });

  it('readiness names the database', async () => {
    expect(await (await fetch(`${c.url}/readyz`)).json()).toEqual({ status: 'ready', db: name });
  });
});

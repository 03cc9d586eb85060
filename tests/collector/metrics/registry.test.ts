// The collector's Prometheus registry over a real SQLite store: figures read
// from the database at scrape time, one read per scrape.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CollectorMetrics } from '../../../collector/metrics/registry.js';
import { openStore } from '../../../collector/store/open.js';
import type { Store } from '../../../collector/store/store.js';
import { fixture } from '../../helpers/corpus.js';
import { eventsOf, realEvents, type RealEvents } from '../../helpers/events.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-registry-'));
let store: Store;
let events: RealEvents;

beforeAll(async () => {
  events = await realEvents([fixture('TP-LinkPlugHS110')], { watchCountries: ['US', 'IE'] });
  store = await openStore(`sqlite:${join(tmp, 'm.db')}`);
}, 60_000);
afterAll(async () => {
  await store?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** The samples of one metric family in the exposition text: labels as written, and value. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'gm'))) out.set(m[1] ?? '', Number(m[2]));
  return out;
}

describe('CollectorMetrics', () => {
  it('before anything arrives: every rejection reason and refusal code at 0, no device or alert series', async () => {
    const m = new CollectorMetrics(store);
    const text = await m.registry.metrics();
    expect(samples(text, 'phonehome_ingest_rejected_total')).toEqual(
      new Map([['{reason="unauthorized"}', 0], ['{reason="invalid"}', 0], ['{reason="too_large"}', 0], ['{reason="rate_limited"}', 0]]),
    );
    expect(samples(text, 'phonehome_collector_events_refused_total')).toEqual(
      new Map(['invalid_event', 'unknown_kind', 'too_deep', 'too_large', 'not_owner'].map((r) => [`{reason="${r}"}`, 0])),
    );
    expect(samples(text, 'phonehome_alerts_total').size).toBe(0);
    expect(text).toContain('# TYPE process_cpu_seconds_total counter');
  });

  it("reports the store's figures, and reads them once per scrape (not again within a second)", async () => {
    const m = new CollectorMetrics(store);
    await m.registry.metrics();
    await store.ingest({ name: 'lab', version: 't', lag_s: null }, eventsOf(events), 1_700_000_000);
    const cached = await m.registry.metrics();
    expect(samples(cached, 'phonehome_alerts_total').size, 'the scrape a moment ago is reused').toBe(0);
    await new Promise((r) => setTimeout(r, 1100));
    const text = await m.registry.metrics();
    const snap = await store.metrics();
    const alerts = samples(text, 'phonehome_alerts_total');
    expect([...alerts.values()].reduce((a, b) => a + b, 0)).toBe(events.alerts.length);
    for (const a of snap.alerts) expect(alerts.get(`{rule="${a.rule}",severity="${a.severity}",country="${a.country}"}`)).toBe(a.count);
    const bytes = samples(text, 'phonehome_device_bytes_out_total');
    for (const t of snap.deviceTraffic) {
      expect(bytes.get(`{device="${t.device}",country="${t.country}"}`)).toBe(t.bytes_out);
      expect(samples(text, 'phonehome_device_flows_total').get(`{device="${t.device}",country="${t.country}"}`)).toBe(t.flows);
    }
    expect(samples(text, 'phonehome_sensor_last_seen_timestamp_seconds')).toEqual(new Map([['{sensor="lab"}', 1_700_000_000]]));
    expect([...samples(text, 'phonehome_ingest_events_total').values()].reduce((a, b) => a + b, 0)).toBe(eventsOf(events).length);
    expect([...samples(text, 'phonehome_devices').values()].reduce((a, b) => a + b, 0)).toBe(events.devices.length);
  });
});

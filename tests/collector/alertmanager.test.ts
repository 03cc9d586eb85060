// New alerts reach a real Alertmanager (Debian's prometheus-alertmanager) with
// their labels and annotations: a link to the alert's page in the web UI, a
// device label naming who made the device and its MAC, and a stable mac label.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertmanagerClient } from '../../collector/alertmanager.js';
import type { StoredAlert } from '../../contract/types.js';
import { api, freePort, SENSOR_TOKEN, startCollector, type RunningCollector } from '../helpers/collector.js';
import { fixture } from '../helpers/corpus.js';
import { batch, eventsOf, realEvents, type RealEvents } from '../helpers/events.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-am-'));
let am: ChildProcess;
let amUrl = '';
let c: RunningCollector;
let events: RealEvents;

beforeAll(async () => {
  events = await realEvents([fixture('TP-LinkPlugHS110')], { watchCountries: ['US', 'IE'] });
  const port = await freePort();
  writeFileSync(join(tmp, 'am.yml'), 'route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n');
  am = spawn('prometheus-alertmanager', [`--config.file=${join(tmp, 'am.yml')}`, `--storage.path=${join(tmp, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='], { stdio: 'ignore' });
  amUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${amUrl}/-/ready`)).ok) break;
    } catch {
      // starting
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  c = await startCollector(`sqlite:${join(tmp, 'c.db')}`, ['--alertmanager', amUrl, '--public-url', 'https://phonehome.example.org']);
}, 60_000);

afterAll(async () => {
  await c?.stop();
  am?.kill('SIGTERM');
});

type AmAlert = { labels: Record<string, string>; annotations: Record<string, string>; generatorURL?: string };

/** What Alertmanager holds once `n` alerts have arrived (or after about 10 s). */
async function amAlerts(n: number, pred: (a: AmAlert) => boolean = () => true): Promise<AmAlert[]> {
  let got: AmAlert[] = [];
  for (let i = 0; i < 100; i++) {
    got = ((await (await fetch(`${amUrl}/api/v2/alerts`)).json()) as AmAlert[]).filter(pred);
    if (got.length >= n) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  return got;
}

describe('Alertmanager push', () => {
  it('new alerts appear in Alertmanager with rule, severity, device, mac, country and a link to their page', async () => {
    const r = await api(c.url, '/api/v1/events', { method: 'POST', token: SENSOR_TOKEN, body: JSON.stringify(batch(eventsOf(events))) });
    expect(r.status).toBe(200);
    const got = await amAlerts(events.alerts.length);
    expect(got.map((a) => a.labels.phonehome_id).sort()).toEqual(events.alerts.map((a) => a.id).sort());
    for (const a of events.alerts) {
      const m = got.find((x) => x.labels.phonehome_id === a.id)!;
      expect(m.labels).toMatchObject({ alertname: a.rule, rule: a.rule, severity: a.severity, mac: '50:c7:bf:00:c7:03', sensor: 'lab' });
      // the device by the brand and model the sensor found (its device record came in the same batch), not the alert's OUI vendor, and MAC
      expect(a.device.vendor).toBe('TP-LINK TECHNOLOGIES CO.,LTD.');
      expect(m.labels.device).toBe(`TP-Link HS110(EU) 50:c7:bf:00:c7:03`);
      // Alertmanager drops empty labels: alerts without a destination country have none.
      expect(m.labels.country).toBe(a.destination?.country ?? undefined);
      expect(m.annotations.summary).toBe(a.message);
      expect(m.annotations.link).toBe(`https://phonehome.example.org/ui/alerts/${a.id}`);
      expect(m.generatorURL).toBe(`https://phonehome.example.org/ui/alerts/${a.id}`);
    }
  });

  it("with the collector's device records, the device label names the brand and model the sensor found", async () => {
    // the collector's own record of the device, read over its API
    const devices = {
      getDevice: async (mac: string) => {
        const res = await api(c.url, `/api/v1/devices/${encodeURIComponent(mac)}`);
        return res.ok ? ((await res.json()) as { brand: string | null; model: string | null }) : null;
      },
    };
    const record = await devices.getDevice('50:c7:bf:00:c7:03');
    expect(record?.brand).toBe('TP-Link');
    const stored = (await (await api(c.url, '/api/v1/alerts?limit=1')).json()).items as StoredAlert[];
    // pushed again as a new alert (another id), through a client that asks the collector
    const again = { ...stored[0], id: 'A-brand-label-check' };
    await new AlertmanagerClient(amUrl, 'https://phonehome.example.org/', pino({ level: 'silent' }), devices).push([again]);
    const [m] = await amAlerts(1, (x) => x.labels.phonehome_id === again.id);
    expect(m.labels.device).toBe(['TP-Link', record!.model, '50:c7:bf:00:c7:03'].filter(Boolean).join(' '));
    expect(m.labels.mac).toBe('50:c7:bf:00:c7:03');
    expect(m.annotations.link).toBe('https://phonehome.example.org/ui/alerts/A-brand-label-check');
  });
});

// New alerts reach a real Alertmanager (Debian's prometheus-alertmanager) with
// their labels and annotations.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

describe('Alertmanager push', () => {
  it('new alerts appear in Alertmanager with rule, severity, device, country and a link', async () => {
    const r = await api(c.url, '/api/v1/events', { method: 'POST', token: SENSOR_TOKEN, body: JSON.stringify(batch(eventsOf(events))) });
    expect(r.status).toBe(200);
    let got: { labels: Record<string, string>; annotations: Record<string, string> }[] = [];
    for (let i = 0; i < 100 && got.length < events.alerts.length; i++) {
      got = await (await fetch(`${amUrl}/api/v2/alerts`)).json();
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(got.map((a) => a.labels.phonehome_id).sort()).toEqual(events.alerts.map((a) => a.id).sort());
    for (const a of events.alerts) {
      const m = got.find((x) => x.labels.phonehome_id === a.id)!;
      expect(m.labels).toMatchObject({ alertname: a.rule, rule: a.rule, severity: a.severity, device: a.device.mac!, sensor: 'lab' });
      // Alertmanager drops empty labels: alerts without a destination country have none.
      expect(m.labels.country).toBe(a.destination?.country ?? undefined);
      expect(m.annotations.summary).toBe(a.message);
      expect(m.annotations.link).toBe(`https://phonehome.example.org/api/v1/alerts/${a.id}`);
    }
  });
});

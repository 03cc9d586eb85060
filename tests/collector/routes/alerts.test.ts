// The alerts API against the collector as a real process, on SQLite and on a
// real PostgreSQL server: listing, filters, pagination, acknowledging and
// evidence downloads; alerts of the anomaly rules keep their own evidence.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertRecord, IngestEvent, StoredAlert } from '../../../contract/types.js';
import { analyze } from '../../../sensor/run/analyze.js';
import { api, SENSOR_TOKEN, startCollector, type RunningCollector } from '../../helpers/collector.js';
import { batch } from '../../helpers/events.js';
import { ROUTER, Scenario } from '../../helpers/scenarios.js';
import { backends, events, tmp, useBackends, useLoadedCollector, writeConfig } from './backends.js';

useBackends();

describe.each(backends)('alerts API on %s', (_name, dbUrl) => {
  const c = useLoadedCollector(dbUrl);

  it('serves alerts newest first, filtered and paginated', async () => {
    const all: StoredAlert[] = [];
    let cursor: string | null = null;
    do {
      const r = await api(c.url, `/api/v1/alerts?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(r.status).toBe(200);
      const page = (await r.json()) as { items: StoredAlert[]; next_cursor: string | null };
      all.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    expect(all.map((a) => a.id).sort()).toEqual(events.alerts.map((a) => a.id).sort());
    for (let i = 1; i < all.length; i++) expect(all[i - 1].ts).toBeGreaterThanOrEqual(all[i].ts);
    const geo = (await (await api(c.url, '/api/v1/alerts?rule=geo-callback&country=us')).json()).items as StoredAlert[];
    expect(geo.length).toBe(events.alerts.filter((a) => a.rule === 'geo-callback' && a.destination?.country === 'US').length);
    const mac = events.alerts[0].device.mac!;
    const byDevice = (await (await api(c.url, `/api/v1/alerts?device=${mac}`)).json()).items as StoredAlert[];
    expect(byDevice.length).toBe(events.alerts.filter((a) => a.device.mac === mac).length);
    expect((await api(c.url, '/api/v1/alerts?severity=urgent')).status).toBe(400);
    expect((await api(c.url, '/api/v1/alerts?from=yesterday')).status).toBe(400);
    // Only epoch seconds and ISO 8601: a lenient date parser reads these as the year 2001.
    for (const bad of ['-1', "' OR '1'='1", '1 2', '2024-13']) {
      const r = await api(c.url, `/api/v1/alerts?from=${encodeURIComponent(bad)}`);
      expect(r.status, bad).toBe(400);
      expect((await r.json()).message, bad).toContain('must be epoch seconds or an ISO 8601 time');
    }
    for (const good of ['0', '1700000000.5', '2016-04-21', '2016-04-21T13:00:00Z', '2016-04-21T13:00:00.123+02:00']) {
      expect((await api(c.url, `/api/v1/alerts?from=${encodeURIComponent(good)}`)).status, good).toBe(200);
    }
  });

  it('an analyst acknowledges an alert with a note; the evidence pcap downloads', async () => {
    const a = events.alerts.find((x) => events.evidence.has(x.id))!;
    const r = await api(c.url, `/api/v1/alerts/${a.id}`, { method: 'PATCH', body: JSON.stringify({ status: 'acknowledged', note: 'vendor confirms NTP', who: 'soc-1' }) });
    expect(r.status).toBe(200);
    expect((await r.json()).state).toMatchObject({ status: 'acknowledged', note: 'vendor confirms NTP', updated_by: 'soc-1' });
    const open = (await (await api(c.url, '/api/v1/alerts?status=acknowledged')).json()).items as StoredAlert[];
    expect(open.map((x) => x.id)).toEqual([a.id]);
    const pcap = await api(c.url, `/api/v1/alerts/${a.id}/pcap`);
    expect(pcap.status).toBe(200);
    expect(pcap.headers.get('content-type')).toBe('application/vnd.tcpdump.pcap');
    expect(Buffer.from(await pcap.arrayBuffer())).toEqual(events.evidence.get(a.id));
    expect((await api(c.url, '/api/v1/alerts/nope')).status).toBe(404);
    expect((await api(c.url, `/api/v1/alerts/${a.id}`, { method: 'PATCH', body: JSON.stringify({ status: 'gone', who: 'x' }) })).status).toBe(400);
  });

  it('an alert without evidence has no pcap; an unknown alert cannot be acknowledged', async () => {
    const a = events.alerts.find((x) => !events.evidence.has(x.id));
    if (a) expect((await api(c.url, `/api/v1/alerts/${a.id}/pcap`)).status).toBe(404);
    expect((await api(c.url, '/api/v1/alerts/nope/pcap')).status).toBe(404);
    expect((await api(c.url, '/api/v1/alerts/nope', { method: 'PATCH', body: JSON.stringify({ status: 'resolved', who: 'x' }) })).status).toBe(404);
  });
});

/**
 * Alerts the real pipeline raises on a planted capture: a Telnet sweep of 30
 * local hosts (scan) and TLS to a server under a domain a feed lists
 * (threat-intel).
 */
async function anomalyAlerts(): Promise<AlertRecord[]> {
  const dir = mkdtempSync(join(tmp, 'anomalies-'));
  const T0 = 1_700_000_000;
  const s = new Scenario(T0, 3600);
  const bot = { mac: '5c:cf:7f:bb:00:01', ip: '192.168.77.21', port: 41000 };
  for (let i = 0; i < 30; i++) s.failedSyn(T0 + 60 + i, { ...bot, port: bot.port + i }, { mac: `02:77:00:00:01:${String(i).padStart(2, '0')}`, ip: `192.168.77.${100 + i}`, port: 23 });
  const cam = { mac: '5c:cf:7f:bb:00:02', ip: '192.168.77.22', port: 40000 };
  const c2 = { mac: ROUTER.mac, ip: '45.9.148.114', port: 443 };
  s.resolve(T0 + 100, cam, 'update.evil-c2.example', [c2.ip]);
  s.tls(T0 + 101, cam, c2, 'update.evil-c2.example');
  s.write(join(dir, 'planted.pcap'));
  writeFileSync(join(dir, 'c2-domains.txt'), '# planted feed\nevil-c2.example\n');
  const r = await analyze([join(dir, 'planted.pcap')], { outDir: join(dir, 'out'), profilesDir: null, intel: [join(dir, 'c2-domains.txt')] });
  return r.alerts;
}

describe.each(backends)('alerts of the anomaly rules on %s', (_name, dbUrl) => {
  let c: RunningCollector;
  let sent: AlertRecord[];
  beforeAll(async () => {
    sent = (await anomalyAlerts()).filter((a) => a.rule === 'scan' || a.rule === 'threat-intel');
    c = await startCollector(dbUrl(), ['--config', writeConfig()]);
    const body = batch(sent.map((a): IngestEvent => ({ kind: 'alert', key: `anomaly:${a.id}:${a.evidence.flows}`, data: a })), 'anomalies');
    const r = await api(c.url, '/api/v1/events', { method: 'POST', body: JSON.stringify(body), token: SENSOR_TOKEN });
    expect(await r.json()).toEqual({ accepted: sent.length, duplicates: 0, refused: [] });
  }, 60_000);
  afterAll(async () => {
    expect(await c.stop()).toBe(0);
  });

  it('stores scan and threat-intel alerts with their evidence and serves them back by rule, as sent', async () => {
    const scan = sent.find((a) => a.rule === 'scan')!;
    expect(scan.evidence.scan).toMatchObject({ kind: 'hosts', port: 23, proto: 'tcp', targets: 30, attempts: 30, failed: 30, telnet: true });
    const intel = sent.find((a) => a.rule === 'threat-intel')!;
    expect(intel.evidence.intel).toMatchObject({ indicator: 'evil-c2.example', type: 'domain', feed: 'c2-domains.txt', seen: 'update.evil-c2.example', where: 'sni' });
    for (const a of [scan, intel]) {
      const r = await api(c.url, `/api/v1/alerts?rule=${a.rule}&status=open`);
      expect(r.status).toBe(200);
      const items = (await r.json()).items as StoredAlert[];
      expect(items.map(({ sensor, state, received_at, has_pcap, ...record }) => [sensor, state.status, has_pcap, received_at > 0, record])).toEqual([['lab', 'open', false, true, a]]);
    }
    expect((await (await api(c.url, `/api/v1/alerts?rule=scan&device=${intel.device.mac}`)).json()).items).toEqual([]);
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    expect(metrics).toContain('phonehome_alerts_total{rule="scan",severity="high",country=""} 1');
    expect(metrics).toMatch(/phonehome_alerts_open\{rule="threat-intel",severity="high"\} 1\n/);
  });
});

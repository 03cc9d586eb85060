// The Grafana dashboards against real data: a collector process fed the
// events of real captures (and planted beacons) in batches seconds apart, a
// sensor process reading a real capture on stdin, and a real Prometheus
// scraping both every second with the shipped rules loaded. Every query of
// every panel and variable is run through Prometheus' HTTP API: it must
// parse, evaluate and, unless a reason says otherwise, return data. The JSON
// is checked for what Grafana needs to import it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { AlertRecord, FlowRecord, IngestEvent } from '../../contract/types.js';
import type { Endpoint } from '../helpers/build.js';
import { CLI } from '../helpers/cli.js';
import { api, freePort, SENSOR_TOKEN, startCollector, type RunningCollector } from '../helpers/collector.js';
import { fixture } from '../helpers/corpus.js';
import { batch, eventsOf, realEvents } from '../helpers/events.js';
import { readWithPcapParser, writePcap, type TestPacket } from '../helpers/pcap.js';
import { EXAMPLE_CONFIG, RULES_FILE, startPrometheus, type PromSeries, type RunningPrometheus } from '../helpers/prometheus.js';
import { packet, ROUTER, rng, Scenario } from '../helpers/scenarios.js';

const DASHBOARDS = resolve(import.meta.dirname, '../../dashboards/json');
const PROVISIONING = resolve(import.meta.dirname, '../../dashboards/provisioning');
const FIELD_TOKEN = 'field-sensor-secret-0123456789';
const tmp = mkdtempSync(join(tmpdir(), 'phonehome-dashboards-'));

/** What the test puts in for each dashboard variable: values the data below has. */
const DEVICE = '94:10:3e:35:01:c1'; // the WeMo switch: flows to US, geo-callback alerts
let sensorInstance = '';
const values = (uid?: string): Record<string, string> => ({
  device: DEVICE,
  // the callbacks dashboard shows geo-callback and beaconing alerts: only CN (the planted beacons) has both
  country: uid === 'phonehome-callbacks' ? 'CN' : 'US',
  sensor: 'lab',
  sensor_job: 'phonehome-sensor',
  instance: sensorInstance,
  phonehome_url: 'https://phonehome.example.org',
  // Grafana's own; with a 1 s scrape a minute holds plenty of samples
  __rate_interval: '1m',
  __interval: '5s',
  __range: '5m',
});

/**
 * Panels allowed to return nothing, each with the reason. The data fed below
 * is chosen so that every panel has something to show; a panel listed here
 * is a panel this test cannot prove, so keep it short.
 */
const MAY_BE_EMPTY: Record<string, string> = {};

/**
 * Rates and increases must move somewhere in the test's time range (the
 * batches and the sensor's second chunk make them), except these, which stay
 * zero on a healthy setup.
 */
const ZERO_IS_RIGHT: Record<string, string> = {
  'phonehome-sensor-health/Spool full': 'the spool never fills: the collector takes every batch',
  'phonehome-sensor-health/Delivery failures/s by reason': 'the collector takes every batch',
};

interface Target { refId?: string; expr?: string; instant?: boolean; range?: boolean; format?: string; datasource?: { type?: string; uid?: string } }
interface Link { title?: string; url?: string; type?: string; targetBlank?: boolean }
interface Panel { id?: number; type?: string; title?: string; datasource?: { type?: string; uid?: string }; targets?: Target[]; gridPos?: { x: number; y: number; w: number; h: number }; panels?: Panel[]; fieldConfig?: { defaults?: { links?: Link[] } } }
interface Variable { name?: string; type?: string; query?: string | { query?: string }; definition?: string; datasource?: { type?: string; uid?: string }; allValue?: string }
interface Dashboard { uid?: string; title?: string; schemaVersion?: number; tags?: string[]; panels?: Panel[]; templating?: { list?: Variable[] }; links?: Link[] }

const files = readdirSync(DASHBOARDS).filter((f) => f.endsWith('.json')).sort();
const dashboards = files.map((f) => ({ file: f, d: JSON.parse(readFileSync(join(DASHBOARDS, f), 'utf8')) as Dashboard }));
const allPanels = (d: Dashboard): Panel[] => (d.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
const GRAFANA_BUILTINS = new Set(['__rate_interval', '__interval', '__range', '__interval_ms', '__range_s', '__range_ms']);
const variableQuery = (v: Variable): string => (typeof v.query === 'string' ? v.query : v.query?.query ?? '');

/** The expression with the dashboard's variables put in; a variable the dashboard does not define is an error. */
function substitute(expr: string, d: Dashboard): string {
  const defined = new Set((d.templating?.list ?? []).map((v) => v.name));
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (_m, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    if (!GRAFANA_BUILTINS.has(name) && !defined.has(name)) throw new Error(`${d.uid}: $${name} is not a variable of the dashboard`);
    const v = values(d.uid)[name];
    if (v === undefined) throw new Error(`no test value for $${name}`);
    return v;
  });
}

/** The web UI's pages, as the collector serves them: an alert, a device (lower-case colon-separated MAC), the queue with its filters. */
const UI_PAGE = /^https:\/\/phonehome\.example\.org\/ui(\/alerts\/[A-Za-z0-9_-]+|\/devices\/([0-9a-f]{2}:){5}[0-9a-f]{2}|\?(rule|device|severity|status)=[^&=]+(&(rule|device|severity|status)=[^&=]+)*)$/;

/**
 * A data link's URL for one series, as Grafana fills it in: the dashboard's
 * variables, the series' labels (__field.labels.X) and, in a table of an
 * instant query, the row's fields (__data.fields.X, the labels too).
 */
function resolveLink(url: string, d: Dashboard, labels: Record<string, string>): string {
  const filled = url.replace(/\$\{__(?:field\.labels|data\.fields)\.(\w+)\}/g, (_m, label: string) => {
    if (labels[label] === undefined) throw new Error(`${d.uid}: ${url} names ${label}, which the series does not have`);
    return labels[label];
  });
  return substitute(filled, d);
}

// Two planted beaconing devices (Espressif OUI, made in CN) calling two servers in China.
const BEACONERS: [Endpoint, Endpoint, string][] = [
  [{ mac: '5c:cf:7f:aa:00:01', ip: '192.168.77.11', port: 40001 }, { mac: ROUTER.mac, ip: '114.114.114.114', port: 443 }, 'update.c2-cloud.example'],
  [{ mac: '5c:cf:7f:aa:00:02', ip: '192.168.77.12', port: 40002 }, { mac: ROUTER.mac, ip: '223.5.5.5', port: 443 }, 'sync.c2-cloud.example'],
];

// Two planted bots (Espressif OUI) sweeping 30 local hosts each on Telnet within a minute: one scan alert each.
const SCANNERS: Endpoint[] = [
  { mac: '5c:cf:7f:aa:00:03', ip: '192.168.77.13', port: 41000 },
  { mac: '5c:cf:7f:aa:00:04', ip: '192.168.77.14', port: 42000 },
];
const SCAN_TARGETS = 30;

function beaconCapture(file: string): void {
  const T0 = 1_700_000_000;
  const SPAN = 3 * 3600;
  const s = new Scenario(T0, SPAN);
  const r = rng(7);
  for (const [dev, server, name] of BEACONERS) {
    s.resolve(T0 + 5, dev, name, [server.ip]);
    for (let t = T0 + 10; t < T0 + SPAN - 60; t += 60 + (r() - 0.5) * 10) s.tls(t, { ...dev, port: 30000 + Math.floor(r() * 30000) }, server, name, Math.floor(r() * 20));
  }
  SCANNERS.forEach((bot, b) => {
    for (let i = 0; i < SCAN_TARGETS; i++) {
      const target: Endpoint = { mac: `02:77:00:00:0${b}:${String(i).padStart(2, '0')}`, ip: `192.168.77.${100 + i}`, port: 23 };
      s.failedSyn(T0 + 600 * (b + 1) + 2 * i, { ...bot, port: bot.port + i }, target);
    }
  });
  s.write(file);
}

/**
 * Spreads events over n batches so that every counter series (a device and
 * country, a rule and country) appears in the first batch it belongs to and
 * grows in later ones: rates and increases then have something to show.
 */
function spread(events: IngestEvent[], n: number): IngestEvent[][] {
  const out = Array.from({ length: n }, () => [] as IngestEvent[]);
  const seen = new Map<string, number>();
  for (const e of events) {
    if (e.kind === 'device') out[0].push(e);
    else if (e.kind === 'evidence') out[n - 1].push(e);
    else {
      const key = e.kind === 'flow' ? `flow ${(e.data as FlowRecord).src_mac} ${(e.data as FlowRecord).dst_country}` : `alert ${(e.data as AlertRecord).rule} ${(e.data as AlertRecord).destination?.country}`;
      const i = seen.get(key) ?? 0;
      seen.set(key, i + 1);
      out[i % n].push(e);
    }
  }
  return out;
}

/**
 * A real capture as two pcap stream chunks, each ending in a frame too short
 * to decode: the warnings series is born with its first warning, so only a
 * second one shows as a rate.
 */
async function sensorStream(): Promise<[Buffer, Buffer]> {
  const { packets } = await readWithPcapParser(fixture('D-LinkCam'));
  // Ethernet header announcing IPv4, then 10 bytes: an IPv4 header cut short.
  const truncated = (after: TestPacket) => packet(after.tsSec + after.tsUsec / 1e6 + 0.001, Buffer.concat([Buffer.from('ffffffffffff' + '00b56d0608ba' + '0800', 'hex'), Buffer.alloc(10, 0x45)]));
  const half = Math.floor(packets.length / 2);
  const write = (name: string, ps: TestPacket[]) => {
    writePcap(join(tmp, name), 1, ps);
    return readFileSync(join(tmp, name));
  };
  const first = write('part1.pcap', [...packets.slice(0, half), truncated(packets[half - 1])]);
  // the second chunk continues the same stream: no second file header
  const second = write('part2.pcap', [...packets.slice(half), truncated(packets[packets.length - 1])]).subarray(24);
  return [first, second];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, f: () => Promise<T | null | undefined | false>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

let collector: RunningCollector;
let prom: RunningPrometheus;
let sensor: ChildProcess;
let sensorLogs = '';
let started = 0;

beforeAll(async () => {
  const beacons = join(tmp, 'beacons.pcap');
  beaconCapture(beacons);
  const [fleet, planted, stream] = await Promise.all([
    realEvents([fixture('TP-LinkPlugHS110'), fixture('HueBridge'), fixture('WeMoSwitch')], { watchCountries: ['US', 'IE', 'CN'] }),
    realEvents([beacons], { watchCountries: ['US', 'IE', 'CN'] }),
    sensorStream(),
  ]);
  expect(planted.alerts.filter((a) => a.rule === 'beaconing').length, 'planted beacons are found').toBe(2);
  expect(planted.alerts.filter((a) => a.rule === 'scan').map((a) => [a.device.mac, a.evidence.scan?.targets, a.evidence.scan?.telnet]).sort(), 'planted scans are found').toEqual(
    SCANNERS.map((d) => [d.mac, SCAN_TARGETS, true]),
  );
  const batches = spread([...eventsOf(fleet), ...eventsOf(planted)], 3);

  collector = await startCollector(`sqlite:${join(tmp, 'phonehome.db')}`, ['--sensor-token', `field:${FIELD_TOKEN}`]);
  const metricsPort = await freePort();
  sensorInstance = `127.0.0.1:${metricsPort}`;
  sensor = spawn(process.execPath, [CLI, 'sensor', '--input', '-', '--collector', collector.url, '--token', FIELD_TOKEN, '--name', 'field',
    '--spool', join(tmp, 'spool'), '--metrics-port', String(metricsPort), '--drain-timeout', '2', '--log-level', 'warn'], { stdio: ['pipe', 'pipe', 'pipe'] });
  sensor.stdout!.on('data', (d) => (sensorLogs += d));
  sensor.stderr!.on('data', (d) => (sensorLogs += d));
  // stdin stays open: a live input, so the sensor keeps running and reports its lag
  sensor.stdin!.write(stream[0]);
  await until('the sensor metrics endpoint', async () => (await fetch(`http://${sensorInstance}/metrics`).catch(() => null))?.ok).catch((e: Error) => {
    throw new Error(`${e.message}: ${sensorLogs}`);
  });

  // the shipped example configuration, pointed at this collector and sensor
  const config = parse(readFileSync(EXAMPLE_CONFIG, 'utf8')) as { global: Record<string, string>; rule_files: string[]; scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] };
  config.global = { scrape_interval: '1s', evaluation_interval: '1s' };
  config.rule_files = [RULES_FILE];
  // no Alertmanager in this test: the example's compose service name would not resolve
  delete (config as { alerting?: unknown }).alerting;
  const targets: Record<string, string> = { 'phonehome-collector': `127.0.0.1:${collector.port}`, 'phonehome-sensor': sensorInstance };
  expect(config.scrape_configs.map((s) => s.job_name).sort()).toEqual(Object.keys(targets).sort());
  for (const s of config.scrape_configs) s.static_configs = [{ targets: [targets[s.job_name]] }];
  prom = await startPrometheus(config);
  await until('both targets scraped', async () => {
    const r = await prom.query('up == 1');
    return r.data?.result.length === 2;
  });

  started = Math.floor(Date.now() / 1000);
  const ingest = (events: IngestEvent[], id: string) => api(collector.url, '/api/v1/events', { method: 'POST', body: JSON.stringify(batch(events, id)), token: SENSOR_TOKEN });
  expect((await ingest(batches[0], 'b0')).status).toBe(200);
  // a sensor with a wrong token, for the rejections panel
  expect((await api(collector.url, '/api/v1/events', { method: 'POST', body: JSON.stringify(batch([], 'x')), token: 'wrong-token-000000000000' })).status).toBe(401);
  await sleep(2500);
  sensor.stdin!.write(stream[1]);
  expect((await ingest(batches[1], 'b1')).status).toBe(200);
  await sleep(2500);
  expect((await ingest(batches[2], 'b2')).status).toBe(200);
  // a few scrapes and rule evaluations after the last batch
  await sleep(3000);
}, 60_000);

afterAll(async () => {
  await prom?.stop();
  if (sensor && sensor.exitCode === null) {
    const exited = new Promise((r) => sensor.once('exit', r));
    sensor.kill('SIGTERM');
    await exited;
  }
  await collector?.stop();
}, 30_000);

describe('dashboards JSON', () => {
  it('are the four dashboards, each with a unique uid', () => {
    expect(files).toEqual(['callbacks.json', 'device-behaviour.json', 'fleet-overview.json', 'sensor-health.json']);
    expect(new Set(dashboards.map(({ d }) => d.uid)).size).toBe(dashboards.length);
  });

  it.each(dashboards)('$file has what Grafana needs to import it', ({ d }) => {
    expect(d.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(d.title).toBeTruthy();
    expect(d.schemaVersion).toBeGreaterThanOrEqual(39);
    expect(d.tags).toContain('phonehome');
    const vars = d.templating?.list ?? [];
    for (const v of vars) {
      expect(v.name, JSON.stringify(v)).toMatch(/^\w+$/);
      expect(['datasource', 'query', 'textbox', 'custom', 'constant', 'interval'], v.name).toContain(v.type);
      if (v.type === 'query') {
        expect(v.datasource, v.name).toEqual({ type: 'prometheus', uid: '${datasource}' });
        expect(variableQuery(v), v.name).toMatch(/^label_values\(/);
      }
    }
    expect(vars.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const ids = new Set<number>();
    const cells = new Map<string, string>();
    for (const p of allPanels(d)) {
      expect(p.type, JSON.stringify(p).slice(0, 200)).toMatch(/^(row|text|timeseries|stat|table|piechart|bargauge|gauge|geomap|state-timeline|barchart)$/);
      expect(p.title, `a ${p.type} panel`).toBeTruthy();
      expect(typeof p.id).toBe('number');
      expect(ids.has(p.id!), `${p.title}: id ${p.id} is unique`).toBe(false);
      ids.add(p.id!);
      const g = p.gridPos!;
      expect(g, p.title).toBeDefined();
      expect(g.x + g.w, p.title).toBeLessThanOrEqual(24);
      expect(g.w > 0 && g.h > 0, p.title).toBe(true);
      // overlapping panels are moved around by Grafana: keep the layout as written
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          const k = `${x},${y}`;
          expect(cells.get(k), `${p.title} overlaps ${cells.get(k)}`).toBeUndefined();
          cells.set(k, p.title!);
        }
      }
      if (p.type === 'row' || p.type === 'text') continue;
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      const refIds = p.targets!.map((t) => t.refId);
      expect(new Set(refIds).size, p.title).toBe(refIds.length);
      for (const t of p.targets!) {
        expect(t.refId, p.title).toMatch(/^[A-Z]$/);
        expect(t.expr, p.title).toBeTruthy();
        expect(t.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      }
    }
  });

  it('panels showing devices or alerts link to their pages in the web UI, through $phonehome_url', () => {
    const linked = dashboards.flatMap(({ d }) => allPanels(d).filter((p) => p.fieldConfig?.defaults?.links?.length).map((p) => ({ d, p })));
    // every panel by device links to the device page
    for (const { d } of dashboards) {
      for (const p of allPanels(d)) {
        const byDevice = p.targets?.some((t) => /by \(device\)/.test(t.expr ?? ''));
        if (byDevice) expect(p.fieldConfig?.defaults?.links?.map((l) => l.url), `${d.uid} ${p.title}`).toContain('${phonehome_url}/ui/devices/${__field.labels.device}');
        const byRule = p.targets?.some((t) => /by \([^)]*\brule\b/.test(t.expr ?? ''));
        if (byRule) expect(p.fieldConfig?.defaults?.links?.some((l) => l.url?.includes('?rule=${__')), `${d.uid} ${p.title}`).toBe(true);
      }
    }
    expect(linked.length).toBeGreaterThanOrEqual(10);
    for (const { d, p } of linked) {
      expect(d.templating?.list?.find((v) => v.name === 'phonehome_url'), d.uid).toMatchObject({ type: 'textbox' });
      for (const l of p.fieldConfig!.defaults!.links!) {
        expect(l.title, `${d.uid} ${p.title}`).toBeTruthy();
        expect(l.url, `${d.uid} ${p.title}`).toMatch(/^\$\{phonehome_url\}\/ui[/?]/);
      }
    }
    // the device dashboard links to its device's page and alerts
    const device = dashboards.find(({ d }) => d.uid === 'phonehome-device-behaviour')!.d;
    expect(device.links!.filter((l) => l.type === 'link').map((l) => resolveLink(l.url!, device, {}))).toEqual([
      `https://phonehome.example.org/ui/devices/${DEVICE}`,
      `https://phonehome.example.org/ui?device=${DEVICE}`,
    ]);
  });

  it('provisioning loads the dashboards folder and a Prometheus datasource with uid prometheus', () => {
    const ds = parse(readFileSync(join(PROVISIONING, 'datasources/prometheus.yml'), 'utf8'));
    expect(ds.apiVersion).toBe(1);
    expect(ds.datasources).toEqual([expect.objectContaining({ type: 'prometheus', uid: 'prometheus', url: 'http://prometheus:9090', access: 'proxy' })]);
    const dash = parse(readFileSync(join(PROVISIONING, 'dashboards/phonehome.yml'), 'utf8'));
    expect(dash.apiVersion).toBe(1);
    expect(dash.providers).toEqual([expect.objectContaining({ type: 'file', folder: 'phonehome', options: expect.objectContaining({ path: '/var/lib/grafana/dashboards' }) })]);
  });
});

describe('against a real Prometheus scraping a real collector and sensor', () => {
  it('loads the shipped rules: every group there, every rule evaluated and healthy', async () => {
    const file = parse(readFileSync(RULES_FILE, 'utf8')) as { groups: { name: string; rules: { alert?: string; record?: string }[] }[] };
    type Group = { name: string; rules: { name: string; health: string; lastError?: string; lastEvaluation: string }[] };
    const groups = await until('every rule evaluated', async () => {
      const r = await prom.get<{ groups: Group[] }>('/api/v1/rules');
      const gs = r.data.groups;
      return gs.length && gs.every((g) => g.rules.every((x) => !x.lastEvaluation.startsWith('0001'))) ? gs : null;
    });
    expect(groups.map((g) => g.name).sort()).toEqual(file.groups.map((g) => g.name).sort());
    for (const g of groups) {
      const mine = file.groups.find((f) => f.name === g.name)!;
      expect(g.rules.map((x) => x.name)).toEqual(mine.rules.map((x) => x.alert ?? x.record));
      for (const x of g.rules) expect(x.health, `${x.name}: ${x.lastError}`).toBe('ok');
    }
  });

  it('the geo-callback and beaconing alerts fire on the real data, once per country', async () => {
    type Alert = { labels: Record<string, string>; state: string };
    const firing = await until('geo-callback and beaconing alerts firing', async () => {
      const r = await prom.get<{ alerts: Alert[] }>('/api/v1/alerts');
      const f = r.data.alerts.filter((a) => a.state === 'firing' && /PhonehomeGeoCallback|PhonehomeBeaconing/.test(a.labels.alertname));
      return f.length >= 3 ? f : null;
    });
    const got = firing.map((a) => `${a.labels.alertname} ${a.labels.country}`).sort();
    // IE had one alert, stored in the first batch Prometheus saw: not new to it
    expect(got).toEqual(['PhonehomeBeaconing CN', 'PhonehomeGeoCallback CN', 'PhonehomeGeoCallback US']);
    const silent = await prom.get<{ alerts: Alert[] }>('/api/v1/alerts');
    expect(silent.data.alerts.filter((a) => ['PhonehomeSensorSilent', 'PhonehomeCollectorAbsent'].includes(a.labels.alertname))).toEqual([]);
  });

  it('the scan alert fires on the planted Telnet sweeps, once: its rule alone, with the count of new alerts', async () => {
    type Alert = { labels: Record<string, string>; annotations: Record<string, string>; state: string };
    const firing = await until('the scan alert firing', async () => {
      const r = await prom.get<{ alerts: Alert[] }>('/api/v1/alerts');
      const f = r.data.alerts.filter((a) => a.state === 'firing' && a.labels.alertname === 'PhonehomeScan');
      return f.length ? f : null;
    });
    expect(firing.map((a) => a.labels)).toEqual([{ alertname: 'PhonehomeScan', rule: 'scan', severity: 'critical' }]);
    // the first sweep's alert came in the first batch Prometheus saw (not new to it), the second's later
    expect(firing[0].annotations.description).toMatch(/^1 new scan alert\(s\) in the last 5 minutes/);
    const others = await prom.get<{ alerts: Alert[] }>('/api/v1/alerts');
    expect(others.data.alerts.filter((a) => a.labels.rule && !['scan', 'geo-callback', 'beaconing'].includes(a.labels.rule)).map((a) => a.labels.alertname)).toEqual([]);
  });

  it('every variable query of every dashboard returns values, including the ones this test puts in', async () => {
    for (const { d } of dashboards) {
      for (const v of d.templating?.list ?? []) {
        if (v.type !== 'query') continue;
        const m = /^label_values\((.+),\s*(\w+)\)$/.exec(variableQuery(v));
        expect(m, `${d.uid} $${v.name}`).not.toBeNull();
        const [, selector, label] = m!;
        const r = await prom.get<string[]>(`/api/v1/label/${label}/values?match[]=${encodeURIComponent(substitute(selector, d))}`);
        expect(r.status, `${d.uid} $${v.name}`).toBe('success');
        expect(r.data, `${d.uid} $${v.name}`).toContain(values(d.uid)[v.name!]);
      }
    }
  });

  describe.each(dashboards)('$file', ({ d }) => {
    const panels = allPanels(d).filter((p) => p.targets?.length);
    it.each(panels.map((p) => [p.title!, p] as const))('%s: every query evaluates and has data', async (title, p) => {
      const now = Math.floor(Date.now() / 1000);
      for (const t of p.targets!) {
        const expr = substitute(t.expr!, d);
        const what = `${d.uid} "${title}" ${t.refId}: ${expr}`;
        const results: PromSeries[][] = [];
        const instant = await prom.query(expr, now);
        expect(instant.status, `${what}: ${instant.error}`).toBe('success');
        if (t.instant) results.push(instant.data.result);
        if (t.range !== false) {
          const range = await prom.queryRange(expr, started - 5, now, 1);
          expect(range.status, `${what}: ${range.error}`).toBe('success');
          expect(range.data.resultType, what).toBe('matrix');
          results.push(range.data.result);
        }
        if (MAY_BE_EMPTY[`${d.uid}/${title}`]) continue;
        for (const r of results) expect(r.length, `${what} returned nothing`).toBeGreaterThan(0);
        // every data link resolves, for every series the query gives, to a page of the web UI
        for (const l of p.fieldConfig?.defaults?.links ?? []) {
          for (const series of results.at(-1)!) expect(resolveLink(l.url!, d, series.metric), `${what}: ${l.title}`).toMatch(UI_PAGE);
        }
        if (/\b(rate|increase)\(/.test(expr) && t.range !== false && !ZERO_IS_RIGHT[`${d.uid}/${title}`]) {
          const peak = Math.max(...results.at(-1)!.flatMap((x) => (x.values ?? []).map(([, v]) => Number(v))));
          expect(peak, `${what} never moves`).toBeGreaterThan(0);
        }
      }
    });
  });
});

// The collector's storage, run identically against SQLite and a real
// PostgreSQL server: both backends must give the same answers to the same
// batches, because deployments move from one to the other.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { AlertRecord, DeviceRecord, FlowRecord, IngestEvent, StoredAlert } from '../../../contract/types.js';
import { openStore } from '../../../collector/store/open.js';
import { openPostgres } from '../../../collector/store/postgres.js';
import { openSqlite } from '../../../collector/store/sqlite.js';
import { type AlertFilter, type MetricsSnapshot, type Store, StoreError } from '../../../collector/store/store.js';
import { analyze } from '../../../sensor/analyze.js';
import { startPostgres, type TestPostgres } from '../../helpers/postgres.js';

const ROOT = join(import.meta.dirname, '../../..');
const PCAP = join(import.meta.dirname, '../../fixtures/tp-linkplughs110-setup-a-1.pcap');
const tmp = mkdtempSync(join(tmpdir(), 'phonehome-store-'));

// ---- realistic records: what the sensor really produces for a TP-Link plug ----

interface Fixture {
  flows: FlowRecord[];
  devices: DeviceRecord[];
  alert: AlertRecord;
  pcap: Buffer;
}
let fx: Fixture;

// A collector that acknowledges batch after batch until it is killed. It runs
// the TypeScript sources through Vite's module runner (what vitest itself
// uses), so it needs no build.
const CRASH_CHILD = `
import { createServer, createServerModuleRunner } from 'vite';
const server = await createServer({ root: process.cwd(), configFile: false, logLevel: 'silent', appType: 'custom',
  server: { middlewareMode: true, hmr: false, ws: false }, optimizeDeps: { noDiscovery: true, include: [] } });
const runner = createServerModuleRunner(server.environments.ssr, { hmr: false });
const { openStore } = await runner.import('/collector/store/open.ts');
const alert = JSON.parse(process.env.ALERT);
const store = await openStore(process.env.STORE_URL);
for (let i = 0; ; i++) {
  await store.ingest({ name: 'crash', version: '0', lag_s: null }, [{ kind: 'alert', key: 'k' + i, data: { ...alert, id: 'crash-' + i } }], Date.now() / 1000);
  process.stdout.write('ack ' + i + '\\n');
}
`;

beforeAll(async () => {
  const out = join(tmp, 'analyze');
  const r = await analyze([PCAP], { outDir: out });
  const flows = readFileSync(join(out, 'flows.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as FlowRecord);
  expect(flows.some((f) => f.dst_country !== null), 'the fixture has Internet flows').toBe(true);
  expect(r.alerts.length).toBeGreaterThan(0);
  fx = { flows, devices: r.devices, alert: r.alerts[0], pcap: readFileSync(PCAP) };
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SENSOR = { name: 'lab-sensor', version: '0.1.0', lag_s: 1.5 };
const T0 = 1_700_000_000;

let keySeq = 0;
const key = (): string => `k${++keySeq}`;
const flowEv = (data: FlowRecord, k = key()): IngestEvent => ({ kind: 'flow', key: k, data });
const alertEv = (data: AlertRecord, k = key()): IngestEvent => ({ kind: 'alert', key: k, data });
const deviceEv = (data: DeviceRecord, k = key()): IngestEvent => ({ kind: 'device', key: k, data });
const evidenceEv = (alert_id: string, pcap: Buffer, k = key()): IngestEvent => ({ kind: 'evidence', key: k, data: { alert_id, pcap_base64: pcap.toString('base64') } });

const RULES: AlertRecord['rule'][] = ['undocumented-destination', 'geo-callback', 'beaconing', 'strobe', 'direct-ip', 'unprofiled-device'];
const SEVERITIES: AlertRecord['severity'][] = ['info', 'low', 'medium', 'high', 'critical'];
const DEVICES: { mac: string | null; ip: string; profile: string | null }[] = [
  { mac: '50:c7:bf:00:c7:03', ip: '10.10.10.20', profile: 'tplink-hs110' },
  { mac: '00:b5:6d:06:08:ba', ip: '10.10.10.1', profile: null },
  { mac: 'b0:c5:54:11:22:33', ip: '10.10.10.30', profile: 'dlink-dcs' },
  { mac: null, ip: '192.168.1.50', profile: null },
  // A MAC-less device on an address a MAC device also had: a device filter on the IP finds both.
  { mac: null, ip: '10.10.10.20', profile: null },
];
const COUNTRIES = ['US', 'CN', 'DE', null];

/** The i-th of a family of alerts that differ in every field the API filters on. */
function alertVariant(i: number): AlertRecord {
  const base = fx.alert;
  const d = DEVICES[i % DEVICES.length];
  const country = COUNTRIES[i % COUNTRIES.length];
  return {
    ...base,
    // Not in ts order, so the id tiebreak is exercised on equal timestamps.
    id: `${((i * 7919) % 997).toString(36)}-${i}`,
    ts: base.ts + (i % 13) * 60 + (i % 3 === 0 ? 0.25 : 0),
    rule: RULES[i % RULES.length],
    severity: SEVERITIES[(i * 3) % SEVERITIES.length],
    device: { ...base.device, mac: d.mac, ip: d.ip, profile: d.profile },
    destination: i % 8 === 3 ? null : { ...base.destination!, country },
    evidence: { ...base.evidence, flows: 1 + (i % 4) },
  };
}

/** A flow from the fixture, moved to another device / destination. */
function flowVariant(i: number, over: Partial<FlowRecord>): FlowRecord {
  const base = fx.flows.find((f) => f.dst_country !== null)!;
  return { ...base, uid: `Cvar${i}`, ts: base.ts + i, ...over };
}

const byteCmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const newestFirst = (a: { ts: number; id: string }, b: { ts: number; id: string }): number => b.ts - a.ts || byteCmp(b.id, a.id);

// ---- backends ----

interface Backend {
  name: 'sqlite' | 'postgres';
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** URL of a new, empty database */
  fresh(): Promise<string>;
  /** every URL spelling openStore accepts for a new empty database */
  urlForms(): Promise<string[]>;
  unreachable(): { url: string; named: string };
}

let dbSeq = 0;
const sqlite: Backend = {
  name: 'sqlite',
  setup: async () => undefined,
  teardown: async () => undefined,
  fresh: async () => `sqlite:${join(tmp, `s${++dbSeq}.db`)}`,
  urlForms: async () => [`sqlite:${join(tmp, `f${++dbSeq}.db`)}`, `sqlite://${join(tmp, `f${++dbSeq}.db`)}`, join(tmp, `f${++dbSeq}.db`)],
  unreachable: () => ({ url: `sqlite:${join(tmp, 'no-such-dir', 'x.db')}`, named: join(tmp, 'no-such-dir', 'x.db') }),
};

let server: TestPostgres | null = null;
const postgres: Backend = {
  name: 'postgres',
  async setup() {
    server = await startPostgres();
  },
  async teardown() {
    await server?.stop();
  },
  fresh: () => server!.createDatabase(),
  async urlForms() {
    const a = await server!.createDatabase();
    const b = (await server!.createDatabase()).replace(/^postgres:/, 'postgresql:');
    return [a, b];
  },
  // Port 1 (tcpmux) is never a PostgreSQL server and refuses connections on loopback.
  unreachable: () => ({ url: 'postgres://phonehome:secret@127.0.0.1:1/phonehome', named: '127.0.0.1:1' }),
};

describe.each([sqlite, postgres])('$name store', (backend) => {
  let store: Store;
  let url: string;

  beforeAll(() => backend.setup(), 120_000);
  afterAll(() => backend.teardown(), 60_000);
  beforeEach(async () => {
    url = await backend.fresh();
    store = await openStore(url);
  });
  afterEach(async () => {
    await store?.close();
  });

  test('reports its kind and answers ping; close ends it', async () => {
    expect(store.kind).toBe(backend.name);
    await expect(store.ping()).resolves.toBeUndefined();
    const other = await openStore(await backend.fresh());
    await other.close();
    await expect(other.ping()).rejects.toThrow();
  });

  test('the same batch twice: the second is all duplicates and changes nothing', async () => {
    const events = [...fx.flows.map((f) => flowEv(f)), ...fx.devices.map((d) => deviceEv(d)), alertEv(fx.alert)];
    const first = await store.ingest(SENSOR, events, T0);
    expect(first).toMatchObject({ accepted: events.length, duplicates: 0 });
    expect(first.newAlerts).toEqual([
      { ...fx.alert, sensor: SENSOR.name, state: { status: 'open', note: null, updated_by: null, updated_at: null }, received_at: T0, has_pcap: false },
    ]);
    const before = { metrics: await store.metrics(), devices: await store.listDevices(), alerts: await store.listAlerts({ limit: 100 }) };

    const second = await store.ingest(SENSOR, events, T0 + 60);
    expect(second).toEqual({ accepted: 0, duplicates: events.length, newAlerts: [] });
    expect(await store.listDevices()).toEqual(before.devices);
    expect(await store.listAlerts({ limit: 100 })).toEqual(before.alerts);
    const after = await store.metrics();
    expect({ ...after, sensors: [] }).toEqual({ ...before.metrics, sensors: [] });
    // The sensor itself is still seen: last_seen moves, its event count does not.
    expect(await store.listSensors()).toEqual([{ ...SENSOR, last_seen: T0 + 60, events: events.length }]);

    // Keys are per sensor: another sensor sending the same keys is not a duplicate.
    const other = await store.ingest({ ...SENSOR, name: 'second-sensor' }, [alertEv(fx.alert, events[events.length - 1].key)], T0 + 61);
    expect(other).toMatchObject({ accepted: 1, duplicates: 0, newAlerts: [] });
    // A repeat within one batch is a duplicate too.
    const dup = key();
    expect(await store.ingest(SENSOR, [alertEv(alertVariant(1), dup), alertEv(alertVariant(1), dup)], T0 + 62)).toMatchObject({ accepted: 1, duplicates: 1 });
  });

  test('a flow uid seen again under a new key is accepted but not counted twice', async () => {
    const f = fx.flows.find((x) => x.dst_country !== null)!;
    await store.ingest(SENSOR, [flowEv(f)], T0);
    const once = await store.metrics();
    expect(await store.ingest(SENSOR, [flowEv(f)], T0 + 1)).toMatchObject({ accepted: 1, duplicates: 0 });
    expect((await store.metrics()).deviceTraffic).toEqual(once.deviceTraffic);
  });

  test('a batch of a thousand flows across statements, uids repeated within it and across batches, counts each uid once', async () => {
    const base = fx.flows.find((x) => x.dst_country !== null)!;
    const flows = Array.from({ length: 1000 }, (_, i) => ({
      ...base, uid: `Cbig${i % 700}`, dst_ip: `52.0.${i % 7}.${i % 250}`, dst_country: COUNTRIES[i % 4], src_bytes: 100 + i,
      src_mac: i % 3 === 0 ? null : base.src_mac, src_ip: i % 3 === 0 ? '192.168.1.50' : base.src_ip,
    }));
    const first = await store.ingest(SENSOR, flows.slice(0, 600).map((f) => flowEv(f)), T0);
    const second = await store.ingest(SENSOR, flows.slice(600).map((f) => flowEv(f)), T0 + 1);
    expect(first.accepted + second.accepted).toBe(1000);
    // What one-at-a-time storing would give: the first flow of each uid counts.
    const traffic = new Map<string, { device: string; country: string; flows: number; bytes_out: number }>();
    const dests = new Map<string, Set<string>>();
    const seen = new Set<string>();
    for (const f of flows) {
      if (seen.has(f.uid)) continue;
      seen.add(f.uid);
      if (f.dst_country === null) continue;
      const device = f.src_mac ?? f.src_ip;
      const t = traffic.get(`${device} ${f.dst_country}`) ?? { device, country: f.dst_country, flows: 0, bytes_out: 0 };
      t.flows++;
      t.bytes_out += f.src_bytes;
      traffic.set(`${device} ${f.dst_country}`, t);
      dests.set(device, (dests.get(device) ?? new Set()).add(f.dst_ip));
    }
    const m = await store.metrics();
    const byKey = (a: { device: string; country?: string }, b: { device: string; country?: string }) => `${a.device} ${a.country}`.localeCompare(`${b.device} ${b.country}`);
    expect([...m.deviceTraffic].sort(byKey)).toEqual([...traffic.values()].sort(byKey));
    expect([...m.deviceDestinations].sort(byKey)).toEqual([...dests].map(([device, d]) => ({ device, destinations: d.size })).sort(byKey));
  });

  test('a NUL from a hostile device is stored, not refused: columns get U+FFFD, records keep the exact text', async () => {
    const mac = 'aa:bb:cc:dd:ee:0\u0000';
    const f = { ...fx.flows.find((x) => x.dst_country !== null)!, uid: 'Cnul', src_mac: mac, server_name: 'evil\u0000.example' };
    const d = { ...fx.devices[0], mac, hostnames: ['cam\u0000era'] };
    expect(await store.ingest(SENSOR, [flowEv(f), deviceEv(d)], T0)).toMatchObject({ accepted: 2, duplicates: 0 });
    const m = await store.metrics();
    expect(m.deviceTraffic.map((t) => t.device)).toContain('aa:bb:cc:dd:ee:0\ufffd');
    const [stored] = await store.listDevices();
    expect(stored.hostnames).toEqual(['cam\u0000era']);
    expect(stored.mac).toBe(mac);
  });

  test('an alert that grows replaces its evidence and keeps its analyst state; a stale copy changes nothing', async () => {
    const a = fx.alert;
    await store.ingest(SENSOR, [alertEv(a)], T0);
    await store.updateAlert(a.id, { status: 'acknowledged', note: 'known NTP', who: 'ana' }, T0 + 10);

    const grown: AlertRecord = { ...a, severity: 'high', evidence: { ...a.evidence, flows: 3, packets: 6, bytes_out: 270, uids: [...a.evidence.uids, 'Cx2', 'Cx3'] } };
    const r = await store.ingest({ ...SENSOR, name: 'other-sensor' }, [alertEv(grown)], T0 + 20);
    expect(r).toMatchObject({ accepted: 1, duplicates: 0, newAlerts: [] });
    const got = await store.getAlert(a.id);
    expect(got).toEqual({
      ...grown,
      sensor: SENSOR.name,
      received_at: T0,
      has_pcap: false,
      state: { status: 'acknowledged', note: 'known NTP', updated_by: 'ana', updated_at: T0 + 10 },
    });
    // The filter columns follow the new record.
    expect((await store.listAlerts({ limit: 10, severity: 'high' })).items.map((x) => x.id)).toEqual([a.id]);

    const stale: AlertRecord = { ...a, severity: 'low', evidence: { ...a.evidence, flows: 2 } };
    await store.ingest(SENSOR, [alertEv(stale)], T0 + 30);
    expect(await store.getAlert(a.id)).toEqual(got);

    // Growing within one batch: reported once as new, with the final evidence.
    const b = alertVariant(7);
    const r2 = await store.ingest(SENSOR, [alertEv(b), alertEv({ ...b, evidence: { ...b.evidence, flows: 50 } })], T0 + 40);
    expect(r2.newAlerts.map((x) => [x.id, x.evidence.flows])).toEqual([[b.id, 50]]);
  });

  describe('filters and pagination over 50 alerts', () => {
    const N = 50;
    let alerts: AlertRecord[];
    const status = new Map<string, StoredAlert['state']['status']>();

    beforeEach(async () => {
      alerts = Array.from({ length: N }, (_, i) => alertVariant(i));
      await store.ingest(SENSOR, alerts.slice(0, 20).map((a) => alertEv(a)), T0);
      await store.ingest({ ...SENSOR, name: 'sensor-b' }, alerts.slice(20).map((a) => alertEv(a)), T0 + 1);
      status.clear();
      for (const [i, a] of alerts.entries()) {
        const s = i % 5 === 1 ? 'acknowledged' : i % 5 === 2 ? 'resolved' : 'open';
        status.set(a.id, s);
        if (s !== 'open') await store.updateAlert(a.id, { status: s, note: `note ${i}`, who: 'ana' }, T0 + 100 + i);
      }
    });

    const expected = (f: Omit<AlertFilter, 'limit' | 'cursor'>): string[] =>
      alerts
        .filter(
          (a) =>
            (f.from === undefined || a.ts >= f.from) &&
            (f.to === undefined || a.ts <= f.to) &&
            (f.rule === undefined || a.rule === f.rule) &&
            (f.severity === undefined || a.severity === f.severity) &&
            (f.device === undefined || a.device.mac === f.device || a.device.ip === f.device) &&
            (f.country === undefined || a.destination?.country === f.country) &&
            (f.status === undefined || status.get(a.id) === f.status),
        )
        .sort(newestFirst)
        .map((a) => a.id);

    async function allPages(f: Omit<AlertFilter, 'limit' | 'cursor'>, limit: number): Promise<StoredAlert[]> {
      const out: StoredAlert[] = [];
      let cursor: string | undefined;
      for (let page = 0; page <= N + 1; page++) {
        const r = await store.listAlerts({ ...f, limit, cursor });
        expect(r.items.length).toBeLessThanOrEqual(limit);
        out.push(...r.items);
        if (r.next_cursor === null) return out;
        expect(r.items.length, 'a page with a next_cursor is full').toBe(limit);
        cursor = r.next_cursor;
      }
      throw new Error('pagination does not end');
    }

    test('every filter agrees with filtering the inserted alerts, and pages concatenate to the full sorted list', async () => {
      const ts = alerts.map((a) => a.ts).sort((x, y) => x - y);
      const filters: Omit<AlertFilter, 'limit' | 'cursor'>[] = [
        {},
        ...RULES.map((rule) => ({ rule })),
        ...SEVERITIES.map((severity) => ({ severity })),
        { device: '50:c7:bf:00:c7:03' },
        { device: '10.10.10.20' },
        { device: '192.168.1.50' },
        { device: 'no-such-device' },
        { country: 'US' },
        { country: 'CN' },
        { country: 'DE' },
        { status: 'open' },
        { status: 'acknowledged' },
        { status: 'resolved' },
        { from: ts[10] },
        { to: ts[30] },
        { from: ts[10], to: ts[30] },
        { from: ts[25], to: ts[25] },
        { rule: 'geo-callback', status: 'open' },
        { device: '10.10.10.20', country: 'US', from: ts[5] },
      ];
      for (const f of filters) {
        const want = expected(f);
        for (const limit of [1, 7, 1000]) {
          const got = await allPages(f, limit);
          const ids = got.map((a) => a.id);
          expect(ids, `${JSON.stringify(f)} limit ${limit}`).toEqual(want);
          expect(new Set(ids).size).toBe(ids.length);
        }
      }
      expect(expected({ device: '10.10.10.20' }).length, 'the IP filter finds the MAC device and the MAC-less one').toBeGreaterThan(expected({ device: '50:c7:bf:00:c7:03' }).length);
    });

    test('items are whole stored alerts', async () => {
      const { items } = await store.listAlerts({ limit: 1000 });
      expect(items).toHaveLength(N);
      for (const it of items) {
        const a = alerts.find((x) => x.id === it.id)!;
        const { sensor, state, received_at, has_pcap, ...record } = it;
        expect(record).toEqual(a);
        expect(sensor).toBe(alerts.indexOf(a) < 20 ? SENSOR.name : 'sensor-b');
        expect(received_at).toBe(alerts.indexOf(a) < 20 ? T0 : T0 + 1);
        expect(has_pcap).toBe(false);
        expect(state.status).toBe(status.get(a.id));
      }
    });

    test('limit is capped at 1000 and at least 1; a foreign cursor is refused', async () => {
      expect((await store.listAlerts({ limit: 5000 })).items).toHaveLength(N);
      const one = await store.listAlerts({ limit: 0 });
      expect(one.items).toHaveLength(1);
      expect(one.next_cursor).not.toBeNull();
      const err = await store.listAlerts({ limit: 5, cursor: 'not-a-cursor' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect(err).toMatchObject({ code: 'BAD_CURSOR', statusCode: 400 });
    });
  });

  test('updateAlert changes the state, stamps who and when, and is null for an unknown alert', async () => {
    const a = alertVariant(3);
    await store.ingest(SENSOR, [alertEv(a)], T0);
    const r = await store.updateAlert(a.id, { status: 'resolved', note: 'firmware updated', who: 'bob' }, T0 + 5);
    expect(r?.state).toEqual({ status: 'resolved', note: 'firmware updated', updated_by: 'bob', updated_at: T0 + 5 });
    expect(await store.getAlert(a.id)).toEqual(r);
    const back = await store.updateAlert(a.id, { status: 'open', note: null, who: 'carol' }, T0 + 6);
    expect(back?.state).toEqual({ status: 'open', note: null, updated_by: 'carol', updated_at: T0 + 6 });
    expect(await store.updateAlert('no-such-alert', { status: 'resolved', note: null, who: 'bob' }, T0)).toBeNull();
    expect(await store.getAlert('no-such-alert')).toBeNull();
  });

  test('evidence round-trips byte for byte, replaces, and sets has_pcap', async () => {
    const a = fx.alert;
    const pcap = fx.pcap;
    // Evidence may arrive before its alert.
    const r = await store.ingest(SENSOR, [evidenceEv(a.id, pcap), alertEv(a)], T0);
    expect(r.newAlerts.map((x) => x.has_pcap)).toEqual([true]);
    expect(Buffer.compare((await store.getEvidence(a.id))!, pcap)).toBe(0);
    expect((await store.getAlert(a.id))?.has_pcap).toBe(true);

    const smaller = pcap.subarray(0, 24 + 16 + 60);
    await store.ingest(SENSOR, [evidenceEv(a.id, smaller)], T0 + 1);
    expect(Buffer.compare((await store.getEvidence(a.id))!, smaller)).toBe(0);
    expect(await store.getEvidence('no-such-alert')).toBeNull();
    const b = alertVariant(2);
    await store.ingest(SENSOR, [alertEv(b)], T0);
    expect((await store.getAlert(b.id))?.has_pcap).toBe(false);
  });

  test('devices: the record with the latest last_seen wins, with its sensor, profile and countries', async () => {
    const plug = fx.devices.find((d) => d.mac === '50:c7:bf:00:c7:03')!;
    const router = fx.devices.find((d) => d.mac !== plug.mac)!;
    const macless: DeviceRecord = { ...router, mac: null, ips: ['192.168.1.50'], vendor: null, vendor_country: null };
    await store.ingest(SENSOR, [...fx.devices.map((d) => deviceEv(d)), deviceEv(macless), ...fx.flows.map((f) => flowEv(f))], T0);

    const older: DeviceRecord = { ...plug, last_seen: plug.last_seen - 100, hostnames: ['stale'] };
    await store.ingest({ ...SENSOR, name: 'other' }, [deviceEv(older)], T0 + 1);
    expect((await store.getDevice(plug.mac!))).toMatchObject({ last_seen: plug.last_seen, hostnames: plug.hostnames, sensor: SENSOR.name });

    const newer: DeviceRecord = { ...plug, last_seen: plug.last_seen + 100, flows: plug.flows + 1, hostnames: ['newer'] };
    await store.ingest({ ...SENSOR, name: 'other' }, [deviceEv(newer)], T0 + 2);
    const internet = fx.flows.filter((f) => f.src_mac === plug.mac && f.dst_country !== null);
    expect(internet.length).toBeGreaterThan(0);
    const countries = new Map<string, { country: string; flows: number; bytes_out: number }>();
    for (const f of internet) {
      const c = countries.get(f.dst_country!) ?? { country: f.dst_country!, flows: 0, bytes_out: 0 };
      c.flows++;
      c.bytes_out += f.src_bytes;
      countries.set(c.country, c);
    }
    expect(countries.size, 'the plug talks to more than one country').toBeGreaterThan(1);
    expect(await store.getDevice(plug.mac!)).toEqual({
      ...newer,
      sensor: 'other',
      profile: null,
      countries: [...countries.values()].sort((a, b) => b.bytes_out - a.bytes_out || byteCmp(a.country, b.country)),
    });

    // The profile is the one named by the device's latest alert that has one.
    const early = { ...alertVariant(0), id: 'early', ts: fx.alert.ts, device: { ...fx.alert.device, profile: 'old-profile' } };
    const late = { ...alertVariant(0), id: 'late', ts: fx.alert.ts + 500, device: { ...fx.alert.device, profile: 'tplink-hs110' } };
    const later = { ...alertVariant(0), id: 'later', ts: fx.alert.ts + 900, device: { ...fx.alert.device, profile: null } };
    await store.ingest(SENSOR, [alertEv(late), alertEv(early), alertEv(later)], T0 + 3);
    expect((await store.getDevice(plug.mac!))?.profile).toBe('tplink-hs110');

    expect(await store.getDevice('192.168.1.50')).toMatchObject({ mac: null, ips: ['192.168.1.50'], profile: null, countries: [] });
    expect(await store.getDevice('00:00:00:00:00:00')).toBeNull();
    const keys = (await store.listDevices()).map((d) => d.mac ?? d.ips[0]);
    expect(keys).toEqual([...keys].sort(byteCmp));
    expect(keys).toHaveLength(3);
  });

  test('sensors: upserted per batch, sorted by name', async () => {
    await store.ingest({ name: 'zeta', version: '0.1.0', lag_s: null }, [flowEv(fx.flows[0])], T0);
    await store.ingest({ name: 'alpha', version: '0.1.0', lag_s: 3 }, [], T0 + 1);
    await store.ingest({ name: 'zeta', version: '0.2.0', lag_s: 0.5 }, [flowEv(fx.flows[1]), flowEv(fx.flows[2])], T0 + 2);
    expect(await store.listSensors()).toEqual([
      { name: 'alpha', version: '0.1.0', last_seen: T0 + 1, lag_s: 3, events: 0 },
      { name: 'zeta', version: '0.2.0', last_seen: T0 + 2, lag_s: 0.5, events: 3 },
    ]);
  });

  test('metrics aggregate alerts, open alerts, device traffic, destinations, devices, sensors and ingest', async () => {
    const plug = fx.devices.find((d) => d.mac === '50:c7:bf:00:c7:03')!;
    const macless: DeviceRecord = { ...plug, mac: null, ips: ['192.168.1.50'], vendor_country: null };
    const devices = [...fx.devices, macless];
    const flows = [
      ...fx.flows,
      flowVariant(1, { dst_ip: '203.0.113.7', dst_country: 'CN', src_bytes: 1000 }),
      flowVariant(2, { dst_ip: '203.0.113.7', dst_country: 'CN', src_bytes: 500 }),
      flowVariant(3, { dst_ip: '198.51.100.9', dst_country: 'DE', src_bytes: 70 }),
      flowVariant(4, { src_mac: null, src_ip: '192.168.1.50', dst_ip: '198.51.100.9', dst_country: 'DE', src_bytes: 40 }),
      flowVariant(5, { dst_ip: '10.10.10.1', dst_country: null, src_bytes: 99999 }),
    ];
    const alerts = Array.from({ length: 12 }, (_, i) => alertVariant(i));
    const evA = [...flows.map((f) => flowEv(f)), ...devices.map((d) => deviceEv(d)), ...alerts.slice(0, 6).map((a) => alertEv(a))];
    const evB = alerts.slice(6).map((a) => alertEv(a));
    await store.ingest(SENSOR, evA, T0);
    await store.ingest({ ...SENSOR, name: 'sensor-b' }, evB, T0 + 7);
    const closed = new Set([alerts[1].id, alerts[4].id, alerts[9].id]);
    for (const id of closed) await store.updateAlert(id, { status: id === alerts[4].id ? 'resolved' : 'acknowledged', note: null, who: 'ana' }, T0 + 8);

    const count = <T>(items: T[], keyOf: (t: T) => unknown[]): Map<string, { key: unknown[]; n: number }> => {
      const m = new Map<string, { key: unknown[]; n: number }>();
      for (const it of items) {
        const k = keyOf(it);
        const e = m.get(JSON.stringify(k)) ?? { key: k, n: 0 };
        e.n++;
        m.set(JSON.stringify(k), e);
      }
      return m;
    };
    const order = (...fields: string[]) => (a: Record<string, unknown>, b: Record<string, unknown>): number => {
      for (const f of fields) {
        const x = a[f], y = b[f];
        const c = typeof x === 'string' ? byteCmp(x, y as string) : Number(x) - Number(y);
        if (c) return c;
      }
      return 0;
    };
    const internet = flows.filter((f) => f.dst_country !== null);
    const traffic = new Map<string, { device: string; country: string; flows: number; bytes_out: number }>();
    for (const f of internet) {
      const device = f.src_mac ?? f.src_ip;
      const t = traffic.get(`${device} ${f.dst_country}`) ?? { device, country: f.dst_country!, flows: 0, bytes_out: 0 };
      t.flows++;
      t.bytes_out += f.src_bytes;
      traffic.set(`${device} ${f.dst_country}`, t);
    }
    const dests = new Map<string, Set<string>>();
    for (const f of internet) dests.set(f.src_mac ?? f.src_ip, (dests.get(f.src_mac ?? f.src_ip) ?? new Set()).add(f.dst_ip));
    const profiled = (d: DeviceRecord): boolean => alerts.some((a) => (a.device.mac ?? a.device.ip) === (d.mac ?? d.ips[0]) && a.device.profile !== null);

    const want: MetricsSnapshot = {
      alerts: [...count(alerts, (a) => [a.rule, a.severity, a.destination?.country ?? '']).values()]
        .map(({ key: [rule, severity, country], n }) => ({ rule: rule as string, severity: severity as string, country: country as string, count: n }))
        .sort(order('rule', 'severity', 'country')),
      openAlerts: [...count(alerts.filter((a) => !closed.has(a.id)), (a) => [a.rule, a.severity]).values()]
        .map(({ key: [rule, severity], n }) => ({ rule: rule as string, severity: severity as string, count: n }))
        .sort(order('rule', 'severity')),
      deviceTraffic: [...traffic.values()].sort(order('device', 'country')),
      deviceDestinations: [...dests].map(([device, s]) => ({ device, destinations: s.size })).sort(order('device')),
      devices: [...count(devices, (d) => [d.vendor_country ?? '', profiled(d)]).values()]
        .map(({ key: [vendor_country, p], n }) => ({ vendor_country: vendor_country as string, profiled: p as boolean, count: n }))
        .sort(order('vendor_country', 'profiled')),
      sensors: [
        { sensor: SENSOR.name, last_seen: T0 },
        { sensor: 'sensor-b', last_seen: T0 + 7 },
      ],
      ingest: [
        { sensor: SENSOR.name, kind: 'alert', count: 6 },
        { sensor: SENSOR.name, kind: 'device', count: devices.length },
        { sensor: SENSOR.name, kind: 'flow', count: flows.length },
        { sensor: 'sensor-b', kind: 'alert', count: 6 },
      ],
    };
    const got = await store.metrics();
    expect(got).toEqual(want);
    // Spot checks against the numbers worked out by hand, so the test is not only the code restated.
    expect(got.deviceTraffic).toContainEqual({ device: '50:c7:bf:00:c7:03', country: 'CN', flows: 2, bytes_out: 1500 });
    expect(got.deviceTraffic).toContainEqual({ device: '192.168.1.50', country: 'DE', flows: 1, bytes_out: 40 });
    expect(got.devices).toContainEqual({ vendor_country: 'CN', profiled: true, count: 1 });
    expect(got.devices).toContainEqual({ vendor_country: '', profiled: false, count: 1 });
    expect(got.deviceTraffic.some((t) => t.bytes_out >= 99999), 'LAN flows are not Internet traffic').toBe(false);
  });

  test('a batch failing half-way stores nothing of it, and can be resent once corrected', async () => {
    await store.ingest(SENSOR, [flowEv(fx.flows[0])], T0);
    const before = { metrics: await store.metrics(), sensors: await store.listSensors() };
    const good = alertVariant(5);
    const bad = { ...alertVariant(6), severity: 'urgent' } as unknown as AlertRecord;
    const batch = [flowEv(fx.flows[1]), alertEv(good), deviceEv(fx.devices[0]), alertEv(bad), flowEv(fx.flows[2])];

    const err = await store.ingest(SENSOR, batch, T0 + 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ code: 'BAD_EVENT', statusCode: 400 });
    expect((err as Error).message).toMatch(/^event 3 \(alert /);
    expect(await store.getAlert(good.id)).toBeNull();
    expect(await store.listDevices()).toEqual([]);
    expect(await store.listSensors()).toEqual(before.sensors);
    expect(await store.metrics()).toEqual(before.metrics);

    // Not valid base64: refused by the store's own check rather than by a constraint.
    const err2 = await store.ingest(SENSOR, [alertEv(good), { kind: 'evidence', key: key(), data: { alert_id: good.id, pcap_base64: 'not base64!' } }], T0 + 2).catch((e: unknown) => e);
    expect(err2).toMatchObject({ code: 'BAD_EVENT' });
    expect(await store.getAlert(good.id)).toBeNull();

    // The keys of the failed batch were not used up.
    batch[3] = alertEv({ ...alertVariant(6) }, batch[3].key);
    expect(await store.ingest(SENSOR, batch, T0 + 3)).toMatchObject({ accepted: batch.length, duplicates: 0 });
  });

  test('the same batch delivered twice at once is stored once', async () => {
    const events = [...fx.flows.map((f) => flowEv(f)), alertEv(fx.alert), ...Array.from({ length: 10 }, (_, i) => alertEv(alertVariant(i)))];
    const [a, b] = await Promise.all([store.ingest(SENSOR, events, T0), store.ingest(SENSOR, events, T0)]);
    expect(a.accepted + b.accepted).toBe(events.length);
    expect(a.duplicates + b.duplicates).toBe(events.length);
    expect(a.newAlerts.length + b.newAlerts.length).toBe(11);
    expect((await store.listSensors())[0].events).toBe(events.length);
  });

  test('every batch acknowledged before the collector process is killed with SIGKILL is stored', async () => {
    const u = await backend.fresh();
    const child = spawn(process.execPath, ['--input-type=module', '-e', CRASH_CHILD], {
      cwd: ROOT,
      env: { ...process.env, STORE_URL: u, ALERT: JSON.stringify(fx.alert) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let acked = -1;
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const l of lines) if (/^ack \d+$/.test(l)) acked = Number(l.slice(4));
        // Killed while it is busy ingesting the next batch.
        if (acked >= 40) child.kill('SIGKILL');
      });
      child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited ${code}: ${stderr}`))));
    });
    const s = await openStore(u);
    try {
      const ids = new Set((await s.listAlerts({ limit: 1000 })).items.map((a) => a.id));
      for (let i = 0; i <= acked; i++) expect(ids.has(`crash-${i}`), `acknowledged batch ${i}`).toBe(true);
      expect((await s.listSensors())[0].events).toBe(ids.size);
    } finally {
      await s.close();
    }
  }, 60_000);

  test('migrations are idempotent: reopening and migrating again keeps the data', async () => {
    await store.ingest(SENSOR, [alertEv(fx.alert)], T0);
    await store.migrate();
    const again = await openStore(url);
    try {
      await again.migrate();
      expect((await again.getAlert(fx.alert.id))?.id).toBe(fx.alert.id);
    } finally {
      await again.close();
    }
  });

  test('several collectors starting at once on a new database all come up', async () => {
    const shared = await backend.fresh();
    const stores = await Promise.all([openStore(shared), openStore(shared), openStore(shared)]);
    try {
      await stores[0].ingest(SENSOR, [alertEv(fx.alert)], T0);
      for (const s of stores) expect((await s.getAlert(fx.alert.id))?.id).toBe(fx.alert.id);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  test('the backend opener leaves migrating to the caller', async () => {
    const u = await backend.fresh();
    const s = backend.name === 'sqlite' ? await openSqlite(u.replace(/^sqlite:/, '')) : await openPostgres(u);
    try {
      await expect(s.listSensors()).rejects.toThrow();
      await s.migrate();
      expect(await s.listSensors()).toEqual([]);
    } finally {
      await s.close();
    }
  });

  test('openStore accepts each URL spelling', async () => {
    for (const u of await backend.urlForms()) {
      const s = await openStore(u);
      expect(s.kind, u).toBe(backend.name);
      await s.close();
    }
  });

  test('openStore refuses a URL it does not know, and names what it could not reach', async () => {
    for (const bad of ['mysql://root:hunter2@db/phonehome', 'phonehome', '', 'sqlite:', 'http://x/y.db']) {
      const e = await openStore(bad).catch((x: unknown) => x);
      expect(e, bad).toBeInstanceOf(StoreError);
      expect(e).toMatchObject({ code: 'BAD_URL' });
      expect((e as Error).message).toContain('database URL must be sqlite:PATH or postgres://..., got');
      expect((e as Error).message).not.toContain('hunter2');
    }
    const { url: down, named } = backend.unreachable();
    const e = await openStore(down).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StoreError);
    expect(e).toMatchObject({ code: 'UNREACHABLE' });
    expect((e as Error).message).toContain(named);
    expect((e as Error).message).not.toContain('secret');
  });
});

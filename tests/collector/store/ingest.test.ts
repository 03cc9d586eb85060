// Storing sensors' batches, on SQLite and on a real PostgreSQL server: each
// event once, a batch all or nothing, nothing acknowledged ever lost.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { beforeEach, describe, expect, test } from 'vitest';
import type { AlertRecord } from '../../../contract/types.js';
import { StoreError } from '../../../collector/errors.js';
import { openStore } from '../../../collector/store/open.js';
import type { Store } from '../../../collector/store/store.js';
import { alertEv, alertVariant, BACKENDS, COUNTRIES, deviceEv, flowEv, fx, key, SENSOR, T0, useFixture, useFreshStore } from './backends.js';

const ROOT = join(import.meta.dirname, '../../..');

useFixture();

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

describe.each(BACKENDS)('$name store: ingest', (backend) => {
  const fresh = useFreshStore(backend);
  let store: Store;
  beforeEach(() => {
    store = fresh();
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

  test('a callback watched for its operator or name is filed under the watched country, not where the address is hosted', async () => {
    const hosted = { ...fx.alert.destination!, country: 'SG' };
    const byOperator: AlertRecord = {
      ...fx.alert, id: 'geo-by-operator', rule: 'geo-callback', destination: hosted,
      evidence: { ...fx.alert.evidence, watch: { by: ['operator'], country: 'CN', operator: 'Alibaba Cloud', asn: 45102, name: null } },
    };
    const byAddress: AlertRecord = { ...fx.alert, id: 'geo-by-address', rule: 'geo-callback', destination: hosted, evidence: { ...fx.alert.evidence } };
    await store.ingest(SENSOR, [alertEv(byOperator), alertEv(byAddress)], T0);
    expect((await store.listAlerts({ country: 'CN', limit: 10 })).items.map((a) => a.id)).toEqual(['geo-by-operator']);
    expect((await store.listAlerts({ country: 'SG', limit: 10 })).items.map((a) => a.id)).toEqual(['geo-by-address']);
    // the record keeps where the address is hosted
    expect((await store.listAlerts({ country: 'CN', limit: 10 })).items[0].destination?.country).toBe('SG');
    const counts = (await store.metrics()).alerts.filter((a) => a.rule === 'geo-callback').map((a) => [a.country, a.count]).sort();
    expect(counts).toEqual([['CN', 1], ['SG', 1]]);
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

  test('a batch failing half-way stores nothing of it, and can be resent once corrected', async () => {
    await store.ingest(SENSOR, [flowEv(fx.flows[0])], T0);
    const before = { metrics: await store.metrics(), sensors: await store.listSensors() };
    const good = alertVariant(5);
    const bad = { ...alertVariant(6), severity: 'urgent' } as unknown as AlertRecord;
    const batch = [flowEv(fx.flows[1]), alertEv(good), deviceEv(fx.devices[0]), alertEv(bad), flowEv(fx.flows[2])];

    const err = await store.ingest(SENSOR, batch, T0 + 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ code: 'BAD_EVENT', httpStatus: 400 });
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
});

// Storing sensors' batches, on SQLite and on a real PostgreSQL server: each
// event once, each event checked on its own (a refused one kept as a dead
// letter, the rest of its batch stored), an alert id owned by the sensor that
// stored it first, nothing acknowledged ever lost.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { beforeEach, describe, expect, test } from 'vitest';
import type { AlertRecord } from '../../../contract/types.js';
import { openStore } from '../../../collector/store/open.js';
import type { Store } from '../../../collector/store/store.js';
import { alertEv, alertVariant, BACKENDS, COUNTRIES, deviceEv, evidenceEv, flowEv, fx, key, raw, SENSOR, T0, useFixture, useFreshStore } from './backends.js';

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
    expect(second).toEqual({ accepted: 0, duplicates: events.length, refused: [], newAlerts: [] });
    expect(await store.listDevices()).toEqual(before.devices);
    expect(await store.listAlerts({ limit: 100 })).toEqual(before.alerts);
    const after = await store.metrics();
    expect({ ...after, sensors: [] }).toEqual({ ...before.metrics, sensors: [] });
    // The sensor itself is still seen: last_seen moves, its event count does not.
    expect(await store.listSensors()).toEqual([{ ...SENSOR, spool_batches: null, spool_bytes: null, last_seen: T0 + 60, events: events.length }]);

    // Keys are per sensor: another sensor sending the same keys is not a duplicate.
    const other = await store.ingest({ ...SENSOR, name: 'second-sensor' }, [alertEv(alertVariant(2), events[events.length - 1].key)], T0 + 61);
    expect(other).toMatchObject({ accepted: 1, duplicates: 0, refused: [] });
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

  test('names that mean something inside an SQL array or list (NULL, braces, quotes, backslashes, commas, blanks) are stored as sent, and each record keeps its exact text', async () => {
    const base = fx.flows.find((x) => x.dst_country !== null)!;
    const names = ['NULL', 'null', '', ' padded ', '{a,b}', 'x"y\\z', '\\N', 'a,b', "it's", '(1, 2)', 'tab\there', '\u2028 😀'];
    const flows = names.map((n, i) => ({ ...base, uid: `Cname${i}`, server_name: n, user_agent: `lone \ud800 ${n}`, src_mac: `aa:bb:cc:00:00:${String(i).padStart(2, '0')}` }));
    const url = await backend.fresh();
    const s = await openStore(url);
    try {
      expect(await s.ingest(SENSOR, flows.map((f) => flowEv(f)), T0)).toMatchObject({ accepted: names.length, refused: [] });
      expect((await s.metrics()).deviceTraffic.map((t) => t.device).sort()).toEqual(flows.map((f) => f.src_mac).sort());
    } finally {
      await s.close();
    }
    const rows = await raw<{ uid: string; server_name: string | null; record: string }>(backend, url, `SELECT uid, server_name, record FROM flows ORDER BY uid`);
    expect(rows.map((r) => [r.uid, r.server_name])).toEqual(flows.map((f) => [f.uid, f.server_name]).sort());
    for (const r of rows) expect(JSON.parse(r.record)).toEqual(flows.find((f) => f.uid === r.uid));
  });

  test('a flow keeps its TLS fingerprints and certificate facts: the stored record is the flow as the sensor sent it', async () => {
    const tls = fx.flows.find((f) => f.ja4 !== null && f.tls_self_signed !== null)!;
    expect(tls, 'the fixture has a TLS 1.2 flow with a certificate').toBeDefined();
    const hostile = { ...tls, uid: 'Ctls', ja3: null, ja4: 't13d1516h2_\u0000', tls_self_signed: true, tls_cert_expired: null, tls_name_mismatch: true };
    const url = await backend.fresh();
    const s = await openStore(url);
    try {
      expect(await s.ingest(SENSOR, [flowEv(tls), flowEv(hostile)], T0)).toMatchObject({ accepted: 2 });
    } finally {
      await s.close();
    }
    const rows = await raw<{ uid: string; record: string }>(backend, url, `SELECT uid, record FROM flows ORDER BY uid`);
    const stored = new Map(rows.map((r) => [r.uid, JSON.parse(r.record)]));
    expect(stored.get(tls.uid)).toEqual(tls);
    expect(stored.get(tls.uid)).toMatchObject({ ja3: expect.stringMatching(/^[0-9a-f]{32}$/), ja4: expect.stringMatching(/^t1[0-3][di]\d{4}\w{2}_[0-9a-f]{12}_[0-9a-f]{12}$/) });
    expect(stored.get('Ctls')).toEqual(hostile);
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
    const r = await store.ingest(SENSOR, [alertEv(grown)], T0 + 20);
    expect(r).toMatchObject({ accepted: 1, duplicates: 0, refused: [], newAlerts: [] });
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

  test("another sensor's alert or evidence for an id is refused (not_owner), kept as a dead letter, and changes nothing", async () => {
    const a = fx.alert;
    const pcap = Buffer.from(fx.pcap.subarray(0, 200));
    await store.ingest(SENSOR, [alertEv(a), evidenceEv(a.id, pcap)], T0);
    const before = await store.getAlert(a.id);
    const other = { ...SENSOR, name: 'intruder' };
    const takeover: AlertRecord = { ...a, message: 'nothing to see', severity: 'info', evidence: { ...a.evidence, flows: 999 } };
    const k1 = key();
    const k2 = key();
    const r = await store.ingest(other, [alertEv(takeover, k1), evidenceEv(a.id, Buffer.from('forged'), k2), alertEv(alertVariant(3))], T0 + 5);
    expect(r.accepted).toBe(1);
    expect(r.refused).toEqual([
      { index: 0, key: k1, code: 'not_owner', reason: `data.id: alert ${JSON.stringify(a.id)} belongs to another sensor, which stored it first` },
      { index: 1, key: k2, code: 'not_owner', reason: `data.alert_id: alert ${JSON.stringify(a.id)} belongs to another sensor, which stored it first` },
    ]);
    expect(await store.getAlert(a.id)).toEqual(before);
    expect(await store.getEvidence(a.id)).toEqual(pcap);
    expect((await store.listDeadLetters({ limit: 10, sensor: 'intruder' })).items.map((d) => [d.key, d.code])).toEqual(
      expect.arrayContaining([[k1, 'not_owner'], [k2, 'not_owner']]),
    );

    // Evidence delivered before its alert claims the id too: another sensor cannot then file the alert.
    const early = alertVariant(9);
    expect((await store.ingest(SENSOR, [evidenceEv(early.id, pcap)], T0 + 6)).accepted).toBe(1);
    expect((await store.ingest(other, [alertEv(early)], T0 + 7)).refused.map((x) => x.code)).toEqual(['not_owner']);
    expect(await store.getAlert(early.id)).toBeNull();
    // The owner's own alert for it is stored.
    expect((await store.ingest(SENSOR, [alertEv(early)], T0 + 8)).newAlerts.map((x) => [x.id, x.sensor, x.has_pcap])).toEqual([[early.id, SENSOR.name, true]]);
  });

  test('a bad event is refused on its own: the rest of the batch is stored, and once corrected it is stored under the same key', async () => {
    const good = alertVariant(5);
    const bad = { ...alertVariant(6), severity: 'urgent' } as unknown as AlertRecord;
    const batch = [flowEv(fx.flows[1]), alertEv(good), deviceEv(fx.devices[0]), alertEv(bad), flowEv(fx.flows[2])];
    const r = await store.ingest(SENSOR, batch, T0 + 1);
    expect(r).toMatchObject({ accepted: 4, duplicates: 0 });
    expect(r.refused).toEqual([
      { index: 3, key: batch[3].key, code: 'invalid_event', reason: 'data.severity must be one of info, low, medium, high, critical, got "urgent"' },
    ]);
    expect((await store.getAlert(good.id))?.id).toBe(good.id);
    expect(await store.getAlert(bad.id)).toBeNull();
    expect(await store.listDevices()).toHaveLength(1);
    expect((await store.listSensors())[0].events).toBe(4);
    const [dead] = (await store.listDeadLetters({ limit: 10 })).items;
    expect(dead).toMatchObject({ sensor: SENSOR.name, key: batch[3].key, kind: 'alert', code: 'invalid_event', truncated: false, received_at: T0 + 1 });
    expect(JSON.parse(dead.event)).toEqual(batch[3]);

    // Not valid base64: refused by the store's own check, with the field.
    const pcapKey = key();
    const r2 = await store.ingest(SENSOR, [{ kind: 'evidence', key: pcapKey, data: { alert_id: good.id, pcap_base64: 'not base64!' } }], T0 + 2);
    expect(r2.refused).toEqual([{ index: 0, key: pcapKey, code: 'invalid_event', reason: 'data.pcap_base64 must be base64' }]);
    expect((await store.getAlert(good.id))?.has_pcap).toBe(false);

    // The refused event's key was not used up: the corrected resend is stored, the rest are duplicates.
    batch[3] = alertEv(alertVariant(6), batch[3].key);
    expect(await store.ingest(SENSOR, batch, T0 + 3)).toMatchObject({ accepted: 1, duplicates: 4, refused: [] });
    expect((await store.getAlert(alertVariant(6).id))?.severity).toBe(alertVariant(6).severity);
  });

  test('event data is checked strictly: a wrong type is refused with its path, never coerced', async () => {
    const f = fx.flows[0];
    const cases: [unknown, string, string][] = [
      [{ kind: 'flow', key: 'c1', data: { ...f, ts: true } }, 'invalid_event', 'data.ts must be number, got boolean'],
      [{ kind: 'flow', key: 'c2', data: { ...f, src_port: '443' } }, 'invalid_event', 'data.src_port must be integer, got string'],
      [{ kind: 'flow', key: 'c3', data: { ...f, uid: undefined } }, 'invalid_event', 'data.uid is required'],
      [{ kind: 'device', key: 'c4', data: { ...fx.devices[0], ips: ['10.0.0.1', 7] } }, 'invalid_event', 'data.ips[1] must be string, got number'],
      [{ kind: 'alert', key: 'c5', data: { ...fx.alert, evidence: { ...fx.alert.evidence, flows: 1e300 } } }, 'invalid_event', 'data.evidence.flows must be a non-negative integer'],
      [{ kind: 'flow', key: 'c6', data: f, extra: 1 }, 'invalid_event', 'the event has a field "extra" it may not have'],
      [{ kind: 'dns', key: 'c7', data: {} }, 'unknown_kind', 'kind "dns" is not one of flow, alert, device, evidence'],
      [{ key: 'c8', data: f }, 'invalid_event', 'kind must be one of flow, alert, device, evidence, got undefined'],
      [{ kind: 'flow', data: f }, 'invalid_event', 'key is required'],
      ['flow', 'invalid_event', 'the event must be an object with kind, key and data, got string'],
      [null, 'invalid_event', 'the event must be an object with kind, key and data, got null'],
    ];
    const r = await store.ingest(SENSOR, [...cases.map(([ev]) => ev), flowEv(f)], T0);
    expect(r.accepted).toBe(1);
    expect(r.refused).toEqual(cases.map(([ev, code, reason], index) => ({ index, key: (ev as { key?: string } | null)?.key ?? null, code, reason })));
    expect((await store.metrics()).ingest).toEqual([{ sensor: SENSOR.name, kind: 'flow', count: 1 }]);
  });

  test('JSON beyond the bounds is refused per event with its path; evidence pcaps are bounded by the body only', async () => {
    let nested: unknown = 1;
    for (let i = 0; i < 4108; i++) nested = { a: [nested] };
    const deep = { ...fx.devices[0], destinations: [nested] };
    const wide = { ...fx.devices[0], mac: 'aa:bb:cc:00:00:02', hostnames: ['h'.repeat(64 * 1024 + 1)] };
    const long = { ...fx.flows[0], uid: 'Clong', extra: Array(10_001).fill(0) };
    let deeper: unknown = 1;
    for (let i = 0; i < 100_000; i++) deeper = [deeper];
    const big = Buffer.alloc(200_000, 7);
    const r = await store.ingest(SENSOR, [deviceEv(deep, 'deep'), deviceEv(wide, 'wide'), flowEv(long as never, 'long'), { kind: 'device', key: 'deeper', data: deeper }, evidenceEv(fx.alert.id, big, 'pcap')], T0);
    expect(r.accepted).toBe(1);
    expect(r.refused.map(({ key, code }) => [key, code])).toEqual([['deep', 'too_deep'], ['wide', 'too_large'], ['long', 'too_large'], ['deeper', 'too_deep']]);
    expect(r.refused[0].reason).toBe(`data.destinations[0]${'.a[0]'.repeat(14)}.a nests deeper than 32 levels`);
    expect(r.refused[1].reason).toBe('data.hostnames[0] is 65537 characters long; at most 65536 are taken');
    expect(r.refused[2].reason).toBe('data.extra has 10001 items; at most 10000 are taken');
    expect(await store.getEvidence(fx.alert.id)).toEqual(big);
    expect(await store.listDevices()).toEqual([]);
    // The dead letter keeps the start of what came, however deep.
    const dead = (await store.listDeadLetters({ limit: 10 })).items.find((d) => d.key === 'deeper')!;
    expect(dead).toMatchObject({ truncated: true, kind: 'device', code: 'too_deep' });
    const start = '{"kind":"device","key":"deeper","data":';
    expect(dead.event).toBe(start + '['.repeat(16 * 1024 - start.length));
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

// What the store reads back, on SQLite and on a real PostgreSQL server:
// alerts filtered and paginated, devices with their countries, and the
// metrics snapshot, each checked against the records that went in.
import { beforeEach, describe, expect, test } from 'vitest';
import type { AlertRecord, DeviceRecord, StoredAlert } from '../../../contract/types.js';
import { StoreError } from '../../../collector/errors.js';
import type { AlertFilter, MetricsSnapshot, Store } from '../../../collector/store/store.js';
import { alertEv, alertVariant, BACKENDS, byteCmp, deviceEv, flowEv, flowVariant, fx, newestFirst, RULES, SENSOR, SEVERITIES, T0, useFixture, useFreshStore } from './backends.js';

useFixture();

describe.each(BACKENDS)('$name store: queries', (backend) => {
  const fresh = useFreshStore(backend);
  let store: Store;
  beforeEach(() => {
    store = fresh();
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
      expect(err).toMatchObject({ code: 'BAD_CURSOR', httpStatus: 400 });
    });
  });

  test('dead letters: newest first, filtered by sensor, code and time, paginated without gaps or repeats', async () => {
    const bad = (i: number) => ({ kind: 'flow', key: `bad-${i}`, data: { ...fx.flows[0], ts: 'yesterday' } });
    const unknown = (i: number) => ({ kind: 'dns', key: `dns-${i}`, data: {} });
    for (let t = 0; t < 5; t++) {
      await store.ingest(SENSOR, [bad(t), unknown(t), flowEv(fx.flows[t])], T0 + t);
      await store.ingest({ ...SENSOR, name: 'sensor-b' }, [bad(100 + t)], T0 + t);
    }
    const all = (await store.listDeadLetters({ limit: 1000 })).items;
    expect(all).toHaveLength(15);
    expect(all.map((d) => d.received_at)).toEqual([...all.map((d) => d.received_at)].sort((a, b) => b - a));
    expect(all.find((d) => d.key === 'bad-3')).toEqual({
      id: expect.any(String), sensor: SENSOR.name, key: 'bad-3', kind: 'flow', code: 'invalid_event',
      reason: 'data.ts must be number, got string', event: JSON.stringify(bad(3)), truncated: false, received_at: T0 + 3,
    });
    expect((await store.listDeadLetters({ limit: 100, sensor: 'sensor-b' })).items.map((d) => d.key)).toEqual([104, 103, 102, 101, 100].map((i) => `bad-${i}`));
    expect((await store.listDeadLetters({ limit: 100, code: 'unknown_kind', from: T0 + 1, to: T0 + 3 })).items.map((d) => d.key)).toEqual(['dns-3', 'dns-2', 'dns-1']);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listDeadLetters({ limit: 4, cursor });
      expect(page.items.length).toBeLessThanOrEqual(4);
      seen.push(...page.items.map((d) => d.id));
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(all.map((d) => d.id));
    await expect(store.listDeadLetters({ limit: 5, cursor: 'not-a-cursor' })).rejects.toMatchObject({ code: 'BAD_CURSOR' });
  });

  test('devices: each sensor keeps its own view of a device, which no other sensor overwrites; one device is the view seen last', async () => {
    const plug = fx.devices.find((d) => d.mac === '50:c7:bf:00:c7:03')!;
    const router = fx.devices.find((d) => d.mac !== plug.mac)!;
    const macless: DeviceRecord = { ...router, mac: null, ips: ['192.168.1.50'], vendor: null, vendor_country: null };
    await store.ingest(SENSOR, [...fx.devices.map((d) => deviceEv(d)), deviceEv(macless), ...fx.flows.map((f) => flowEv(f))], T0);

    const internet = fx.flows.filter((f) => f.src_mac === plug.mac && f.dst_country !== null);
    const countries = new Map<string, { country: string; flows: number; bytes_out: number }>();
    for (const f of internet) {
      const c = countries.get(f.dst_country!) ?? { country: f.dst_country!, flows: 0, bytes_out: 0 };
      c.flows++;
      c.bytes_out += f.src_bytes;
      countries.set(c.country, c);
    }
    expect(countries.size, 'the plug talks to more than one country').toBeGreaterThan(1);
    const byCountry = [...countries.values()].sort((a, b) => b.bytes_out - a.bytes_out || byteCmp(a.country, b.country));
    const ours = { ...plug, sensor: SENSOR.name, profile: null, countries: byCountry };

    // Another sensor reporting the same MAC, older or newer, adds its own view and leaves ours as it was.
    const older: DeviceRecord = { ...plug, last_seen: plug.last_seen - 100, hostnames: ['stale'] };
    await store.ingest({ ...SENSOR, name: 'other' }, [deviceEv(older)], T0 + 1);
    expect(await store.getDevice(plug.mac!)).toEqual(ours);
    const newer: DeviceRecord = { ...plug, last_seen: plug.last_seen + 100, flows: plug.flows + 1, hostnames: ['newer'] };
    await store.ingest({ ...SENSOR, name: 'other' }, [deviceEv(newer)], T0 + 2);
    expect(await store.getDevice(plug.mac!)).toEqual({ ...newer, sensor: 'other', profile: null, countries: byCountry });
    const views = (await store.listDevices()).filter((d) => d.mac === plug.mac);
    expect(views).toEqual([{ ...newer, sensor: 'other', profile: null, countries: byCountry }, ours].sort((a, b) => byteCmp(a.sensor, b.sensor)));
    // Within one sensor, a report older than the stored one changes nothing.
    await store.ingest(SENSOR, [deviceEv({ ...plug, last_seen: plug.last_seen - 1, hostnames: ['late'] })], T0 + 3);
    expect((await store.listDevices()).find((d) => d.mac === plug.mac && d.sensor === SENSOR.name)).toEqual(ours);
    // The device is counted once in the metrics, however many sensors see it.
    expect((await store.metrics()).devices.reduce((n, d) => n + d.count, 0)).toBe(fx.devices.length + 1);

    // The profile is the one named by the device's latest alert that has one.
    const early = { ...alertVariant(0), id: 'early', ts: fx.alert.ts, device: { ...fx.alert.device, profile: 'old-profile' } };
    const late = { ...alertVariant(0), id: 'late', ts: fx.alert.ts + 500, device: { ...fx.alert.device, profile: 'tplink-hs110' } };
    const later = { ...alertVariant(0), id: 'later', ts: fx.alert.ts + 900, device: { ...fx.alert.device, profile: null } };
    await store.ingest(SENSOR, [alertEv(late), alertEv(early), alertEv(later)], T0 + 3);
    expect((await store.getDevice(plug.mac!))?.profile).toBe('tplink-hs110');

    expect(await store.getDevice('192.168.1.50')).toMatchObject({ mac: null, ips: ['192.168.1.50'], profile: null, countries: [] });
    expect(await store.getDevice('00:00:00:00:00:00')).toBeNull();
    const keys = (await store.listDevices()).map((d) => `${d.mac ?? d.ips[0]} ${d.sensor}`);
    expect(keys).toEqual([...keys].sort(byteCmp));
    expect(keys).toHaveLength(fx.devices.length + 2);
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
});

// What analysts change and count in the alert queue, on SQLite and on a real
// PostgreSQL server: mutes hide alerts while in force and never delete them,
// bulk changes write one audit entry per alert, counts agree with the
// alerts that went in.
import { beforeEach, describe, expect, test } from 'vitest';
import type { AlertRecord } from '../../../contract/types.js';
import type { Store } from '../../../collector/store/store.js';
import { alertEv, alertVariant, BACKENDS, SENSOR, T0, useFixture, useFreshStore } from './backends.js';

useFixture();

const BY = { actor: 'soc-token', role: 'analyst', action: 'test' };
const NOW = T0 + 1000;

/** 24 alerts, a third of them to another destination address and name. */
function alerts(): AlertRecord[] {
  return Array.from({ length: 24 }, (_, i) => {
    const a = alertVariant(i);
    if (i % 3 !== 1 || a.destination === null) return a;
    return { ...a, destination: { ...a.destination, ip: '203.0.113.77', name: 'telemetry.example.cn' } };
  });
}

describe.each(BACKENDS)('$name store: triage', (backend) => {
  const fresh = useFreshStore(backend);
  let store: Store;
  let all: AlertRecord[];
  const ids = (xs: { id: string }[]): string[] => xs.map((x) => x.id).sort();

  beforeEach(async () => {
    store = fresh();
    all = alerts();
    expect((await store.ingest(SENSOR, all.map((a) => alertEv(a)), T0)).refused).toEqual([]);
  });

  test('a destination mute hides its alerts, by address or by name, only while in force; they stay stored', async () => {
    const covered = all.filter((a) => a.destination?.ip === '203.0.113.77');
    expect(covered.length).toBeGreaterThan(2);
    const byName = await store.createMute({ rule: null, device: null, destination: 'telemetry.example.cn', reason: 'vendor telemetry', expires_at: NOW + 3600 }, 'ana', NOW, BY);
    const hidden = await store.listAlerts({ muted: 'only', now: NOW + 1, limit: 1000 });
    expect(ids(hidden.items)).toEqual(ids(covered));
    const shown = await store.listAlerts({ muted: 'hide', now: NOW + 1, limit: 1000 });
    expect(ids(shown.items)).toEqual(ids(all.filter((a) => !covered.includes(a))));
    expect((await store.listAlerts({ limit: 1000 })).items).toHaveLength(all.length);
    // Expired: nothing is muted any more.
    expect((await store.listAlerts({ muted: 'only', now: NOW + 3600, limit: 1000 })).items).toEqual([]);
    expect((await store.listMutes(NOW + 1)).map((m) => m.id)).toEqual([byName.id]);
    expect(await store.listMutes(NOW + 3601)).toEqual([]);
    // Lifted: nothing is muted, and the lift is recorded.
    const lifted = await store.liftMute(byName.id, 'bob', NOW + 5, BY);
    expect(lifted).toMatchObject({ lifted_by: 'bob', lifted_at: NOW + 5 });
    expect(await store.liftMute(byName.id, 'bob', NOW + 6, BY), 'a lifted mute cannot be lifted again').toBeNull();
    expect((await store.mutedAlerts(all.map((a) => a.id), NOW + 10)).size).toBe(0);
    const audit = await store.listAudit({ target: byName.id, limit: 10 });
    expect(audit.items.map((e) => Object.keys(e.detail)[0])).toEqual(['lifted', 'mute']);
  });

  test('a (rule, device, destination) mute covers exactly the alerts matching all three', async () => {
    const t = all[1];
    const m = { rule: t.rule, device: t.device.mac ?? t.device.ip, destination: t.destination!.ip };
    await store.createMute({ ...m, reason: 'known', expires_at: NOW + 60 }, 'ana', NOW, BY);
    const want = all.filter((a) => a.rule === m.rule && (a.device.mac ?? a.device.ip) === m.device && a.destination?.ip === m.destination);
    expect(want.length).toBeGreaterThan(0);
    expect(want.length).toBeLessThan(all.filter((a) => a.destination?.ip === m.destination).length);
    expect([...(await store.mutedAlerts(all.map((a) => a.id), NOW))].sort()).toEqual(ids(want));
  });

  test('groups count the alerts by rule, severity and device, muted ones apart', async () => {
    await store.createMute({ rule: null, device: null, destination: '203.0.113.77', reason: 'r', expires_at: NOW + 60 }, 'ana', NOW, BY);
    for (const by of ['rule', 'severity', 'device'] as const) {
      const keyOf = (a: AlertRecord): string => (by === 'device' ? (a.device.mac ?? a.device.ip) : a[by]);
      const groups = await store.groupAlerts({ now: NOW, limit: 1 }, by);
      expect(groups.reduce((n, g) => n + g.count, 0)).toBe(all.length);
      expect(groups.map((g) => g.key).sort()).toEqual([...new Set(all.map(keyOf))].sort());
      for (const g of groups) {
        const inGroup = all.filter((a) => keyOf(a) === g.key);
        expect(g.count, `${by} ${g.key}`).toBe(inGroup.length);
        expect(g.muted, `${by} ${g.key}`).toBe(inGroup.filter((a) => a.destination?.ip === '203.0.113.77').length);
        expect(g.newest).toBe(Math.max(...inGroup.map((a) => a.ts)));
      }
    }
  });

  test('a bulk change sets every alert named, skips unknown ids, and writes one audit entry per alert changed', async () => {
    const pick = [all[0].id, all[5].id, all[9].id, 'no-such-alert', all[5].id];
    const changed = await store.changeAlerts(pick, { status: 'acknowledged', note: 'NTP, known', who: 'ana' }, NOW, BY);
    expect(ids(changed)).toEqual([all[0].id, all[5].id, all[9].id].sort());
    for (const a of changed) expect(a.state).toEqual({ status: 'acknowledged', note: 'NTP, known', updated_by: 'ana', updated_at: NOW });
    const audit = await store.listAudit({ limit: 100 });
    expect(audit.items.map((e) => e.target).sort()).toEqual(ids(changed));
    expect(audit.items[0].detail).toMatchObject({ set: { status: 'acknowledged', note: 'NTP, known', who: 'ana' }, was: { status: 'open' } });
    expect((await store.listAlerts({ status: 'acknowledged', limit: 100 })).items).toHaveLength(3);
  });

  test('alerts filter by sensor and by destination name or address', async () => {
    await store.ingest({ ...SENSOR, name: 'sensor-b' }, [alertEv({ ...all[0], id: 'from-b' })], T0);
    expect(ids((await store.listAlerts({ sensor: 'sensor-b', limit: 100 })).items)).toEqual(['from-b']);
    const named = all.filter((a) => a.destination?.name === 'telemetry.example.cn');
    expect(ids((await store.listAlerts({ destination: 'telemetry.example.cn', limit: 100 })).items)).toEqual(ids(named));
    expect(ids((await store.listAlerts({ destination: '203.0.113.77', limit: 100 })).items)).toEqual(ids(named));
  });
});

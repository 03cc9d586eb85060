// The one migration runner, on SQLite and on a real PostgreSQL server: safe
// on every start and from several collectors at once, and it refuses a
// database a newer collector has migrated.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { StoreError } from '../../../collector/errors.js';
import { openStore } from '../../../collector/store/open.js';
import { openPostgres } from '../../../collector/store/postgres.js';
import { LATEST_VERSION } from '../../../collector/store/schema.js';
import { openSqlite } from '../../../collector/store/sqlite.js';
import type { Store } from '../../../collector/store/store.js';
import type { AlertRecord } from '../../../contract/types.js';
import { alertEv, BACKENDS, databaseAtVersion, fx, raw, SENSOR, T0, useFixture } from './backends.js';

/** A string as an SQL literal. */
const sq = (v: string) => `'${v.replace(/'/g, "''")}'`;

useFixture();

describe.each(BACKENDS)('$name migrations', (backend) => {
  const atVersion = (n: number) => databaseAtVersion(backend, n);

  /** An alert row with only the columns of version 1, as the first collectors wrote it (later columns left NULL). */
  async function insertOldAlert(u: string, a: AlertRecord): Promise<void> {
    await raw(backend, u, `INSERT INTO alerts (id, ts, rule, severity, device_mac, device_ip, device_key, device_profile, dst_country, evidence_flows, record, sensor, received_at)
      VALUES (${sq(a.id)}, ${a.ts}, ${sq(a.rule)}, ${sq(a.severity)}, NULL, ${sq(a.device.ip)}, ${sq(a.device.ip)}, NULL, NULL, ${a.evidence.flows}, ${sq(JSON.stringify(a))}, 'old-sensor', ${T0})`);
  }

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

  test('each migration is recorded once, with its name', async () => {
    await store.migrate();
    const rows = await raw<{ version: number; name: string }>(backend, url, 'SELECT version, name FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => ({ version: Number(r.version), name: r.name }))).toEqual([
      { version: 1, name: 'initial schema' },
      { version: 2, name: 'dead letters, alert owners, devices per sensor' },
      { version: 3, name: 'audit log and retention' },
      { version: 4, name: 'mutes, alert destinations, flow lookups' },
      { version: 5, name: 'forwarder outbox' },
      { version: 6, name: 'alert operators, sensor spool depth' },
      { version: 7, name: 'flows partitioned by day (PostgreSQL)' },
    ]);
    expect(LATEST_VERSION).toBe(7);
  });

  test('migration 2 on a database of version 1: alerts keep their first sensor as owner, devices their sensor, and a record nested too deep reads back', async () => {
    const u = await atVersion(1);
    // Written as a version 1 collector did, with no bound on nesting.
    const plug = fx.devices[0];
    // (written out directly: JSON.stringify itself would overflow the stack)
    const deep = JSON.stringify({ ...plug, destinations: [] }).replace('"destinations":[]', `"destinations":[${'{"a":['.repeat(5000)}1${']}'.repeat(5000)}]`);
    const a = fx.alert;
    await raw(backend, u, `INSERT INTO devices (key, mac, last_seen, vendor_country, record, sensor, updated_at)
      VALUES (${sq(plug.mac!)}, ${sq(plug.mac!)}, ${plug.last_seen}, NULL, ${sq(deep)}, 'old-sensor', ${T0})`);
    await insertOldAlert(u, a);

    const s = await openStore(u);
    try {
      const [d] = await s.listDevices();
      expect(d.sensor).toBe('old-sensor');
      // Served as JSON without overflowing the stack: what lies deeper than the bound reads as null.
      const text = JSON.stringify(d);
      expect(text).toContain(`"destinations":[${'{"a":['.repeat(15)}null]}]}`);
      const r = await s.ingest({ ...SENSOR, name: 'new-sensor' }, [alertEv({ ...a, severity: 'critical' })], T0 + 1);
      expect(r.refused.map((x) => x.code)).toEqual(['not_owner']);
      expect((await s.getAlert(a.id))?.severity).toBe(a.severity);
      expect((await s.ingest({ ...SENSOR, name: 'old-sensor' }, [alertEv({ ...a, severity: 'critical' })], T0 + 2)).refused).toEqual([]);
      expect((await s.getAlert(a.id))?.severity).toBe('critical');
    } finally {
      await s.close();
    }
  });

  test('migration 4 on a database of version 3: alerts stored before it get their destination, and a mute of it covers them', async () => {
    const u = await atVersion(3);
    const a = fx.alert;
    expect(a.destination?.ip, 'the fixture alert has a destination').toBeTruthy();
    await insertOldAlert(u, a);
    const s = await openStore(u);
    try {
      const [row] = await raw<{ dst_ip: string; dst_name: string | null }>(backend, u, `SELECT dst_ip, dst_name FROM alerts WHERE id = ${sq(a.id)}`);
      expect(row).toEqual({ dst_ip: a.destination!.ip, dst_name: a.destination!.name });
      const by = { actor: 'ana', role: 'analyst', action: 'test' };
      await s.createMute({ rule: null, device: null, destination: a.destination!.ip, reason: 'vendor NTP', expires_at: T0 + 3600 }, 'ana', T0, by);
      expect([...(await s.mutedAlerts([a.id], T0 + 1))]).toEqual([a.id]);
    } finally {
      await s.close();
    }
  });

  test('migration 6 on a database of version 5: alerts stored before it get their operator, and the operator filter finds them', async () => {
    const u = await atVersion(5);
    const a = { ...fx.alert, destination: { ...fx.alert.destination!, asn: 16509, as_org: "Amazon.com, Inc. 'x'" } };
    await insertOldAlert(u, a);
    // as a version 5 collector wrote it: with its destination columns (migration 4)
    await raw(backend, u, `UPDATE alerts SET dst_ip = ${sq(a.destination.ip!)} WHERE id = ${sq(a.id)}`);
    const s = await openStore(u);
    try {
      const ids = async (operator: string) => (await s.listAlerts({ operator, limit: 10 })).items.map((x) => x.id);
      expect(await ids("Amazon.com, Inc. 'x'")).toEqual([a.id]);
      expect(await ids('AS16509')).toEqual([a.id]);
      expect(await ids('16509')).toEqual([a.id]);
      expect(await ids('Amazon')).toEqual([]);
      expect(await ids('AS1')).toEqual([]);
    } finally {
      await s.close();
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

  test('a database a newer collector migrated is refused, naming it and both versions, and left as it was', async () => {
    await store.ingest(SENSOR, [alertEv(fx.alert)], T0);
    await raw(backend, url, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (${LATEST_VERSION + 1}, 'from the future', 0)`);
    const e = await openStore(url).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StoreError);
    expect(e).toMatchObject({ code: 'MIGRATION', exitCode: 2 });
    const u = new URL(url);
    const named = backend.name === 'sqlite' ? url.replace(/^sqlite:/, '') : `${u.hostname}:${u.port}${u.pathname}`;
    expect((e as Error).message).toContain(`database ${named} has schema version ${LATEST_VERSION + 1}, newer than this collector knows (${LATEST_VERSION}); upgrade the collector`);
    expect((await store.getAlert(fx.alert.id))?.id).toBe(fx.alert.id);
  });

  test('a migration that fails is a MIGRATION error naming the database, and leaves none of its tables', async () => {
    const u = await backend.fresh();
    // A table of that name already there (not made by phonehome) makes the migration fail at its last statement.
    await raw(backend, u, 'CREATE TABLE devices (x INTEGER)');
    const e = await openStore(u).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StoreError);
    expect(e).toMatchObject({ code: 'MIGRATION', exitCode: 2 });
    expect((e as Error).message).toMatch(backend.name === 'sqlite' ? /^cannot migrate SQLite database \/.+\.db: / : /^cannot migrate PostgreSQL database 127\.0\.0\.1:\d+\/\w+: /);
    await expect(raw(backend, u, 'SELECT id FROM alerts')).rejects.toThrow(/alerts/);
  });
});

// The one migration runner, on SQLite and on a real PostgreSQL server: safe
// on every start and from several collectors at once, and it refuses a
// database a newer collector has migrated.
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { StoreError } from '../../../collector/errors.js';
import { openStore } from '../../../collector/store/open.js';
import { openPostgres } from '../../../collector/store/postgres.js';
import { LATEST_VERSION } from '../../../collector/store/schema.js';
import { openSqlite } from '../../../collector/store/sqlite.js';
import type { Store } from '../../../collector/store/store.js';
import { alertEv, BACKENDS, type Backend, fx, SENSOR, T0, useFixture } from './backends.js';

useFixture();

/** Runs SQL on the database behind the store's back, as an operator or another collector version would. */
async function raw<T>(backend: Backend, url: string, sql: string): Promise<T[]> {
  if (backend.name === 'sqlite') {
    const db = new Database(url.replace(/^sqlite:/, ''));
    try {
      const s = db.prepare(sql);
      return s.reader ? (s.all() as T[]) : (s.run(), []);
    } finally {
      db.close();
    }
  }
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows as T[];
  } finally {
    await c.end();
  }
}

describe.each(BACKENDS)('$name migrations', (backend) => {
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
    expect(rows.map((r) => ({ version: Number(r.version), name: r.name }))).toEqual([{ version: 1, name: 'initial schema' }]);
    expect(LATEST_VERSION).toBe(1);
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

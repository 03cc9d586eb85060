// The PostgreSQL driver against a real server: messages that never carry the
// password, and reads that see committed batches only.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { describePgUrl, openPostgres } from '../../../collector/store/postgres.js';
import type { Store } from '../../../collector/store/store.js';
import { startPostgres, type TestPostgres } from '../../helpers/postgres.js';
import { alertEv, alertVariant, SENSOR, T0, useFixture } from './backends.js';

useFixture();

test('describePgUrl names host, port and database, never the credentials', () => {
  expect(describePgUrl('postgres://phonehome:s3cret@db.example:6543/phonehome')).toBe('db.example:6543/phonehome');
  expect(describePgUrl('postgresql://u@localhost/x')).toBe('localhost:5432/x');
  expect(describePgUrl('postgres:///phonehome?host=/run/postgresql')).toBe('/run/postgresql:5432/phonehome');
  expect(describePgUrl('not a url s3cret')).toBe('the configured server');
});

describe('PostgreSQL driver', () => {
  let server: TestPostgres;
  let store: Store;
  beforeAll(async () => {
    server = await startPostgres();
  }, 120_000);
  afterAll(() => server?.stop(), 60_000);
  beforeEach(async () => {
    store = await openPostgres(await server.createDatabase());
    await store.migrate();
  });
  afterEach(async () => {
    await store.close();
  });

  test('a read while a batch is being stored sees none of it or all of it', async () => {
    const alerts = Array.from({ length: 300 }, (_, i) => alertVariant(i));
    const pending = store.ingest(SENSOR, alerts.map((a) => alertEv(a)), T0);
    const seen: number[] = [];
    for (let i = 0; i < 20; i++) seen.push((await store.listAlerts({ limit: 1000 })).items.length);
    expect((await pending).accepted).toBe(300);
    seen.push((await store.listAlerts({ limit: 1000 })).items.length);
    for (const count of seen) expect([0, 300]).toContain(count);
    expect(seen.at(-1)).toBe(300);
  });

  test('a server that refuses connections is UNREACHABLE, naming it without the password', async () => {
    const e = await openPostgres('postgres://phonehome:hunter2@127.0.0.1:1/phonehome').catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'UNREACHABLE', exitCode: 2 });
    expect((e as Error).message).toMatch(/^cannot connect to PostgreSQL at 127\.0\.0\.1:1\/phonehome: /);
    expect((e as Error).message).not.toContain('hunter2');
  });
});

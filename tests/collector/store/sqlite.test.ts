// The SQLite driver: a file that survives a power cut once acknowledged, and
// one connection shared so that no reader sees a batch half-stored.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { openSqlite } from '../../../collector/store/sqlite.js';
import type { Store } from '../../../collector/store/store.js';
import { alertEv, alertVariant, SENSOR, T0, tmp, useFixture } from './backends.js';

useFixture();

let n = 0;
const freshPath = (): string => join(tmp, `driver-${++n}.db`);

describe('SQLite driver', () => {
  let store: Store;
  let path: string;
  beforeEach(async () => {
    path = freshPath();
    store = await openSqlite(path);
    await store.migrate();
  });
  afterEach(async () => {
    await store.close();
  });

  test('the database file is in WAL mode, so readers in other processes do not block ingest', () => {
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      db.close();
    }
  });

  test('a read started while a batch is being stored waits for it: it sees all of the batch', async () => {
    const alerts = Array.from({ length: 300 }, (_, i) => alertVariant(i));
    const [stored, listed] = await Promise.all([store.ingest(SENSOR, alerts.map((a) => alertEv(a)), T0), store.listAlerts({ limit: 1000 })]);
    expect(stored.accepted).toBe(300);
    expect(listed.items).toHaveLength(300);
  });

  test('a file that cannot be created is UNREACHABLE, naming the path', async () => {
    const bad = join(tmp, 'no-such-dir', 'x.db');
    await expect(openSqlite(bad)).rejects.toMatchObject({ code: 'UNREACHABLE', message: expect.stringContaining(`cannot open SQLite database ${bad}: `) });
  });

  test('after close every call fails, and closing twice is harmless', async () => {
    await store.close();
    await expect(store.ping()).rejects.toThrow();
    await expect(store.close()).resolves.toBeUndefined();
  });
});

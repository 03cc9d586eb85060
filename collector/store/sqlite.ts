import Database from 'better-sqlite3';
import { StoreError } from '../errors.js';
import type { Driver, Queryable } from './driver.js';
import { createSqlStore } from './sql-store.js';
import type { Store } from './store.js';

/** Serialises work on the one connection: an ingest awaiting between statements must not let a reader see its open transaction. */
class Lock {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.tail.then(fn);
    this.tail = p.catch(() => undefined);
    return p;
  }
}

/**
 * Migrations of every connection in this process, one at a time. SQLite waits
 * for another connection's write lock by blocking the thread, so a second
 * connection entering BEGIN IMMEDIATE while the first awaits between its
 * statements would stall both until busy_timeout.
 */
const migrating = new Lock();

function bind(v: unknown): unknown {
  if (v === undefined) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return v;
}

/**
 * Opens (creating if needed) a SQLite database file. Does not migrate: call
 * migrate(), or use openStore which does.
 */
export async function openSqlite(path: string): Promise<Store> {
  let db: Database.Database;
  try {
    db = new Database(path);
    // New files free pages as retention removes rows (no effect on an existing file: retention converts it once)
    db.pragma('auto_vacuum = INCREMENTAL');
    db.pragma('busy_timeout = 5000');
    db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode already survives a killed process; FULL also keeps
    // what was acknowledged to a sensor across a power cut or kernel panic,
    // which sensors cannot detect and would not resend. One fsync per batch.
    db.pragma('synchronous = FULL');
  } catch (e) {
    throw new StoreError('UNREACHABLE', `cannot open SQLite database ${path}: ${(e as Error).message}`);
  }
  const lock = new Lock();
  const statements = new Map<string, Database.Statement>();
  const prepare = (sql: string): Database.Statement => {
    let s = statements.get(sql);
    if (!s) statements.set(sql, (s = db.prepare(sql)));
    return s;
  };
  const q: Queryable = {
    all: async <T>(sql: string, params: unknown[] = []) => prepare(sql).all(...params.map(bind)) as T[],
    run: async (sql, params = []) => prepare(sql).run(...params.map(bind)).changes,
  };
  const tx = <T>(fn: (q: Queryable) => Promise<T>): Promise<T> =>
    lock.run(async () => {
      // IMMEDIATE takes the write lock up front, so another process cannot make us fail half-way with SQLITE_BUSY.
      db.exec('BEGIN IMMEDIATE');
      try {
        const r = await fn(q);
        db.exec('COMMIT');
        return r;
      } catch (e) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw e;
      }
    });

  const driver: Driver = {
    kind: 'sqlite',
    name: path,
    read: (fn) => lock.run(() => fn(q)),
    tx,
    // The write lock of one transaction keeps other collectors out and makes every step atomic.
    exclusive: (fn) => migrating.run(() => tx((q) => fn(q, (apply) => apply()))),
    isDataError: (e) => typeof (e as { code?: unknown })?.code === 'string' && /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG)/.test((e as { code: string }).code),

    ping: () =>
      lock.run(async () => {
        db.prepare('SELECT 1').get();
      }),

    close: () =>
      lock.run(async () => {
        if (db.open) db.close();
      }),
  };
  return createSqlStore(driver);
}

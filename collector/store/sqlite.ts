import Database from 'better-sqlite3';
import { LATEST_VERSION, MIGRATIONS, SCHEMA_MIGRATIONS_DDL, migrationStatements } from './schema.js';
import { createSqlStore, type Driver, type Queryable } from './sql-store.js';
import { type Store, StoreError } from './store.js';

/** Serialises work on the one connection: an ingest awaiting between statements must not let a reader see its open transaction. */
class Lock {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.tail.then(fn);
    this.tail = p.catch(() => undefined);
    return p;
  }
}

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
    read: (fn) => lock.run(() => fn(q)),
    tx,
    isDataError: (e) => typeof (e as { code?: unknown })?.code === 'string' && /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG)/.test((e as { code: string }).code),

    migrate: () =>
      lock.run(async () => {
        try {
          db.exec('BEGIN IMMEDIATE');
          try {
            db.exec(SCHEMA_MIGRATIONS_DDL('sqlite'));
            const done = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
            const newest = Math.max(0, ...done);
            if (newest > LATEST_VERSION) {
              throw new StoreError('MIGRATION', `database ${path} has schema version ${newest}, newer than this collector knows (${LATEST_VERSION}); upgrade the collector`);
            }
            for (const m of MIGRATIONS) {
              if (done.has(m.version)) continue;
              for (const sql of migrationStatements(m, 'sqlite')) db.exec(sql);
              db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now() / 1000);
            }
            db.exec('COMMIT');
          } catch (e) {
            if (db.inTransaction) db.exec('ROLLBACK');
            throw e;
          }
        } catch (e) {
          if (e instanceof StoreError) throw e;
          throw new StoreError('MIGRATION', `cannot migrate SQLite database ${path}: ${(e as Error).message}`);
        }
      }),

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

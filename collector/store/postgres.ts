import pg from 'pg';
import { StoreError } from '../errors.js';
import type { MigrationStep, Queryable } from './driver.js';
import { createSqlStore } from './sql-store.js';
import type { Store } from './store.js';

// Any stable 64-bit number; every collector must use the same one.
const MIGRATION_LOCK = BigInt.asIntN(64, 0x70686f6e65686f6dn).toString(); // "phonehom"

// COUNT(*) and BIGINT columns arrive as strings by default. Counters here stay
// far below 2^53, and SQLite hands out numbers, so both backends agree.
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 || oid === 1700 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

const placeholders = new Map<string, string>();
/** The shared SQL uses `?`; PostgreSQL wants $1, $2, ... (no `?` appears in our SQL otherwise). */
function toPg(sql: string): string {
  let out = placeholders.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/\?/g, () => `$${++n}`);
    placeholders.set(sql, out);
  }
  return out;
}

function queryable(c: pg.Pool | pg.PoolClient): Queryable {
  return {
    all: async <T>(sql: string, params: unknown[] = []) => (await c.query(toPg(sql), params)).rows as T[],
    run: async (sql, params = []) => (await c.query(toPg(sql), params)).rowCount ?? 0,
  };
}

/** host:port/database of a URL, without credentials, for messages. */
export function describePgUrl(url: string): string {
  try {
    const u = new URL(url);
    const host = u.searchParams.get('host') ?? (u.hostname || 'localhost');
    return `${host}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return 'the configured server';
  }
}

const RETRYABLE = new Set(['40001', '40P01']); // serialization failure, deadlock

/** Runs fn in a transaction on a connection of its own, again when PostgreSQL asks for a retry. */
async function transaction<T>(pool: pg.Pool, fn: (q: Queryable) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const c = await pool.connect();
    let broken: Error | undefined;
    try {
      await c.query('BEGIN');
      const r = await fn(queryable(c));
      await c.query('COMMIT');
      return r;
    } catch (e) {
      try {
        await c.query('ROLLBACK');
      } catch (re) {
        broken = re as Error;
      }
      // Concurrent batches from several sensors can lock device_traffic rows in different orders.
      if (RETRYABLE.has((e as { code?: string }).code ?? '') && attempt < 5) continue;
      throw e;
    } finally {
      c.release(broken);
    }
  }
}

/** One migration in its own transaction on the migrating connection. */
function step(c: pg.PoolClient): MigrationStep {
  return async (apply) => {
    await c.query('BEGIN');
    try {
      await apply();
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK');
      throw e;
    }
  };
}

/** Runs fn on one connection holding the advisory lock every collector migrates under. */
async function exclusive<T>(pool: pg.Pool, where: string, fn: (q: Queryable, step: MigrationStep) => Promise<T>): Promise<T> {
  let c: pg.PoolClient;
  try {
    c = await pool.connect();
  } catch (e) {
    throw new StoreError('UNREACHABLE', `cannot connect to PostgreSQL at ${where}: ${(e as Error).message}`);
  }
  let broken: Error | undefined;
  try {
    // Several collectors may start together; the second waits here and then finds nothing to do.
    await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      return await fn(queryable(c), step(c));
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } catch (e) {
    broken = e as Error;
    throw e;
  } finally {
    // A connection that failed mid-migration may still hold the lock or a transaction: discard it.
    c.release(broken);
  }
}

/**
 * Connects to PostgreSQL and checks the connection. Does not migrate: call
 * migrate(), or use openStore which does.
 */
export async function openPostgres(url: string): Promise<Store> {
  const where = describePgUrl(url);
  const pool = new pg.Pool({ connectionString: url, types, connectionTimeoutMillis: 10_000, max: 10 });
  // An idle connection dropped by the server emits here; without a listener it would crash the process.
  // The next query reconnects or reports the failure.
  pool.on('error', () => undefined);
  try {
    await pool.query('SELECT 1');
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw new StoreError('UNREACHABLE', `cannot connect to PostgreSQL at ${where}: ${(e as Error).message}`);
  }
  const shared = queryable(pool);
  return createSqlStore({
    kind: 'postgres',
    name: where,
    read: (fn) => fn(shared),
    tx: (fn) => transaction(pool, fn),
    exclusive: (fn) => exclusive(pool, where, fn),
    // Class 22 (data exception: bad number, string too long) and 23 (integrity: NOT NULL, CHECK).
    isDataError: (e) => /^2[23]/.test(String((e as { code?: unknown })?.code ?? '')),
    ping: async () => {
      await pool.query('SELECT 1');
    },
    close: () => pool.end(),
  });
}

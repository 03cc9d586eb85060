// The one migration runner: SQLite and PostgreSQL differ only in how the
// driver keeps other collectors out (Driver.exclusive) and in the column
// types the schema is rendered with.
import { StoreError } from '../errors.js';
import type { Driver, MigrationStep, Queryable } from './driver.js';
import { LATEST_VERSION, MIGRATIONS, SCHEMA_MIGRATIONS_DDL, migrationStatements } from './schema.js';

const PRODUCT = { sqlite: 'SQLite', postgres: 'PostgreSQL' } as const;

/**
 * Creates or upgrades the schema. Safe on every start and from several
 * collectors at once: the second finds nothing to do. Refuses a database a
 * newer collector has migrated.
 */
export async function migrate(db: Driver): Promise<void> {
  try {
    await db.exclusive((q, step) => applyPending(db, q, step));
  } catch (e) {
    if (e instanceof StoreError) throw e;
    throw new StoreError('MIGRATION', `cannot migrate ${PRODUCT[db.kind]} database ${db.name}: ${(e as Error).message}`);
  }
}

async function applyPending(db: Driver, q: Queryable, step: MigrationStep): Promise<void> {
  await q.run(SCHEMA_MIGRATIONS_DDL(db.kind));
  const done = new Set((await q.all<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => r.version));
  const newest = Math.max(0, ...done);
  if (newest > LATEST_VERSION) {
    throw new StoreError('MIGRATION', `database ${db.name} has schema version ${newest}, newer than this collector knows (${LATEST_VERSION}); upgrade the collector`);
  }
  for (const m of MIGRATIONS) {
    if (done.has(m.version)) continue;
    await step(async () => {
      for (const sql of migrationStatements(m, db.kind)) await q.run(sql);
      if (m.backfill) await m.backfill(q);
      await q.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [m.version, m.name, Date.now() / 1000]);
    });
  }
}

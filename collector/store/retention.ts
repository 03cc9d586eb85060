// Removing what is older than its retention period, in short transactions so
// that ingest is never held up for long. A row is old when both its own time
// and the time the collector received it are before the cut-off: live data is
// aged by its time, and a replay of old captures is kept for the period after
// it arrived. On PostgreSQL whole days of flows go by dropping their
// partition (partitions.ts). PostgreSQL frees the space by its own autovacuum; SQLite is
// switched to incremental vacuum once, then handed its free pages back after
// each run that removed something.
import type { RetentionKind } from '../config.js';
import type { Driver, Queryable } from './driver.js';
import { FlowPartitions } from './partitions.js';

/** Rows removed per transaction. */
export const RETENTION_BATCH_ROWS = 5000;

/** Epoch seconds per kind: rows older than this are removed; a kind not given is kept. */
export type Cutoffs = Partial<Record<RetentionKind, number>>;

export interface RetentionResult {
  removed: Record<RetentionKind, number>;
  /** delivery keys of removed events forgotten (a sensor resending one stores it again, until the next run) */
  keys: number;
  /** SQLite: the file was converted to incremental vacuum by this run */
  converted: boolean;
}

interface Plan {
  /** one batch: deletes at most `limit` rows older than the cut-off */
  sql: string;
  params: (cutoff: number, limit: number) => unknown[];
  /** the kind its delivery keys have in the events table */
  eventKind: string;
}

const PLANS: Record<Exclude<RetentionKind, 'dead_letters'>, Plan> = {
  flows: {
    sql: `DELETE FROM flows WHERE (sensor, uid) IN (SELECT sensor, uid FROM flows WHERE ts < ? AND (received_at IS NULL OR received_at < ?) LIMIT ?)`,
    params: (c, n) => [c, c, n],
    eventKind: 'flow',
  },
  alerts: {
    sql: `DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE ts < ? AND received_at < ? LIMIT ?)`,
    params: (c, n) => [c, c, n],
    eventKind: 'alert',
  },
  evidence: {
    sql: `DELETE FROM evidence WHERE alert_id IN (SELECT alert_id FROM evidence WHERE received_at < ? LIMIT ?)`,
    params: (c, n) => [c, n],
    eventKind: 'evidence',
  },
};

const KEYS_SQL = `DELETE FROM events WHERE (sensor, key) IN (SELECT sensor, key FROM events WHERE kind = ? AND received_at < ? LIMIT ?)`;

/** Runs one batched DELETE until a batch removes fewer rows than it may. */
async function inBatches(db: Driver, sql: string, params: (limit: number) => unknown[], batch: number): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await db.tx((q) => q.run(sql, params(batch)));
    total += n;
    if (n < batch) return total;
  }
}

async function tableExists(db: Driver, q: Queryable, table: string): Promise<boolean> {
  const rows =
    db.kind === 'sqlite'
      ? await q.all(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?`, [table])
      : await q.all(`SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?`, [table]);
  return rows.length > 0;
}

/** Dead letters are few: one statement, once their table exists. */
async function removeDeadLetters(db: Driver, cutoff: number): Promise<number> {
  if (!(await db.read((q) => tableExists(db, q, 'dead_letters')))) return 0;
  return db.tx((q) => q.run(`DELETE FROM dead_letters WHERE received_at < ?`, [cutoff]));
}

/** Turns on incremental vacuum (once: a full VACUUM) and returns free pages to the file system. */
async function reclaimSqlite(db: Driver): Promise<boolean> {
  return db.read(async (q) => {
    const [{ auto_vacuum: mode }] = await q.all<{ auto_vacuum: number }>('PRAGMA auto_vacuum');
    const convert = mode !== 2;
    if (convert) {
      await q.run('PRAGMA auto_vacuum = INCREMENTAL');
      await q.run('VACUUM');
    }
    // Each step of the pragma frees one page, and the driver's run() takes one step.
    const [{ freelist_count: free }] = await q.all<{ freelist_count: number }>('PRAGMA freelist_count');
    for (let i = 0; i < free; i++) await q.run('PRAGMA incremental_vacuum');
    // The file shrinks when the write-ahead log is folded back into it.
    await q.all('PRAGMA wal_checkpoint(TRUNCATE)');
    return convert;
  });
}

/** Removes every row older than its kind's cut-off, and the delivery keys of those events. */
export async function applyRetention(db: Driver, cutoffs: Cutoffs, batch = RETENTION_BATCH_ROWS, partitions = new FlowPartitions(db)): Promise<RetentionResult> {
  const result: RetentionResult = { removed: { flows: 0, alerts: 0, evidence: 0, dead_letters: 0 }, keys: 0, converted: false };
  for (const [kind, plan] of Object.entries(PLANS) as [keyof typeof PLANS, Plan][]) {
    const cutoff = cutoffs[kind];
    if (cutoff === undefined) continue;
    // Whole days of flows go with their partition (PostgreSQL); what is left, row by row.
    const dropped = kind === 'flows' ? await partitions.dropOlderThan(cutoff) : 0;
    result.removed[kind] = dropped + (await inBatches(db, plan.sql, (n) => plan.params(cutoff, n), batch));
    result.keys += await inBatches(db, KEYS_SQL, (n) => [plan.eventKind, cutoff, n], batch);
  }
  if (cutoffs.dead_letters !== undefined) result.removed.dead_letters = await removeDeadLetters(db, cutoffs.dead_letters);
  const any = Object.values(result.removed).some((n) => n > 0) || result.keys > 0;
  if (db.kind === 'sqlite' && any) result.converted = await reclaimSqlite(db);
  return result;
}

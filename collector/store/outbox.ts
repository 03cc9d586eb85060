// The SIEM forwarder's outbox: rows written with the alerts they name (in the
// ingest transaction), claimed by one collector at a time, deleted once sent.
// The SQL is the common subset of SQLite and PostgreSQL but for the claim,
// where PostgreSQL skips rows another collector is claiming instead of
// waiting for it.
import type { FlowRecord } from '../../contract/types.js';
import { parseRecord } from './bounds.js';
import type { Driver, Queryable } from './driver.js';
import { loadAlerts } from './queries.js';
import type { Outbox, OutboxItem } from './store.js';

/** Outbox rows for alerts new to the database, one per target; called inside the ingest transaction. */
export async function enqueue(q: Queryable, targets: readonly string[], alertIds: string[], now: number): Promise<void> {
  for (const target of targets) {
    for (const id of alertIds) {
      await q.run(
        `INSERT INTO forward_outbox (target, alert_id, enqueued_at, attempts, next_at) VALUES (?, ?, ?, 0, ?) ON CONFLICT (target, alert_id) DO NOTHING`,
        [target, id, now, now],
      );
    }
  }
}

const placeholders = (n: number): string => Array(n).fill('?').join(', ');

/** The flow of each item's alert's first evidence uid, from the alert's own sensor. */
async function withFlows(q: Queryable, rows: { alert_id: string; attempts: number }[]): Promise<OutboxItem[]> {
  const alerts = new Map((await loadAlerts(q, rows.map((r) => r.alert_id))).map((a) => [a.id, a]));
  const out: OutboxItem[] = [];
  for (const r of rows) {
    const alert = alerts.get(r.alert_id) ?? null;
    const uid = alert?.evidence.uids[0];
    let flow: FlowRecord | null = null;
    if (alert && uid) {
      const [f] = await q.all<{ record: string }>(`SELECT record FROM flows WHERE sensor = ? AND uid = ?`, [alert.sensor, uid]);
      flow = f ? parseRecord<FlowRecord>(f.record) : null;
    }
    out.push({ alertId: r.alert_id, attempts: Number(r.attempts), alert, flow });
  }
  return out;
}

export function createOutbox(db: Driver): Outbox {
  // Rows another collector holds locked are skipped on PostgreSQL rather than waited for; the outer
  // condition is checked again on the row as committed, so two collectors never claim one row.
  const skipLocked = db.kind === 'postgres' ? ' FOR UPDATE SKIP LOCKED' : '';
  return {
    claim: (target, owner, now, leaseS, limit) =>
      db.tx(async (q) => {
        const rows = await q.all<{ alert_id: string; attempts: number }>(
          `UPDATE forward_outbox SET claimed_by = ?, claimed_until = ?
           WHERE target = ? AND (claimed_until IS NULL OR claimed_until < ?) AND alert_id IN (
             SELECT alert_id FROM forward_outbox
             WHERE target = ? AND next_at <= ? AND (claimed_until IS NULL OR claimed_until < ?)
             ORDER BY next_at, enqueued_at, alert_id LIMIT ?${skipLocked})
           RETURNING alert_id, attempts`,
          [owner, now + leaseS, target, now, target, now, now, limit],
        );
        return withFlows(q, rows);
      }),

    async done(target, owner, ids) {
      if (!ids.length) return;
      await db.tx((q) => q.run(`DELETE FROM forward_outbox WHERE target = ? AND claimed_by = ? AND alert_id IN (${placeholders(ids.length)})`, [target, owner, ...ids]));
    },

    async retry(target, owner, ids, nextAt, error) {
      if (!ids.length) return;
      await db.tx((q) =>
        q.run(
          `UPDATE forward_outbox SET attempts = attempts + 1, next_at = ?, claimed_by = NULL, claimed_until = NULL, last_error = ?
           WHERE target = ? AND claimed_by = ? AND alert_id IN (${placeholders(ids.length)})`,
          [nextAt, error.slice(0, 500), target, owner, ...ids],
        ),
      );
    },

    async release(owner) {
      await db.tx((q) => q.run(`UPDATE forward_outbox SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ?`, [owner]));
    },

    depth: () => db.read(async (q) => (await q.all<{ target: string; n: number }>(`SELECT target, COUNT(*) AS n FROM forward_outbox GROUP BY target ORDER BY target`)).map((r) => ({ target: r.target, rows: Number(r.n) }))),
  };
}

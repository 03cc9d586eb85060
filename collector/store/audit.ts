// The audit log: every change made through the API (and every retention
// run that removed something), who made it, what it changed and when. The
// change and its entry are written in one transaction, so neither is kept
// without the other.
import { randomUUID } from 'node:crypto';
import type { AlertState, StoredAlert } from '../../contract/types.js';
import { StoreError } from '../errors.js';
import type { Driver, Queryable } from './driver.js';
import { decodeCursor, encodeCursor, loadAlerts, MAX_LIMIT } from './queries.js';
import type { AuditActor, AuditEntry, AuditFilter } from './store.js';

export async function insertAudit(q: Queryable, e: Omit<AuditEntry, 'id'>): Promise<AuditEntry> {
  const entry = { id: randomUUID(), ...e };
  await q.run(`INSERT INTO audit_log (id, at, actor, role, action, target, detail) VALUES (?, ?, ?, ?, ?, ?, ?)`, [
    entry.id, entry.at, entry.actor, entry.role, entry.action, entry.target, JSON.stringify(entry.detail),
  ]);
  return entry;
}

type AlertChange = { status: AlertState['status']; note: string | null; who: string };

/** Sets an alert's state and records who did it, from what to what, within a transaction; null for an unknown alert. */
export async function changeAlertIn(q: Queryable, id: string, change: AlertChange, now: number, by: AuditActor): Promise<StoredAlert | null> {
  const [before] = await q.all<{ status: string; note: string | null; updated_by: string | null }>(`SELECT status, note, updated_by FROM alerts WHERE id = ?`, [id]);
  if (!before) return null;
  await q.run(`UPDATE alerts SET status = ?, note = ?, updated_by = ?, updated_at = ? WHERE id = ?`, [change.status, change.note, change.who, now, id]);
  await insertAudit(q, { at: now, ...by, target: id, detail: { set: change, was: { status: before.status, note: before.note, who: before.updated_by } } });
  const [a] = await loadAlerts(q, [id]);
  return a ?? null;
}

/** Runs an alert change in one transaction; a status the schema refuses is the client's mistake. */
export async function alertChangeTx<T>(db: Driver, status: string, fn: (q: Queryable) => Promise<T>): Promise<T> {
  try {
    return await db.tx(fn);
  } catch (e) {
    if (db.isDataError(e)) throw new StoreError('BAD_EVENT', `cannot set an alert to ${JSON.stringify(status)}: ${(e as Error).message}`);
    throw e;
  }
}

/** Sets an alert's state and records who did it, from what to what; null (and nothing recorded) for an unknown alert. */
export function changeAlertAudited(db: Driver, id: string, change: AlertChange, now: number, by: AuditActor): Promise<StoredAlert | null> {
  return alertChangeTx(db, change.status, (q) => changeAlertIn(q, id, change, now, by));
}

interface AuditRow {
  id: string;
  at: number;
  actor: string;
  role: string;
  action: string;
  target: string | null;
  detail: string;
}

/** Newest first, filtered, paginated like the alerts: the cursor is the last entry's (at, id). */
export async function listAudit(db: Driver, f: AuditFilter): Promise<{ items: AuditEntry[]; next_cursor: string | null }> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, ...p: unknown[]): void => {
    where.push(sql);
    params.push(...p);
  };
  if (f.from !== undefined) add('at >= ?', f.from);
  if (f.to !== undefined) add('at <= ?', f.to);
  if (f.actor !== undefined) add('actor = ?', f.actor);
  if (f.target !== undefined) add('target = ?', f.target);
  if (f.cursor) {
    const c = decodeCursor(f.cursor);
    add('(at < ? OR (at = ? AND id < ?))', c.ts, c.ts, c.id);
  }
  const limit = Math.min(MAX_LIMIT, Math.max(1, Math.floor(f.limit)));
  const rows = await db.read((q) =>
    q.all<AuditRow>(`SELECT id, at, actor, role, action, target, detail FROM audit_log ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY at DESC, id DESC LIMIT ?`, [...params, limit + 1]),
  );
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> })),
    next_cursor: rows.length > limit && last ? encodeCursor(last.at, last.id) : null,
  };
}

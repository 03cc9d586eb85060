// What analysts change and count in the alert queue: mutes, bulk status
// changes and counts by rule, severity, device or sensor. Every change is
// written with its audit entry in one transaction.
import { randomUUID } from 'node:crypto';
import type { AlertState, StoredAlert } from '../../contract/types.js';
import { alertChangeTx, changeAlertIn, insertAudit } from './audit.js';
import type { Driver, Queryable } from './driver.js';
import { alertConditions, MUTED } from './queries.js';
import type { AlertFilter, AlertGroup, AuditActor, Mute, NewMute } from './store.js';

type AlertChange = { status: AlertState['status']; note: string | null; who: string };

/** Sets many alerts' state, each with its own audit entry, all or none. */
export async function changeAlertsAudited(db: Driver, ids: string[], change: AlertChange, now: number, by: AuditActor): Promise<StoredAlert[]> {
  const unique = [...new Set(ids)];
  // One transaction: a failure half-way changes nothing.
  return alertChangeTx(db, change.status, async (q) => {
    const out: StoredAlert[] = [];
    for (const id of unique) {
      const a = await changeAlertIn(q, id, change, now, by);
      if (a) out.push(a);
    }
    return out;
  });
}

const GROUP_COLUMN = { rule: 'a.rule', severity: 'a.severity', device: 'a.device_key', sensor: 'a.sensor' } as const;

/** Alerts matching the filter, counted by one column, biggest group first. */
export async function groupAlerts(db: Driver, f: AlertFilter, by: keyof typeof GROUP_COLUMN): Promise<AlertGroup[]> {
  const { where, params } = alertConditions({ ...f, cursor: undefined });
  const col = GROUP_COLUMN[by];
  const now = f.now ?? Date.now() / 1000;
  const rows = await db.read((q) =>
    q.all<{ key: string; count: unknown; muted: unknown; newest: number }>(
      `SELECT ${col} AS key, COUNT(*) AS count, SUM(CASE WHEN ${MUTED} THEN 1 ELSE 0 END) AS muted, MAX(a.ts) AS newest
       FROM alerts a ${where.length ? 'WHERE ' + where.join(' AND ') : ''} GROUP BY ${col} ORDER BY count DESC, key`,
      [now, ...params],
    ),
  );
  // PostgreSQL answers COUNT and SUM with bigint/numeric, as strings.
  return rows.map((r) => ({ key: r.key, count: Number(r.count), muted: Number(r.muted), newest: Number(r.newest) }));
}

export async function mutedAlerts(db: Driver, ids: string[], now: number): Promise<Set<string>> {
  const unique = [...new Set(ids)];
  if (!unique.length) return new Set();
  const rows = await db.read((q) =>
    q.all<{ id: string }>(`SELECT a.id FROM alerts a WHERE a.id IN (${unique.map(() => '?').join(', ')}) AND ${MUTED}`, [...unique, now]),
  );
  return new Set(rows.map((r) => r.id));
}

const MUTE_COLUMNS = 'id, rule, device, destination, reason, created_by, created_at, expires_at, lifted_by, lifted_at';

export async function createMute(db: Driver, m: NewMute, who: string, now: number, by: AuditActor): Promise<Mute> {
  const mute: Mute = { id: randomUUID(), ...m, created_by: who, created_at: now, lifted_by: null, lifted_at: null };
  await db.tx(async (q) => {
    await q.run(`INSERT INTO mutes (${MUTE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
      mute.id, mute.rule, mute.device, mute.destination, mute.reason, mute.created_by, mute.created_at, mute.expires_at, null, null,
    ]);
    await insertAudit(q, { at: now, ...by, target: mute.id, detail: { mute: { ...m, who } } });
  });
  return mute;
}

const toMute = (r: Mute): Mute => ({ ...r, created_at: Number(r.created_at), expires_at: Number(r.expires_at), lifted_at: r.lifted_at === null ? null : Number(r.lifted_at) });

export async function listMutes(db: Driver, activeAt?: number): Promise<Mute[]> {
  const active = activeAt === undefined ? '' : 'WHERE lifted_at IS NULL AND expires_at > ?';
  const rows = await db.read((q) => q.all<Mute>(`SELECT ${MUTE_COLUMNS} FROM mutes ${active} ORDER BY created_at DESC, id DESC LIMIT 1000`, activeAt === undefined ? [] : [activeAt]));
  return rows.map(toMute);
}

async function loadMute(q: Queryable, id: string): Promise<Mute | null> {
  const [r] = await q.all<Mute>(`SELECT ${MUTE_COLUMNS} FROM mutes WHERE id = ?`, [id]);
  return r ? toMute(r) : null;
}

export async function liftMute(db: Driver, id: string, who: string, now: number, by: AuditActor): Promise<Mute | null> {
  return db.tx(async (q) => {
    const n = await q.run(`UPDATE mutes SET lifted_by = ?, lifted_at = ? WHERE id = ? AND lifted_at IS NULL`, [who, now, id]);
    if (!n) return null;
    await insertAudit(q, { at: now, ...by, target: id, detail: { lifted: { who } } });
    return loadMute(q, id);
  });
}

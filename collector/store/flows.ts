// The flows sensors delivered, read back for the flows API and an alert's
// evidence: newest first, paginated by the last row's (ts, uid, sensor).
import type { FlowRecord } from '../../contract/types.js';
import { StoreError } from '../errors.js';
import { parseRecord } from './bounds.js';
import type { Driver } from './driver.js';
import { decodeCursor, encodeCursor, pageLimit } from './queries.js';
import type { FlowFilter, StoredFlow } from './store.js';

/** uids one listing may name; an alert's evidence names at most 100. */
export const MAX_UIDS = 1000;

/** The cursor's id part: the row's uid and sensor, which together are its key. */
function cursorId(uid: string, sensor: string): string {
  return JSON.stringify([uid, sensor]);
}

function parseCursorId(c: string, id: string): [string, string] {
  let v: unknown;
  try {
    v = JSON.parse(id);
  } catch {
    v = null;
  }
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'string' || typeof v[1] !== 'string') {
    throw new StoreError('BAD_CURSOR', `cursor '${c.slice(0, 60)}' was not issued by this collector`);
  }
  return [v[0], v[1]];
}

function flowConditions(f: FlowFilter): { where: string[]; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, ...p: unknown[]): void => {
    where.push(sql);
    params.push(...p);
  };
  if (f.uids !== undefined) {
    const uids = [...new Set(f.uids)].slice(0, MAX_UIDS);
    // No uid asked for matches no flow, not every flow.
    add(uids.length ? `f.uid IN (${uids.map(() => '?').join(', ')})` : '1 = 0', ...uids);
  }
  if (f.sensor !== undefined) add('f.sensor = ?', f.sensor);
  if (f.device !== undefined) add('(f.src_mac = ? OR (f.src_mac IS NULL AND f.src_ip = ?))', f.device, f.device);
  if (f.dst !== undefined) add('f.dst_ip = ?', f.dst);
  if (f.from !== undefined) add('f.ts >= ?', f.from);
  if (f.to !== undefined) add('f.ts <= ?', f.to);
  if (f.cursor) {
    const c = decodeCursor(f.cursor);
    const [uid, sensor] = parseCursorId(f.cursor, c.id);
    add('(f.ts < ? OR (f.ts = ? AND (f.uid < ? OR (f.uid = ? AND f.sensor < ?))))', c.ts, c.ts, uid, uid, sensor);
  }
  return { where, params };
}

export async function listFlows(db: Driver, f: FlowFilter): Promise<{ items: StoredFlow[]; next_cursor: string | null }> {
  const { where, params } = flowConditions(f);
  const limit = pageLimit(f.limit);
  const rows = await db.read((q) =>
    q.all<{ sensor: string; uid: string; ts: number; record: string }>(
      `SELECT f.sensor, f.uid, f.ts, f.record FROM flows f ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
       ORDER BY f.ts DESC, f.uid DESC, f.sensor DESC LIMIT ?`,
      [...params, limit + 1],
    ),
  );
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => ({ ...parseRecord<FlowRecord>(r.record), sensor: r.sensor })),
    next_cursor: rows.length > limit && last ? encodeCursor(last.ts, cursorId(last.uid, last.sensor)) : null,
  };
}

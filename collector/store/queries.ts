// What the Store reads back: alerts, devices, sensors and the metrics
// snapshot. The SQL is the common subset of SQLite and PostgreSQL.
import type { AlertRecord, AlertState, DeadLetter, DeviceRecord, StoredAlert } from '../../contract/types.js';
import { StoreError } from '../errors.js';
import { parseRecord } from './bounds.js';
import type { Driver, Queryable } from './driver.js';
import type { AlertFilter, DeadLetterFilter, MetricsSnapshot, StoredDevice } from './store.js';

export const MAX_LIMIT = 1000;

const ALERT_COLUMNS = `a.id, a.ts, a.record, a.sensor, a.received_at, a.status, a.note, a.updated_by, a.updated_at,
  EXISTS (SELECT 1 FROM evidence e WHERE e.alert_id = a.id) AS has_pcap`;

const PROFILE_OF = (key: string): string => `(SELECT a.device_profile FROM alerts a
  WHERE a.device_key = ${key} AND a.device_profile IS NOT NULL
  ORDER BY a.ts DESC, a.id DESC LIMIT 1)`;

interface AlertRow {
  record: string;
  sensor: string;
  received_at: number;
  status: AlertState['status'];
  note: string | null;
  updated_by: string | null;
  updated_at: number | null;
  has_pcap: unknown;
  ts: number;
  id: string;
}

function toStoredAlert(r: AlertRow): StoredAlert {
  const rec = parseRecord<AlertRecord>(r.record);
  return {
    ...rec,
    sensor: r.sensor,
    state: { status: r.status, note: r.note, updated_by: r.updated_by, updated_at: r.updated_at },
    received_at: r.received_at,
    // SQLite answers EXISTS with 0/1, PostgreSQL with a boolean.
    has_pcap: Boolean(r.has_pcap),
  };
}

/** Opaque to clients; base64url of [ts, id] of the last row of the page. */
export function encodeCursor(ts: number, id: string): string {
  return Buffer.from(JSON.stringify([ts, id])).toString('base64url');
}

export function decodeCursor(c: string): { ts: number; id: string } {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8'));
  } catch {
    v = null;
  }
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'number' || !Number.isFinite(v[0]) || typeof v[1] !== 'string') {
    throw new StoreError('BAD_CURSOR', `cursor '${c.slice(0, 60)}' was not issued by this collector`);
  }
  return { ts: v[0], id: v[1] };
}

export async function loadAlerts(q: Queryable, ids: string[]): Promise<StoredAlert[]> {
  const out: StoredAlert[] = [];
  for (const id of ids) {
    const [r] = await q.all<AlertRow>(`SELECT ${ALERT_COLUMNS} FROM alerts a WHERE a.id = ?`, [id]);
    if (r) out.push(toStoredAlert(r));
  }
  return out;
}

/** WHERE conditions and their parameters, added one by one. */
function conditions(): { where: string[]; params: unknown[]; add: (sql: string, ...p: unknown[]) => void } {
  const where: string[] = [];
  const params: unknown[] = [];
  return {
    where,
    params,
    add: (sql, ...p) => {
      where.push(sql);
      params.push(...p);
    },
  };
}

/**
 * True (as SQL) when a mute in force at the time given as its one parameter
 * covers alert `a`: each of the mute's rule, device and destination is NULL
 * (any) or the alert's (the destination by address or by name).
 */
export const MUTED = `EXISTS (SELECT 1 FROM mutes m WHERE m.lifted_at IS NULL AND m.expires_at > ?
  AND (m.rule IS NULL OR m.rule = a.rule) AND (m.device IS NULL OR m.device = a.device_key)
  AND (m.destination IS NULL OR m.destination = a.dst_ip OR m.destination = a.dst_name))`;

/** A page's size: 1 to MAX_LIMIT. */
export const pageLimit = (limit: number): number => Math.min(MAX_LIMIT, Math.max(1, Math.floor(Number.isFinite(limit) ? limit : MAX_LIMIT)));

/** A filter as WHERE conditions and their parameters; the cursor continues after the previous page's last row. */
export function alertConditions(f: AlertFilter): { where: string[]; params: unknown[] } {
  const { where, params, add } = conditions();
  if (f.from !== undefined) add('a.ts >= ?', f.from);
  if (f.to !== undefined) add('a.ts <= ?', f.to);
  if (f.rule !== undefined) add('a.rule = ?', f.rule);
  if (f.severity !== undefined) add('a.severity = ?', f.severity);
  if (f.device !== undefined) add('(a.device_mac = ? OR a.device_ip = ?)', f.device, f.device);
  if (f.country !== undefined) add('a.dst_country = ?', f.country);
  if (f.status !== undefined) add('a.status = ?', f.status);
  if (f.sensor !== undefined) add('a.sensor = ?', f.sensor);
  if (f.destination !== undefined) add('(a.dst_ip = ? OR a.dst_name = ?)', f.destination, f.destination);
  if (f.operator !== undefined) {
    const asn = /^(?:AS)?(\d{1,10})$/i.exec(f.operator);
    if (asn) add('a.dst_asn = ?', Number(asn[1]));
    else add('a.dst_as_org = ?', f.operator);
  }
  if (f.muted !== undefined) add(f.muted === 'only' ? MUTED : `NOT ${MUTED}`, f.now ?? Date.now() / 1000);
  if (f.cursor !== undefined && f.cursor !== '') {
    const c = decodeCursor(f.cursor);
    add('(a.ts < ? OR (a.ts = ? AND a.id < ?))', c.ts, c.ts, c.id);
  }
  return { where, params };
}

export async function listAlerts(db: Driver, f: AlertFilter): Promise<{ items: StoredAlert[]; next_cursor: string | null }> {
  const { where, params } = alertConditions(f);
  const limit = pageLimit(f.limit);
  const rows = await db.read((q) =>
    q.all<AlertRow>(
      `SELECT ${ALERT_COLUMNS} FROM alerts a ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
           ORDER BY a.ts DESC, a.id DESC LIMIT ?`,
      [...params, limit + 1],
    ),
  );
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  const last = page[page.length - 1];
  return { items: page.map(toStoredAlert), next_cursor: more && last ? encodeCursor(last.ts, last.id) : null };
}

interface DeadLetterRow extends Omit<DeadLetter, 'truncated'> {
  truncated: unknown;
}

/** Refused events, newest first, filtered and paginated as alerts are. */
export async function listDeadLetters(db: Driver, f: DeadLetterFilter): Promise<{ items: DeadLetter[]; next_cursor: string | null }> {
  const { where, params, add } = conditions();
  if (f.from !== undefined) add('d.received_at >= ?', f.from);
  if (f.to !== undefined) add('d.received_at <= ?', f.to);
  if (f.sensor !== undefined) add('d.sensor = ?', f.sensor);
  if (f.code !== undefined) add('d.code = ?', f.code);
  if (f.cursor !== undefined && f.cursor !== '') {
    const c = decodeCursor(f.cursor);
    add('(d.received_at < ? OR (d.received_at = ? AND d.id < ?))', c.ts, c.ts, c.id);
  }
  const limit = pageLimit(f.limit);
  const rows = await db.read((q) =>
    q.all<DeadLetterRow>(
      `SELECT d.id, d.sensor, d.key, d.kind, d.code, d.reason, d.event, d.truncated, d.received_at FROM dead_letters d
       ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY d.received_at DESC, d.id DESC LIMIT ?`,
      [...params, limit + 1],
    ),
  );
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => ({ ...r, truncated: Boolean(r.truncated) })),
    next_cursor: rows.length > limit && last ? encodeCursor(last.received_at, last.id) : null,
  };
}

/**
 * Every sensor's view of every device (by device, then sensor), or the view
 * of the sensor that saw the device with `key` (its MAC, or IP when it has
 * none) last. Traffic by country is the device's over all sensors.
 */
export async function loadDevices(q: Queryable, key: string | null): Promise<StoredDevice[]> {
  const tail = key === null ? 'ORDER BY d.key, d.sensor' : 'WHERE d.key = ? ORDER BY d.last_seen DESC, d.sensor LIMIT 1';
  const params = key === null ? [] : [key];
  const rows = await q.all<{ key: string; record: string; sensor: string; profile: string | null }>(
    `SELECT d.key, d.record, d.sensor, ${PROFILE_OF('d.key')} AS profile FROM devices d ${tail}`,
    params,
  );
  const traffic = await q.all<{ device: string; country: string; flows: number; bytes_out: number }>(
    `SELECT t.device, t.country, t.flows, t.bytes_out FROM device_traffic t ${key === null ? '' : 'WHERE t.device = ?'}
     ORDER BY t.device, t.bytes_out DESC, t.country`,
    params,
  );
  const countries = new Map<string, StoredDevice['countries']>();
  for (const t of traffic) {
    let list = countries.get(t.device);
    if (!list) countries.set(t.device, (list = []));
    list.push({ country: t.country, flows: t.flows, bytes_out: t.bytes_out });
  }
  return rows.map((r) => ({ ...parseRecord<DeviceRecord>(r.record), sensor: r.sensor, profile: r.profile, countries: countries.get(r.key) ?? [] }));
}

export async function metricsSnapshot(q: Queryable): Promise<MetricsSnapshot> {
  const devices = await q.all<{ vendor_country: string; profiled: unknown; count: number }>(
    // A device several sensors see is one device.
    `SELECT vendor_country, profiled, COUNT(*) AS count FROM (
             SELECT MAX(COALESCE(d.vendor_country, '')) AS vendor_country,
               EXISTS (SELECT 1 FROM alerts a WHERE a.device_key = d.key AND a.device_profile IS NOT NULL) AS profiled
             FROM devices d GROUP BY d.key
           ) x GROUP BY vendor_country, profiled ORDER BY vendor_country, profiled`,
  );
  return {
    alerts: await q.all(
      `SELECT rule, severity, COALESCE(dst_country, '') AS country, COUNT(*) AS count FROM alerts
             GROUP BY rule, severity, COALESCE(dst_country, '') ORDER BY rule, severity, country`,
    ),
    openAlerts: await q.all(
      `SELECT rule, severity, COUNT(*) AS count FROM alerts WHERE status = 'open' GROUP BY rule, severity ORDER BY rule, severity`,
    ),
    // Labelled by MAC (IP for MAC-less devices): stable, unlike profile names, and bounded by the devices on the network.
    deviceTraffic: await q.all(`SELECT device, country, flows, bytes_out FROM device_traffic ORDER BY device, country`),
    deviceDestinations: await q.all(
      `SELECT device, COUNT(*) AS destinations FROM device_destinations GROUP BY device ORDER BY device`,
    ),
    devices: devices.map((d) => ({ vendor_country: d.vendor_country, profiled: Boolean(d.profiled), count: d.count })),
    sensors: await q.all(`SELECT name AS sensor, last_seen FROM sensors ORDER BY name`),
    ingest: await q.all(`SELECT sensor, kind, events AS count FROM ingest_counts ORDER BY sensor, kind`),
  };
}

// The Store behaviour, written once over a minimal driver so that SQLite and
// PostgreSQL cannot disagree. SQL here is the common subset of both: `?`
// placeholders (the PostgreSQL driver rewrites them), INSERT ... ON CONFLICT,
// no dialect functions. Anything dialect-specific lives in the drivers.
import type { AlertRecord, AlertState, DeviceRecord, FlowRecord, IngestEvent, IngestResult, SensorStatus, StoredAlert } from '../../contract/types.js';
import { type AlertFilter, type MetricsSnapshot, type Store, type StoredDevice, StoreError } from './store.js';

export type Row = Record<string, unknown>;

export interface Queryable {
  all<T = Row>(sql: string, params?: unknown[]): Promise<T[]>;
  /** returns the number of rows changed */
  run(sql: string, params?: unknown[]): Promise<number>;
}

export interface Driver {
  readonly kind: 'sqlite' | 'postgres';
  /** runs fn with a connection that sees committed data only */
  read<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  /** runs fn in one transaction; fn may be run again when the database asks for a retry */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  /** true when the database refused a value (constraint, type), as opposed to failing */
  isDataError(e: unknown): boolean;
  migrate(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

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
  const rec = JSON.parse(r.record) as AlertRecord;
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

/** A device is known by its MAC, or by its IP when the capture carries no link layer (alerts and flows likewise). */
export function deviceKey(d: DeviceRecord): string | null {
  return d.mac ?? d.ips[0] ?? null;
}

// The schema enforces NOT NULL and CHECKs; these catch what a column type
// would silently coerce (SQLite keeps 1.5 in an INTEGER column, PostgreSQL
// refuses it), so both backends refuse the same events.
class Invalid extends Error {}

// PostgreSQL cannot store U+0000 in text, and a device can put one in a DNS
// name: refusing it would lose the whole batch, so columns get U+FFFD on both
// backends (the JSON record keeps the exact text).
const NUL = /\u0000/g;
const column = (v: string): string => (v.includes('\u0000') ? v.replace(NUL, '\ufffd') : v);

function str(v: unknown, what: string): string {
  if (typeof v !== 'string' || v === '') throw new Invalid(`${what} must be a non-empty string`);
  return column(v);
}
function optStr(v: unknown, what: string): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') throw new Invalid(`${what} must be a string or null`);
  return column(v);
}
function num(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Invalid(`${what} must be a finite number`);
  return v;
}
function int(v: unknown, what: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw new Invalid(`${what} must be a non-negative integer`);
  return v as number;
}
function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Invalid(`${what} must be an object`);
  return v as Record<string, unknown>;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A flow event checked and turned into its row. */
interface FlowRow {
  uid: string;
  device: string;
  country: string | null;
  dstIp: string;
  srcBytes: number;
  params: unknown[];
}

function flowRow(sensor: string, f: FlowRecord): FlowRow {
  obj(f, 'data');
  const country = optStr(f.dst_country, 'dst_country');
  const srcBytes = int(f.src_bytes, 'src_bytes');
  const uid = str(f.uid, 'uid');
  const dstIp = str(f.dst_ip, 'dst_ip');
  const srcMac = optStr(f.src_mac, 'src_mac');
  const srcIp = str(f.src_ip, 'src_ip');
  const params = [sensor, uid, num(f.ts, 'ts'), srcMac, srcIp, dstIp, int(f.dst_port, 'dst_port'),
    str(f.proto, 'proto'), optStr(f.server_name, 'server_name'), country, srcBytes, int(f.dst_bytes, 'dst_bytes'), JSON.stringify(f)];
  return { uid, device: srcMac ?? srcIp, country, dstIp, srcBytes, params };
}

const FLOW_INSERT = `INSERT INTO flows (sensor, uid, ts, src_mac, src_ip, dst_ip, dst_port, proto, server_name, dst_country, src_bytes, dst_bytes, record) VALUES`;

/** `count` rows of `width` placeholders: "(?, ?), (?, ?)". */
const values = (count: number, width: number): string => Array(count).fill(`(${Array(width).fill('?').join(', ')})`).join(', ');

/** Rows per multi-row statement: well under both databases' limits on bound parameters. */
const ROWS_PER_STATEMENT = 200;

function chunks<T>(list: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += ROWS_PER_STATEMENT) out.push(list.slice(i, i + ROWS_PER_STATEMENT));
  return out;
}

/**
 * Stores a batch's flows with a few multi-row statements instead of three
 * round trips per flow (which held PostgreSQL to a few thousand flows/s).
 * A uid seen before, or twice in the batch, is stored and counted once.
 */
async function applyFlows(q: Queryable, rows: FlowRow[]): Promise<void> {
  const inserted = new Set<string>();
  for (const part of chunks(rows)) {
    const got = await q.all<{ uid: string }>(`${FLOW_INSERT} ${values(part.length, 13)} ON CONFLICT (sensor, uid) DO NOTHING RETURNING uid`, part.flatMap((r) => r.params));
    for (const r of got) inserted.add(r.uid);
  }
  const traffic = new Map<string, [device: string, country: string, flows: number, bytes: number]>();
  const destinations = new Map<string, [device: string, dstIp: string]>();
  for (const r of rows) {
    // A flow uid the sensor already sent under another key must not be counted twice.
    if (!inserted.delete(r.uid) || r.country === null) continue;
    const k = `${r.device}\n${r.country}`;
    const t = traffic.get(k);
    if (t) {
      t[2]++;
      t[3] += r.srcBytes;
    } else traffic.set(k, [r.device, r.country, 1, r.srcBytes]);
    destinations.set(`${r.device}\n${r.dstIp}`, [r.device, r.dstIp]);
  }
  for (const part of chunks([...traffic.values()])) {
    await q.run(
      `INSERT INTO device_traffic (device, country, flows, bytes_out) VALUES ${values(part.length, 4)}
       ON CONFLICT (device, country) DO UPDATE SET flows = device_traffic.flows + excluded.flows, bytes_out = device_traffic.bytes_out + excluded.bytes_out`,
      part.flat(),
    );
  }
  for (const part of chunks([...destinations.values()])) {
    await q.run(`INSERT INTO device_destinations (device, dst_ip) VALUES ${values(part.length, 2)} ON CONFLICT (device, dst_ip) DO NOTHING`, part.flat());
  }
}

/** Returns true when the alert is new to the database. */
async function applyAlert(q: Queryable, sensor: string, a: AlertRecord, now: number): Promise<boolean> {
  obj(a, 'data');
  const device = obj(a.device, 'device');
  const destination = a.destination === null ? null : obj(a.destination, 'destination');
  const evidence = obj(a.evidence, 'evidence');
  const cols = {
    ts: num(a.ts, 'ts'),
    rule: str(a.rule, 'rule'),
    severity: str(a.severity, 'severity'),
    device_mac: optStr(device.mac, 'device.mac'),
    device_ip: str(device.ip, 'device.ip'),
    device_profile: optStr(device.profile, 'device.profile'),
    dst_country: destination ? optStr(destination.country, 'destination.country') : null,
    evidence_flows: int(evidence.flows, 'evidence.flows'),
    record: JSON.stringify(a),
  };
  const key = cols.device_mac ?? cols.device_ip;
  const inserted = await q.run(
    `INSERT INTO alerts (id, ts, rule, severity, device_mac, device_ip, device_key, device_profile, dst_country, evidence_flows, record, sensor, received_at, status)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open')
     ON CONFLICT (id) DO NOTHING`,
    [str(a.id, 'id'), cols.ts, cols.rule, cols.severity, cols.device_mac, cols.device_ip, key, cols.device_profile, cols.dst_country,
      cols.evidence_flows, cols.record, sensor, now],
  );
  if (inserted) return true;
  // A sensor re-sends an alert as more flows match it. The analyst's state,
  // the first sensor and received_at stay; a stale copy (fewer flows) is ignored.
  await q.run(
    `UPDATE alerts SET ts = ?, rule = ?, severity = ?, device_mac = ?, device_ip = ?, device_key = ?, device_profile = ?, dst_country = ?,
       evidence_flows = ?, record = ?
     WHERE id = ? AND evidence_flows <= ?`,
    [cols.ts, cols.rule, cols.severity, cols.device_mac, cols.device_ip, key, cols.device_profile, cols.dst_country,
      cols.evidence_flows, cols.record, a.id, cols.evidence_flows],
  );
  return false;
}

async function applyDevice(q: Queryable, sensor: string, d: DeviceRecord, now: number): Promise<void> {
  obj(d, 'data');
  if (!Array.isArray(d.ips)) throw new Invalid('ips must be an array');
  const key = deviceKey(d);
  if (key === null) throw new Invalid('a device needs a mac or at least one IP');
  // Equal last_seen: the later report wins, it is at least as complete.
  await q.run(
    `INSERT INTO devices (key, mac, last_seen, vendor_country, record, sensor, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (key) DO UPDATE SET mac = excluded.mac, last_seen = excluded.last_seen, vendor_country = excluded.vendor_country,
       record = excluded.record, sensor = excluded.sensor, updated_at = excluded.updated_at
     WHERE excluded.last_seen >= devices.last_seen`,
    [str(key, 'mac'), optStr(d.mac, 'mac'), num(d.last_seen, 'last_seen'), optStr(d.vendor_country, 'vendor_country'), JSON.stringify(d), sensor, now],
  );
}

async function applyEvidence(q: Queryable, e: { alert_id: string; pcap_base64: string }, now: number): Promise<void> {
  obj(e, 'data');
  const b64 = typeof e.pcap_base64 === 'string' ? e.pcap_base64.replace(/\s+/g, '') : null;
  // Buffer.from(.., 'base64') skips what it does not understand; a corrupt pcap must not be stored as if it were fine.
  if (b64 === null || !BASE64.test(b64)) throw new Invalid('pcap_base64 must be base64');
  await q.run(
    `INSERT INTO evidence (alert_id, pcap, received_at) VALUES (?, ?, ?)
     ON CONFLICT (alert_id) DO UPDATE SET pcap = excluded.pcap, received_at = excluded.received_at`,
    [str(e.alert_id, 'alert_id'), Buffer.from(b64, 'base64'), now],
  );
}

async function loadAlerts(q: Queryable, ids: string[]): Promise<StoredAlert[]> {
  const out: StoredAlert[] = [];
  for (const id of ids) {
    const [r] = await q.all<AlertRow>(`SELECT ${ALERT_COLUMNS} FROM alerts a WHERE a.id = ?`, [id]);
    if (r) out.push(toStoredAlert(r));
  }
  return out;
}

async function loadDevices(q: Queryable, key: string | null): Promise<StoredDevice[]> {
  const where = key === null ? '' : 'WHERE d.key = ?';
  const params = key === null ? [] : [key];
  const rows = await q.all<{ key: string; record: string; sensor: string; profile: string | null }>(
    `SELECT d.key, d.record, d.sensor, ${PROFILE_OF('d.key')} AS profile FROM devices d ${where} ORDER BY d.key`,
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
  return rows.map((r) => ({ ...(JSON.parse(r.record) as DeviceRecord), sensor: r.sensor, profile: r.profile, countries: countries.get(r.key) ?? [] }));
}

export function createSqlStore(db: Driver): Store {
  return {
    kind: db.kind,
    migrate: () => db.migrate(),

    async ingest(sensor, events, now) {
      return db.tx(async (q) => {
        const result: IngestResult = { accepted: 0, duplicates: 0 };
        const fresh = new Set<string>();
        const kinds = new Map<string, number>();
        const refuse = (i: number, e: unknown): never => {
          if (e instanceof Invalid || db.isDataError(e)) {
            const ev = events[i];
            const what = typeof ev === 'object' && ev ? `${String(ev.kind)} ${String(ev.key)}` : String(ev);
            throw new StoreError('BAD_EVENT', `event ${i} (${what}): ${(e as Error).message}; nothing of the batch was stored`);
          }
          throw e;
        };
        const heads: [kind: string, key: string][] = [];
        for (const [i, ev] of events.entries()) {
          try {
            const kind = str((ev as { kind?: unknown }).kind, 'kind');
            if (!['flow', 'alert', 'device', 'evidence'].includes(kind)) throw new Invalid(`unknown kind '${kind}'`);
            heads.push([kind, str(ev.key, 'key')]);
          } catch (e) {
            refuse(i, e);
          }
        }
        // Which keys are new, in a few statements; within the batch the first of a repeated key counts.
        const newKeys = new Set<string>();
        for (const part of chunks(heads)) {
          const got = await q.all<{ key: string }>(
            `INSERT INTO events (sensor, key, kind, received_at) VALUES ${values(part.length, 4)} ON CONFLICT (sensor, key) DO NOTHING RETURNING key`,
            part.flatMap(([kind, key]) => [sensor.name, key, kind, now]),
          );
          for (const r of got) newKeys.add(r.key);
        }
        const flows: FlowRow[] = [];
        for (const [i, ev] of events.entries()) {
          const [kind, key] = heads[i];
          if (!newKeys.delete(key)) {
            result.duplicates++;
            continue;
          }
          result.accepted++;
          kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
          try {
            if (kind === 'flow') flows.push(flowRow(sensor.name, (ev as { data: FlowRecord }).data));
            else await applyEvent(q, sensor.name, ev, now, fresh);
          } catch (e) {
            refuse(i, e);
          }
        }
        // Flows touch only their own tables, so they can go last, together. Every value was checked
        // above, so the database has nothing left to refuse in them but for a bug, reported as such.
        try {
          await applyFlows(q, flows);
        } catch (e) {
          if (!db.isDataError(e)) throw e;
          throw new StoreError('BAD_EVENT', `the database refused a flow of the batch: ${(e as Error).message}; nothing of the batch was stored`);
        }
        await q.run(
          `INSERT INTO sensors (name, version, last_seen, lag_s, events) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET version = excluded.version, last_seen = excluded.last_seen, lag_s = excluded.lag_s,
             events = sensors.events + excluded.events`,
          [sensor.name, sensor.version, now, sensor.lag_s, result.accepted],
        );
        for (const [kind, n] of kinds) {
          await q.run(
            `INSERT INTO ingest_counts (sensor, kind, events) VALUES (?, ?, ?)
             ON CONFLICT (sensor, kind) DO UPDATE SET events = ingest_counts.events + excluded.events`,
            [sensor.name, kind, n],
          );
        }
        // Read back at the end: has_pcap and the latest evidence of an alert that grew within the batch.
        return { ...result, newAlerts: await loadAlerts(q, [...fresh]) };
      });
    },

    async listAlerts(f: AlertFilter) {
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (sql: string, ...p: unknown[]): void => {
        where.push(sql);
        params.push(...p);
      };
      if (f.from !== undefined) add('a.ts >= ?', f.from);
      if (f.to !== undefined) add('a.ts <= ?', f.to);
      if (f.rule !== undefined) add('a.rule = ?', f.rule);
      if (f.severity !== undefined) add('a.severity = ?', f.severity);
      if (f.device !== undefined) add('(a.device_mac = ? OR a.device_ip = ?)', f.device, f.device);
      if (f.country !== undefined) add('a.dst_country = ?', f.country);
      if (f.status !== undefined) add('a.status = ?', f.status);
      if (f.cursor !== undefined && f.cursor !== '') {
        const c = decodeCursor(f.cursor);
        add('(a.ts < ? OR (a.ts = ? AND a.id < ?))', c.ts, c.ts, c.id);
      }
      const limit = Math.min(MAX_LIMIT, Math.max(1, Math.floor(Number.isFinite(f.limit) ? f.limit : MAX_LIMIT)));
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
    },

    async getAlert(id) {
      const [a] = await db.read((q) => loadAlerts(q, [id]));
      return a ?? null;
    },

    async updateAlert(id, change, now) {
      try {
        return await db.tx(async (q) => {
          const n = await q.run(`UPDATE alerts SET status = ?, note = ?, updated_by = ?, updated_at = ? WHERE id = ?`, [
            change.status, change.note, change.who, now, id,
          ]);
          if (!n) return null;
          const [a] = await loadAlerts(q, [id]);
          return a ?? null;
        });
      } catch (e) {
        if (db.isDataError(e)) throw new StoreError('BAD_EVENT', `cannot set alert ${id} to ${JSON.stringify(change.status)}: ${(e as Error).message}`);
        throw e;
      }
    },

    async getEvidence(alertId) {
      const rows = await db.read((q) => q.all<{ pcap: Buffer }>(`SELECT pcap FROM evidence WHERE alert_id = ?`, [alertId]));
      return rows[0] ? Buffer.from(rows[0].pcap) : null;
    },

    listDevices: () => db.read((q) => loadDevices(q, null)),

    async getDevice(mac) {
      const [d] = await db.read((q) => loadDevices(q, mac));
      return d ?? null;
    },

    listSensors: () =>
      db.read((q) => q.all<SensorStatus>(`SELECT name, version, last_seen, lag_s, events FROM sensors ORDER BY name`)),

    metrics: () =>
      db.read(async (q): Promise<MetricsSnapshot> => {
        const devices = await q.all<{ vendor_country: string; profiled: unknown; count: number }>(
          `SELECT vendor_country, profiled, COUNT(*) AS count FROM (
             SELECT COALESCE(d.vendor_country, '') AS vendor_country,
               EXISTS (SELECT 1 FROM alerts a WHERE a.device_key = d.key AND a.device_profile IS NOT NULL) AS profiled
             FROM devices d
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
      }),

    ping: () => db.ping(),
    close: () => db.close(),
  };
}

async function applyEvent(q: Queryable, sensor: string, ev: IngestEvent, now: number, fresh: Set<string>): Promise<void> {
  switch (ev.kind) {
    case 'flow':
      return; // batched: applyFlows
    case 'alert':
      if (await applyAlert(q, sensor, ev.data, now)) fresh.add(ev.data.id);
      return;
    case 'device':
      return applyDevice(q, sensor, ev.data, now);
    case 'evidence':
      return applyEvidence(q, ev.data, now);
  }
}

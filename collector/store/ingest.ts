// Storing a sensor's batch: every event checked on its own, the good ones
// stored and each (sensor, key) once, the refused ones kept as dead letters,
// the whole batch in one transaction. The SQL is the common subset of SQLite
// and PostgreSQL (`?` placeholders, INSERT ... ON CONFLICT) but for how many
// rows go in one statement (insertRows).
import { randomUUID } from 'node:crypto';
import type { IngestResult, RefusedEvent, StoredAlert } from '../../contract/types.js';
import { StoreError } from '../errors.js';
import { boundedJson, DEAD_LETTER_EVENT_CHARS } from './bounds.js';
import type { SensorReport } from './store.js';
import { Refusal } from './checks.js';
import type { Driver, Queryable } from './driver.js';
import { type AlertColumns, type FlowRow, prepare, type Prepared } from './prepare.js';
import { enqueue } from './outbox.js';
import type { FlowPartitions } from './partitions.js';
import { loadAlerts } from './queries.js';

/**
 * A column of a bulk insert, with the PostgreSQL array type its values are
 * sent as; 'json' is a text column of JSON.stringify's output.
 */
type Column = readonly [name: string, pgArray: 'text' | 'float8' | 'int8' | 'json'];
const text = (name: string): Column => [name, 'text'];
const json = (name: string): Column => [name, 'json'];
const real = (name: string): Column => [name, 'float8'];
const int = (name: string): Column => [name, 'int8'];

const FLOW_COLUMNS: Column[] = [
  text('sensor'), text('uid'), real('ts'), text('src_mac'), text('src_ip'), text('dst_ip'), int('dst_port'), text('proto'),
  text('server_name'), text('dst_country'), int('src_bytes'), int('dst_bytes'), json('record'), real('received_at'),
];

/** `count` rows of `width` placeholders: "(?, ?), (?, ?)". */
const values = (count: number, width: number): string => Array(count).fill(`(${Array(width).fill('?').join(', ')})`).join(', ');

/** Rows per multi-row statement on SQLite: well under its limit on bound parameters. */
const ROWS_PER_STATEMENT = 200;

function chunks<T>(list: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += ROWS_PER_STATEMENT) out.push(list.slice(i, i + ROWS_PER_STATEMENT));
  return out;
}

/**
 * PostgreSQL's array literal of JSON texts, from one JSON.stringify of them
 * all. Inside a quoted array element a backslash escapes the next character,
 * and that is all JSON's string escaping does to a JSON text: a JSON text
 * holds no control character and no lone surrogate (JSON.stringify escaped
 * them), so only quotes and backslashes are escaped. The driver escaped each
 * element with two regular expressions, 7 % of the collector's time.
 */
function jsonArrayLiteral(texts: string[]): string {
  return `{${JSON.stringify(texts).slice(1, -1)}}`;
}

/**
 * Inserts rows (each a value per column, in order); `tail` is the ON CONFLICT
 * and RETURNING clauses. SQLite takes multi-row VALUES lists of 200 rows.
 * PostgreSQL takes every row in one statement of one array per column
 * (unnest), whose text is the same whatever the number of rows: it parsed
 * and planned each 200-row VALUES list (2,800 parameters for flows) anew,
 * and stores 40 % more flows a second this way (COPY through a temporary
 * table measured in between).
 */
async function insertRows<T = unknown>(b: Batch, table: string, columns: readonly Column[], rows: unknown[][], tail: string): Promise<T[]> {
  if (rows.length === 0) return [];
  const names = columns.map(([name]) => name).join(', ');
  // SQLite refuses all() for a statement that returns no rows.
  const send = (sql: string, params: unknown[]): Promise<T[]> => (tail.includes('RETURNING') ? b.q.all<T>(sql, params) : b.q.run(sql, params).then(() => []));
  if (b.db.kind === 'postgres') {
    const arrays = columns.map(([, type], i) => (type === 'json' ? jsonArrayLiteral(rows.map((r) => r[i] as string)) : rows.map((r) => r[i])));
    const casts = columns.map(([, type]) => `?::${type === 'json' ? 'text' : type}[]`);
    return send(`INSERT INTO ${table} (${names}) SELECT * FROM unnest(${casts.join(', ')}) ${tail}`, arrays);
  }
  const out: T[] = [];
  for (const part of chunks(rows)) out.push(...(await send(`INSERT INTO ${table} (${names}) VALUES ${values(part.length, columns.length)} ${tail}`, part.flat())));
  return out;
}

type Traffic = [device: string, country: string, flows: number, bytes: number];

/** Per device and country traffic, and per device destinations, of the flows new to the database. */
function tally(rows: FlowRow[], inserted: Set<string>): { traffic: Traffic[]; destinations: [device: string, dstIp: string][] } {
  const traffic = new Map<string, Traffic>();
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
  // In one order for every batch, so that two batches updating the same rows take their locks alike and cannot deadlock.
  const byKey = (x: [string, unknown], y: [string, unknown]) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0);
  return { traffic: [...traffic].sort(byKey).map(([, t]) => t), destinations: [...destinations.values()] };
}

/**
 * Stores a batch's flows with a few multi-row statements instead of three
 * round trips per flow (which held PostgreSQL to a few thousand flows/s).
 * A uid seen before, or twice in the batch, is stored and counted once.
 * Returns the traffic to count, which countIngest adds.
 */
async function applyFlows(b: Batch, rows: FlowRow[]): Promise<Traffic[]> {
  const { now } = b;
  // PostgreSQL's flows are partitioned by time, which its unique key must hold (migration 7).
  const key = b.db.kind === 'postgres' ? '(sensor, uid, ts)' : '(sensor, uid)';
  const got = await insertRows<{ uid: string }>(b, 'flows', FLOW_COLUMNS, rows.map((r) => [...r.params, now]), `ON CONFLICT ${key} DO NOTHING RETURNING uid`);
  const { traffic, destinations } = tally(rows, new Set(got.map((r) => r.uid)));
  await insertRows(b, 'device_destinations', [text('device'), text('dst_ip')], destinations, `ON CONFLICT (device, dst_ip) DO NOTHING`);
  return traffic;
}

/** Stores an alert its sensor owns; returns true when it is new to the database. */
async function applyAlert(q: Queryable, sensor: string, a: AlertColumns, now: number): Promise<boolean> {
  const inserted = await q.run(
    `INSERT INTO alerts (id, ts, rule, severity, device_mac, device_ip, device_key, device_profile, dst_country, dst_ip, dst_name, dst_asn, dst_as_org, evidence_flows, record, sensor, received_at, status)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open')
     ON CONFLICT (id) DO NOTHING`,
    [a.id, a.ts, a.rule, a.severity, a.device_mac, a.device_ip, a.device_key, a.device_profile, a.dst_country, a.dst_ip, a.dst_name, a.dst_asn, a.dst_as_org, a.evidence_flows, a.record, sensor, now],
  );
  if (inserted) return true;
  // A sensor re-sends an alert as more flows match it. The analyst's state
  // and received_at stay; a stale copy (fewer flows) is ignored.
  await q.run(
    `UPDATE alerts SET ts = ?, rule = ?, severity = ?, device_mac = ?, device_ip = ?, device_key = ?, device_profile = ?, dst_country = ?,
       dst_ip = ?, dst_name = ?, dst_asn = ?, dst_as_org = ?, evidence_flows = ?, record = ?
     WHERE id = ? AND sensor = ? AND evidence_flows <= ?`,
    [a.ts, a.rule, a.severity, a.device_mac, a.device_ip, a.device_key, a.device_profile, a.dst_country, a.dst_ip, a.dst_name, a.dst_asn, a.dst_as_org, a.evidence_flows, a.record, a.id, sensor, a.evidence_flows],
  );
  return false;
}

/** Each sensor keeps its own view of a device: a sensor cannot overwrite another's. */
async function applyDevice(q: Queryable, sensor: string, params: unknown[], now: number): Promise<void> {
  // Equal last_seen: the later report wins, it is at least as complete.
  await q.run(
    `INSERT INTO devices (key, mac, last_seen, vendor_country, record, sensor, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (sensor, key) DO UPDATE SET mac = excluded.mac, last_seen = excluded.last_seen, vendor_country = excluded.vendor_country,
       record = excluded.record, updated_at = excluded.updated_at
     WHERE excluded.last_seen >= devices.last_seen`,
    [...params, sensor, now],
  );
}

async function applyEvidence(q: Queryable, e: { alertId: string; pcap: Buffer }, now: number): Promise<void> {
  await q.run(
    `INSERT INTO evidence (alert_id, pcap, received_at) VALUES (?, ?, ?)
     ON CONFLICT (alert_id) DO UPDATE SET pcap = excluded.pcap, received_at = excluded.received_at`,
    [e.alertId, e.pcap, now],
  );
}

/** One batch being stored, inside its transaction. */
interface Batch {
  db: Driver;
  q: Queryable;
  sensor: SensorReport;
  now: number;
}

/** A refused event: what the answer says, and what its dead letter keeps. */
interface Rejected extends RefusedEvent {
  kind: string | null;
  event: unknown;
}

/** What applying the batch's new events left to do and to report. */
interface Applied {
  accepted: number;
  duplicates: number;
  kinds: Map<string, number>;
  /** ids of alerts new to the database */
  fresh: Set<string>;
  flows: FlowRow[];
}

type Good = [index: number, event: Prepared];

function rejected(ev: unknown, index: number, r: Refusal): Rejected {
  const e = typeof ev === 'object' && ev !== null ? (ev as { key?: unknown; kind?: unknown }) : {};
  return { index, key: typeof e.key === 'string' ? e.key : null, code: r.code, reason: r.reason, kind: typeof e.kind === 'string' ? e.kind : null, event: ev };
}

/** Every event checked on its own, before anything is written. */
function checkAll(sensor: string, events: readonly unknown[]): { good: Good[]; refused: Rejected[] } {
  const good: Good[] = [];
  const refused: Rejected[] = [];
  for (const [i, ev] of events.entries()) {
    try {
      good.push([i, prepare(sensor, ev)]);
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      refused.push(rejected(ev, i, e));
    }
  }
  return { good, refused };
}

/** The sensor an alert id belongs to: the first to store the alert or its evidence. */
async function ownerOf(b: Batch, id: string, owners: Map<string, string>): Promise<string> {
  let owner = owners.get(id);
  if (owner === undefined) {
    await b.q.run(`INSERT INTO alert_owners (id, sensor) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`, [id, b.sensor.name]);
    const [row] = await b.q.all<{ sensor: string }>(`SELECT sensor FROM alert_owners WHERE id = ?`, [id]);
    owner = row.sensor;
    owners.set(id, owner);
  }
  return owner;
}

/** Alerts and evidence of ids another sensor owns are refused (not_owner) and take nothing of it. */
async function keepOwned(b: Batch, good: Good[], refused: Rejected[], events: readonly unknown[]): Promise<Good[]> {
  const owners = new Map<string, string>();
  const kept: Good[] = [];
  for (const g of good) {
    const p = g[1];
    const id = p.kind === 'alert' ? p.alert.id : p.kind === 'evidence' ? p.evidence.alertId : null;
    if (id === null || (await ownerOf(b, id, owners)) === b.sensor.name) kept.push(g);
    else refused.push(rejected(events[g[0]], g[0], new Refusal('not_owner', `${p.kind === 'alert' ? 'data.id' : 'data.alert_id'}: alert ${JSON.stringify(id)} belongs to another sensor, which stored it first`)));
  }
  return kept;
}

/** Records the keys (insertRows) and returns those new to the database; within the batch the first of a repeated key counts. */
async function claimKeys(b: Batch, good: Good[]): Promise<Set<string>> {
  const rows = good.map(([, p]) => [b.sensor.name, p.key, p.kind, b.now]);
  const got = await insertRows<{ key: string }>(b, 'events', [text('sensor'), text('key'), text('kind'), real('received_at')], rows, `ON CONFLICT (sensor, key) DO NOTHING RETURNING key`);
  return new Set(got.map((r) => r.key));
}

/** Applies each new event but flows, which are kept to be stored together. */
async function applyNew(b: Batch, good: Good[], fresh: Set<string>): Promise<Applied> {
  const applied: Applied = { accepted: 0, duplicates: 0, kinds: new Map(), fresh: new Set(), flows: [] };
  for (const [, p] of good) {
    if (!fresh.delete(p.key)) {
      applied.duplicates++;
      continue;
    }
    applied.accepted++;
    applied.kinds.set(p.kind, (applied.kinds.get(p.kind) ?? 0) + 1);
    if (p.kind === 'flow') applied.flows.push(p.flow);
    else if (p.kind === 'alert') {
      if (await applyAlert(b.q, b.sensor.name, p.alert, b.now)) applied.fresh.add(p.alert.id);
    } else if (p.kind === 'device') await applyDevice(b.q, b.sensor.name, p.device, b.now);
    else await applyEvidence(b.q, p.evidence, b.now);
  }
  return applied;
}

/** Dead letters: each refused event, cut to a bound, with why; nothing of them is claimed, so a corrected resend is stored. */
async function keepDeadLetters(b: Batch, refused: Rejected[]): Promise<void> {
  const rows = refused.map((r) => {
    const { text: event, truncated } = boundedJson(r.event, DEAD_LETTER_EVENT_CHARS);
    return [randomUUID(), b.sensor.name, r.key?.slice(0, 1000) ?? null, r.kind?.slice(0, 64) ?? null, r.code, r.reason.slice(0, 2000), event, truncated ? 1 : 0, b.now];
  });
  const columns = [text('id'), text('sensor'), text('key'), text('kind'), text('code'), text('reason'), text('event'), int('truncated'), real('received_at')];
  await insertRows(b, 'dead_letters', columns, rows, '');
}

/**
 * The counters: every batch of a device or a sensor updates the same rows,
 * and on PostgreSQL a row stays locked until its transaction commits. They
 * are updated last, right before the commit: updated first, a concurrent
 * batch waited on them through all the rest of the other's statements, and
 * four connections stored little more than one.
 */
async function countIngest(b: Batch, accepted: number, kinds: Map<string, number>, traffic: Traffic[]): Promise<void> {
  await insertRows(b, 'device_traffic', [text('device'), text('country'), int('flows'), int('bytes_out')], traffic,
    `ON CONFLICT (device, country) DO UPDATE SET flows = device_traffic.flows + excluded.flows, bytes_out = device_traffic.bytes_out + excluded.bytes_out`);
  await b.q.run(
    `INSERT INTO sensors (name, version, last_seen, lag_s, spool_batches, spool_bytes, events) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET version = excluded.version, last_seen = excluded.last_seen, lag_s = excluded.lag_s,
             spool_batches = excluded.spool_batches, spool_bytes = excluded.spool_bytes, events = sensors.events + excluded.events`,
    [b.sensor.name, b.sensor.version, b.now, b.sensor.lag_s, b.sensor.spool_batches ?? null, b.sensor.spool_bytes ?? null, accepted],
  );
  for (const [kind, n] of [...kinds].sort(([x], [y]) => (x < y ? -1 : 1))) {
    await b.q.run(
      `INSERT INTO ingest_counts (sensor, kind, events) VALUES (?, ?, ?)
             ON CONFLICT (sensor, kind) DO UPDATE SET events = ingest_counts.events + excluded.events`,
      [b.sensor.name, kind, n],
    );
  }
}

/** Stores the good events of a batch, and keeps the refused ones as dead letters; see Store.ingest. */
export async function ingestBatch(
  db: Driver,
  sensor: Batch['sensor'],
  events: readonly unknown[],
  now: number,
  forwardTo: readonly string[] = [],
  partitions?: FlowPartitions,
): Promise<IngestResult & { newAlerts: StoredAlert[] }> {
  const checked = checkAll(sensor.name, events);
  // Only PostgreSQL partitions flows; SQLite's batch starts at once (a read issued after it must wait for it).
  if (partitions && db.kind === 'postgres') await partitions.ensure(checked.good.flatMap(([, p]) => (p.kind === 'flow' ? [p.flow.ts] : [])), now);
  try {
    return await storeChecked(db, sensor, checked, events, now, forwardTo);
  } catch (e) {
    // Every value was checked, so the database has nothing left to refuse but for a bug, reported as such.
    if (!db.isDataError(e)) throw e;
    throw new StoreError('BAD_EVENT', `the database refused an event the checks let through: ${(e as Error).message}; nothing of the batch was stored`);
  }
}

function storeChecked(db: Driver, sensor: Batch['sensor'], checked: { good: Good[]; refused: Rejected[] }, events: readonly unknown[], now: number, forwardTo: readonly string[]) {
  return db.tx(async (q) => {
    const b: Batch = { db, q, sensor, now };
    // A transaction may be run again: start each run from the checks' result.
    const refused = [...checked.refused];
    const good = await keepOwned(b, checked.good, refused, events);
    const applied = await applyNew(b, good, await claimKeys(b, good));
    // Flows touch only their own tables, so they go together.
    const traffic = await applyFlows(b, applied.flows);
    await keepDeadLetters(b, refused);
    // With the alerts, so that what was stored is also what will be forwarded, whatever happens next.
    await enqueue(q, forwardTo, [...applied.fresh], now);
    // Read back after every write of the alerts: has_pcap and the latest evidence of an alert that grew within the batch.
    const newAlerts = await loadAlerts(q, [...applied.fresh]);
    await countIngest(b, applied.accepted, applied.kinds, traffic);
    refused.sort((x, y) => x.index - y.index);
    return {
      accepted: applied.accepted,
      duplicates: applied.duplicates,
      refused: refused.map(({ index, key, code, reason }) => ({ index, key, code, reason })),
      newAlerts,
    };
  });
}

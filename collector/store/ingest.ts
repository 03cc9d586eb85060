// Storing a sensor's batch: every event checked, every (sensor, key) stored
// once, the whole batch in one transaction. The SQL is the common subset of
// SQLite and PostgreSQL: `?` placeholders, INSERT ... ON CONFLICT.
import type { AlertRecord, DeviceRecord, FlowRecord, IngestEvent, IngestResult, StoredAlert } from '../../contract/types.js';
import { StoreError } from '../errors.js';
import { base64, int, Invalid, num, obj, optStr, str } from './checks.js';
import type { Driver, Queryable } from './driver.js';
import { loadAlerts } from './queries.js';

/** A device is known by its MAC, or by its IP when the capture carries no link layer (alerts and flows likewise). */
export function deviceKey(d: DeviceRecord): string | null {
  return d.mac ?? d.ips[0] ?? null;
}

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
  return { traffic: [...traffic.values()], destinations: [...destinations.values()] };
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
  const { traffic, destinations } = tally(rows, inserted);
  for (const part of chunks(traffic)) {
    await q.run(
      `INSERT INTO device_traffic (device, country, flows, bytes_out) VALUES ${values(part.length, 4)}
       ON CONFLICT (device, country) DO UPDATE SET flows = device_traffic.flows + excluded.flows, bytes_out = device_traffic.bytes_out + excluded.bytes_out`,
      part.flat(),
    );
  }
  for (const part of chunks(destinations)) {
    await q.run(`INSERT INTO device_destinations (device, dst_ip) VALUES ${values(part.length, 2)} ON CONFLICT (device, dst_ip) DO NOTHING`, part.flat());
  }
}

/** The alerts columns of an alert event, checked. */
function alertColumns(a: AlertRecord) {
  obj(a, 'data');
  const device = obj(a.device, 'device');
  const destination = a.destination === null ? null : obj(a.destination, 'destination');
  const evidence = obj(a.evidence, 'evidence');
  return {
    ts: num(a.ts, 'ts'),
    rule: str(a.rule, 'rule'),
    severity: str(a.severity, 'severity'),
    device_mac: optStr(device.mac, 'device.mac'),
    device_ip: str(device.ip, 'device.ip'),
    device_profile: optStr(device.profile, 'device.profile'),
    dst_country: alertCountry(evidence, destination),
    evidence_flows: int(evidence.flows, 'evidence.flows'),
    record: JSON.stringify(a),
  };
}

/**
 * The country an alert is filed under (the API's `country` filter, the
 * metrics' label): for a watched-country callback the watched country that
 * made the call, which for an operator or a name is not where the address is
 * hosted; else the destination's country.
 */
function alertCountry(evidence: Record<string, unknown>, destination: Record<string, unknown> | null): string | null {
  const watch = evidence.watch;
  if (watch !== null && typeof watch === 'object' && !Array.isArray(watch)) {
    const country = (watch as Record<string, unknown>).country;
    if (country !== undefined && country !== null) return str(country, 'evidence.watch.country');
  }
  return destination ? optStr(destination.country, 'destination.country') : null;
}

/** Returns true when the alert is new to the database. */
async function applyAlert(q: Queryable, sensor: string, a: AlertRecord, now: number): Promise<boolean> {
  const cols = alertColumns(a);
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
  const pcap = base64(e.pcap_base64, 'pcap_base64');
  await q.run(
    `INSERT INTO evidence (alert_id, pcap, received_at) VALUES (?, ?, ?)
     ON CONFLICT (alert_id) DO UPDATE SET pcap = excluded.pcap, received_at = excluded.received_at`,
    [str(e.alert_id, 'alert_id'), pcap, now],
  );
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

/** One batch being stored, inside its transaction. */
interface Batch {
  db: Driver;
  q: Queryable;
  sensor: { name: string; version: string; lag_s: number | null };
  events: IngestEvent[];
  now: number;
}

/** What applying the batch's new events left to do and to report. */
interface Applied {
  result: IngestResult;
  kinds: Map<string, number>;
  /** ids of alerts new to the database */
  fresh: Set<string>;
  flows: FlowRow[];
}

/** Turns a refused value into BAD_EVENT naming event i; anything else is a failure and passes through. */
function refuse(b: Batch, i: number, e: unknown): never {
  if (e instanceof Invalid || b.db.isDataError(e)) {
    const ev = b.events[i];
    const what = typeof ev === 'object' && ev ? `${String(ev.kind)} ${String(ev.key)}` : String(ev);
    throw new StoreError('BAD_EVENT', `event ${i} (${what}): ${(e as Error).message}; nothing of the batch was stored`);
  }
  throw e;
}

const KINDS = ['flow', 'alert', 'device', 'evidence'];

/** Each event's kind and key, checked before anything is written. */
function heads(b: Batch): [kind: string, key: string][] {
  const out: [kind: string, key: string][] = [];
  for (const [i, ev] of b.events.entries()) {
    try {
      const kind = str((ev as { kind?: unknown }).kind, 'kind');
      if (!KINDS.includes(kind)) throw new Invalid(`unknown kind '${kind}'`);
      out.push([kind, str(ev.key, 'key')]);
    } catch (e) {
      refuse(b, i, e);
    }
  }
  return out;
}

/** Records the keys in a few statements and returns those new to the database; within the batch the first of a repeated key counts. */
async function claimKeys(b: Batch, keys: [kind: string, key: string][]): Promise<Set<string>> {
  const fresh = new Set<string>();
  for (const part of chunks(keys)) {
    const got = await b.q.all<{ key: string }>(
      `INSERT INTO events (sensor, key, kind, received_at) VALUES ${values(part.length, 4)} ON CONFLICT (sensor, key) DO NOTHING RETURNING key`,
      part.flatMap(([kind, key]) => [b.sensor.name, key, kind, b.now]),
    );
    for (const r of got) fresh.add(r.key);
  }
  return fresh;
}

/** Applies each new event but flows, which are checked and kept to be stored together. */
async function applyNew(b: Batch, keys: [kind: string, key: string][], fresh: Set<string>): Promise<Applied> {
  const applied: Applied = { result: { accepted: 0, duplicates: 0 }, kinds: new Map(), fresh: new Set(), flows: [] };
  for (const [i, ev] of b.events.entries()) {
    const [kind, key] = keys[i];
    if (!fresh.delete(key)) {
      applied.result.duplicates++;
      continue;
    }
    applied.result.accepted++;
    applied.kinds.set(kind, (applied.kinds.get(kind) ?? 0) + 1);
    try {
      if (kind === 'flow') applied.flows.push(flowRow(b.sensor.name, (ev as { data: FlowRecord }).data));
      else await applyEvent(b.q, b.sensor.name, ev, b.now, applied.fresh);
    } catch (e) {
      refuse(b, i, e);
    }
  }
  return applied;
}

/**
 * Flows touch only their own tables, so they go last, together. Every value
 * was checked, so the database has nothing left to refuse in them but for a
 * bug, reported as such.
 */
async function storeFlows(b: Batch, flows: FlowRow[]): Promise<void> {
  try {
    await applyFlows(b.q, flows);
  } catch (e) {
    if (!b.db.isDataError(e)) throw e;
    throw new StoreError('BAD_EVENT', `the database refused a flow of the batch: ${(e as Error).message}; nothing of the batch was stored`);
  }
}

async function countIngest(b: Batch, accepted: number, kinds: Map<string, number>): Promise<void> {
  await b.q.run(
    `INSERT INTO sensors (name, version, last_seen, lag_s, events) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET version = excluded.version, last_seen = excluded.last_seen, lag_s = excluded.lag_s,
             events = sensors.events + excluded.events`,
    [b.sensor.name, b.sensor.version, b.now, b.sensor.lag_s, accepted],
  );
  for (const [kind, n] of kinds) {
    await b.q.run(
      `INSERT INTO ingest_counts (sensor, kind, events) VALUES (?, ?, ?)
             ON CONFLICT (sensor, kind) DO UPDATE SET events = ingest_counts.events + excluded.events`,
      [b.sensor.name, kind, n],
    );
  }
}

/**
 * Stores a batch atomically; see Store.ingest. Throws StoreError BAD_EVENT,
 * with nothing stored, when the store refuses any event.
 */
export function ingestBatch(db: Driver, sensor: Batch['sensor'], events: IngestEvent[], now: number): Promise<IngestResult & { newAlerts: StoredAlert[] }> {
  return db.tx(async (q) => {
    const b: Batch = { db, q, sensor, events, now };
    const keys = heads(b);
    const applied = await applyNew(b, keys, await claimKeys(b, keys));
    await storeFlows(b, applied.flows);
    await countIngest(b, applied.result.accepted, applied.kinds);
    // Read back at the end: has_pcap and the latest evidence of an alert that grew within the batch.
    return { ...applied.result, newAlerts: await loadAlerts(q, [...applied.fresh]) };
  });
}

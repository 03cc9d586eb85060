// The schema is written once and rendered per dialect, so SQLite and
// PostgreSQL cannot drift apart. Text columns use the "C" collation on
// PostgreSQL because SQLite compares bytes: sort order and keyset pagination
// must not depend on the server's locale.

import type { Queryable } from './driver.js';

export type Dialect = 'sqlite' | 'postgres';

interface ColumnTypes {
  text: string;
  real: string;
  int: string;
  blob: string;
}

const TYPES: Record<Dialect, ColumnTypes> = {
  sqlite: { text: 'TEXT', real: 'REAL', int: 'INTEGER', blob: 'BLOB' },
  postgres: { text: 'TEXT COLLATE "C"', real: 'DOUBLE PRECISION', int: 'BIGINT', blob: 'BYTEA' },
};

export interface Migration {
  version: number;
  name: string;
  statements(t: ColumnTypes, dialect: Dialect): string[];
  /** fills new columns from what rows already hold, after the statements and in the same step */
  backfill?(q: Queryable): Promise<void>;
}

// Migration 1, split by what the tables hold; the statements run in this order.

/** Sensors, and the keys of every event they delivered. */
function ingestTables({ text, real, int }: ColumnTypes): string[] {
  return [
    `CREATE TABLE sensors (
        name ${text} PRIMARY KEY,
        version ${text} NOT NULL,
        last_seen ${real} NOT NULL,
        lag_s ${real},
        events ${int} NOT NULL DEFAULT 0
      )`,
    // One row per (sensor, event key) ever accepted: this is what makes
    // redelivery after a lost acknowledgement harmless.
    `CREATE TABLE events (
        sensor ${text} NOT NULL,
        key ${text} NOT NULL,
        kind ${text} NOT NULL,
        received_at ${real} NOT NULL,
        PRIMARY KEY (sensor, key)
      )`,
    // Kept alongside events so /metrics does not count a table that only grows.
    `CREATE TABLE ingest_counts (
        sensor ${text} NOT NULL,
        kind ${text} NOT NULL,
        events ${int} NOT NULL,
        PRIMARY KEY (sensor, kind)
      )`,
  ];
}

/** The flows table's columns as migration 1 made them (migration 3 added received_at). */
function flowColumns({ text, real, int }: Omit<ColumnTypes, 'blob'>): string {
  return `sensor ${text} NOT NULL,
        uid ${text} NOT NULL,
        ts ${real} NOT NULL,
        src_mac ${text},
        src_ip ${text} NOT NULL,
        dst_ip ${text} NOT NULL,
        dst_port ${int} NOT NULL,
        proto ${text} NOT NULL,
        server_name ${text},
        dst_country ${text},
        src_bytes ${int} NOT NULL,
        dst_bytes ${int} NOT NULL,
        record ${text} NOT NULL`;
}

/** Flows and the per-device traffic counted from them. */
function flowTables({ text, real, int }: ColumnTypes): string[] {
  return [
    `CREATE TABLE flows (
        ${flowColumns({ text, real, int })},
        PRIMARY KEY (sensor, uid)
      )`,
    `CREATE INDEX flows_ts ON flows (ts)`,
    `CREATE INDEX flows_src ON flows (src_mac, ts)`,
    `CREATE TABLE device_traffic (
        device ${text} NOT NULL,
        country ${text} NOT NULL,
        flows ${int} NOT NULL,
        bytes_out ${int} NOT NULL,
        PRIMARY KEY (device, country)
      )`,
    `CREATE TABLE device_destinations (
        device ${text} NOT NULL,
        dst_ip ${text} NOT NULL,
        PRIMARY KEY (device, dst_ip)
      )`,
  ];
}

/** Alerts, with their analyst state, and evidence captures. */
function alertTables({ text, real, int, blob }: ColumnTypes): string[] {
  return [
    `CREATE TABLE alerts (
        id ${text} PRIMARY KEY,
        ts ${real} NOT NULL,
        rule ${text} NOT NULL,
        severity ${text} NOT NULL CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
        device_mac ${text},
        device_ip ${text} NOT NULL,
        device_key ${text} NOT NULL,
        device_profile ${text},
        dst_country ${text},
        evidence_flows ${int} NOT NULL,
        record ${text} NOT NULL,
        sensor ${text} NOT NULL,
        received_at ${real} NOT NULL,
        status ${text} NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
        note ${text},
        updated_by ${text},
        updated_at ${real}
      )`,
    // Every filter is followed by the (ts, id) order of the listing.
    `CREATE INDEX alerts_ts ON alerts (ts, id)`,
    `CREATE INDEX alerts_rule ON alerts (rule, ts, id)`,
    `CREATE INDEX alerts_severity ON alerts (severity, ts, id)`,
    `CREATE INDEX alerts_device_mac ON alerts (device_mac, ts, id)`,
    `CREATE INDEX alerts_device_ip ON alerts (device_ip, ts, id)`,
    `CREATE INDEX alerts_device_key ON alerts (device_key, ts, id)`,
    `CREATE INDEX alerts_country ON alerts (dst_country, ts, id)`,
    `CREATE INDEX alerts_status ON alerts (status, ts, id)`,
    // No foreign key to alerts: a sensor may deliver the pcap before the alert.
    `CREATE TABLE evidence (
        alert_id ${text} PRIMARY KEY,
        pcap ${blob} NOT NULL,
        received_at ${real} NOT NULL
      )`,
  ];
}

/** The device inventory. */
function deviceTables({ text, real }: ColumnTypes): string[] {
  return [
    `CREATE TABLE devices (
        key ${text} PRIMARY KEY,
        mac ${text},
        last_seen ${real} NOT NULL,
        vendor_country ${text},
        record ${text} NOT NULL,
        sensor ${text} NOT NULL,
        updated_at ${real} NOT NULL
      )`,
  ];
}

// Migration 2: per-event ingest and tenancy between sensors.

/** Refused events, kept with why (GET /api/v1/dead-letters). */
function deadLetterTables({ text, real, int }: ColumnTypes): string[] {
  return [
    `CREATE TABLE dead_letters (
        id ${text} PRIMARY KEY,
        sensor ${text} NOT NULL,
        key ${text},
        kind ${text},
        code ${text} NOT NULL,
        reason ${text} NOT NULL,
        event ${text} NOT NULL,
        truncated ${int} NOT NULL,
        received_at ${real} NOT NULL
      )`,
    // Every filter is followed by the (received_at, id) order of the listing.
    `CREATE INDEX dead_letters_received ON dead_letters (received_at, id)`,
    `CREATE INDEX dead_letters_sensor ON dead_letters (sensor, received_at, id)`,
    `CREATE INDEX dead_letters_code ON dead_letters (code, received_at, id)`,
  ];
}

/**
 * An alert id, and its evidence, belong to the sensor that first stored
 * either; no other sensor's event may change them. Alerts already stored
 * belong to the sensor that delivered them first.
 */
function ownerTables({ text }: ColumnTypes): string[] {
  return [
    `CREATE TABLE alert_owners (
        id ${text} PRIMARY KEY,
        sensor ${text} NOT NULL
      )`,
    `INSERT INTO alert_owners (id, sensor) SELECT id, sensor FROM alerts`,
  ];
}

/** Devices keyed by sensor and MAC: each sensor keeps its own view, which no other sensor can overwrite. */
function devicesBySensor({ text, real }: ColumnTypes): string[] {
  return [
    `CREATE TABLE devices_by_sensor (
        sensor ${text} NOT NULL,
        key ${text} NOT NULL,
        mac ${text},
        last_seen ${real} NOT NULL,
        vendor_country ${text},
        record ${text} NOT NULL,
        updated_at ${real} NOT NULL,
        PRIMARY KEY (sensor, key)
      )`,
    `INSERT INTO devices_by_sensor (sensor, key, mac, last_seen, vendor_country, record, updated_at)
       SELECT sensor, key, mac, last_seen, vendor_country, record, updated_at FROM devices`,
    `DROP TABLE devices`,
    `ALTER TABLE devices_by_sensor RENAME TO devices`,
    `CREATE INDEX devices_key ON devices (key, last_seen)`,
  ];
}

/**
 * Migration 3: the audit log of changes made through the API, and what
 * retention needs to find old rows without scanning: when each flow was
 * received (NULL for flows stored before this migration, which are then aged
 * by their own time), and indexes on when evidence and event keys arrived.
 */
function auditAndRetention({ text, real }: ColumnTypes): string[] {
  return [
    `CREATE TABLE audit_log (
        id ${text} PRIMARY KEY,
        at ${real} NOT NULL,
        actor ${text} NOT NULL,
        role ${text} NOT NULL,
        action ${text} NOT NULL,
        target ${text},
        detail ${text} NOT NULL
      )`,
    `CREATE INDEX audit_log_at ON audit_log (at, id)`,
    `CREATE INDEX audit_log_actor ON audit_log (actor, at, id)`,
    `ALTER TABLE flows ADD COLUMN received_at ${real}`,
    `CREATE INDEX evidence_received_at ON evidence (received_at)`,
    `CREATE INDEX events_kind_received_at ON events (kind, received_at)`,
  ];
}

/**
 * Migration 4: what the analysts' web UI needs. Mutes: a rule, device or
 * destination (any of them, NULL meaning any) hidden from the alert queue
 * until it expires or is lifted; muted alerts are kept and counted. Alerts
 * get their destination's address and name as columns, so that a mute can be
 * matched in the queue's query; flows get indexes for the flows API.
 */
function mutesAndFlowLookups({ text, real }: ColumnTypes): string[] {
  return [
    `CREATE TABLE mutes (
        id ${text} PRIMARY KEY,
        rule ${text},
        device ${text},
        destination ${text},
        reason ${text} NOT NULL,
        created_by ${text} NOT NULL,
        created_at ${real} NOT NULL,
        expires_at ${real} NOT NULL,
        lifted_by ${text},
        lifted_at ${real}
      )`,
    `CREATE INDEX mutes_expires ON mutes (expires_at)`,
    `ALTER TABLE alerts ADD COLUMN dst_ip ${text}`,
    `ALTER TABLE alerts ADD COLUMN dst_name ${text}`,
    `CREATE INDEX alerts_dst_ip ON alerts (dst_ip, ts, id)`,
    `CREATE INDEX alerts_sensor ON alerts (sensor, ts, id)`,
    `CREATE INDEX flows_dst ON flows (dst_ip, ts)`,
    `CREATE INDEX flows_uid ON flows (uid)`,
  ];
}

/** Alerts stored before migration 4 get their destination columns from their records. */
async function backfillAlertDestinations(q: Queryable): Promise<void> {
  const text = (v: unknown) => (typeof v === 'string' ? v : null);
  await backfillFromDestination(q, 'dst_ip IS NULL AND dst_name IS NULL', ['dst_ip', 'dst_name'], (d) => [text(d.ip), text(d.name)]);
}

/**
 * Sets new alert columns from the destination of each stored record the
 * `where` condition selects; a row whose values would all be NULL is left.
 */
async function backfillFromDestination(q: Queryable, where: string, columns: string[], values: (d: Record<string, unknown>) => unknown[]): Promise<void> {
  const rows = await q.all<{ id: string; record: string }>(`SELECT id, record FROM alerts WHERE ${where}`);
  const set = columns.map((c) => `${c} = ?`).join(', ');
  for (const r of rows) {
    const d = (JSON.parse(r.record) as { destination?: Record<string, unknown> | null }).destination;
    const v = d ? values(d) : [];
    if (v.some((x) => x !== null)) await q.run(`UPDATE alerts SET ${set} WHERE id = ?`, [...v, r.id]);
  }
}

/**
 * Migration 5: the SIEM forwarder's outbox. A row per (target, alert) is
 * written in the transaction that stores the alert, and deleted once the
 * target took it: a restart or a dead receiver loses nothing. A collector
 * claims rows (claimed_by, until claimed_until) so that collectors sharing
 * the database do not send an alert twice; a claim of a collector that died
 * runs out and the rows are sent by another.
 */
function forwardOutbox({ text, real, int }: ColumnTypes): string[] {
  return [
    `CREATE TABLE forward_outbox (
        target ${text} NOT NULL,
        alert_id ${text} NOT NULL,
        enqueued_at ${real} NOT NULL,
        attempts ${int} NOT NULL DEFAULT 0,
        next_at ${real} NOT NULL,
        claimed_by ${text},
        claimed_until ${real},
        last_error ${text},
        PRIMARY KEY (target, alert_id)
      )`,
    `CREATE INDEX forward_outbox_due ON forward_outbox (target, next_at, enqueued_at, alert_id)`,
  ];
}

/**
 * Migration 6: the destination's operator on alerts, for the queue's
 * operator filter; and what waited in each sensor's spool when its last
 * batch came (its spool headers), for the sensors page.
 */
function alertOperators({ text, int }: ColumnTypes): string[] {
  return [
    `ALTER TABLE alerts ADD COLUMN dst_asn ${int}`,
    `ALTER TABLE alerts ADD COLUMN dst_as_org ${text}`,
    `CREATE INDEX alerts_dst_asn ON alerts (dst_asn, ts, id)`,
    `CREATE INDEX alerts_dst_as_org ON alerts (dst_as_org, ts, id)`,
    `ALTER TABLE sensors ADD COLUMN spool_batches ${int}`,
    `ALTER TABLE sensors ADD COLUMN spool_bytes ${int}`,
  ];
}

/** Alerts stored before migration 6 get their operator columns from their records. */
async function backfillAlertOperators(q: Queryable): Promise<void> {
  await backfillFromDestination(q, 'dst_ip IS NOT NULL OR dst_name IS NOT NULL', ['dst_asn', 'dst_as_org'], (d) => [
    typeof d.asn === 'number' && Number.isInteger(d.asn) ? d.asn : null,
    typeof d.as_org === 'string' ? d.as_org : null,
  ]);
}

/** The columns of the flows table, in order (received_at was added by migration 3). */
const FLOW_COLUMNS = 'sensor, uid, ts, src_mac, src_ip, dst_ip, dst_port, proto, server_name, dst_country, src_bytes, dst_bytes, record, received_at';

/**
 * Migration 7: on PostgreSQL, flows partitioned by day of their time
 * (partitions.ts), so that retention drops days. The key gains ts, which a
 * partitioned table's unique keys must hold; a flow's uid is made from its
 * time, so (sensor, uid) stays unique. Flows stored before go to the default
 * partition. SQLite has no partitions: nothing changes there.
 */
function flowsByDay({ text, real, int }: ColumnTypes, dialect: Dialect): string[] {
  if (dialect !== 'postgres') return [];
  return [
    `DROP INDEX flows_ts`,
    `DROP INDEX flows_src`,
    `DROP INDEX flows_dst`,
    `DROP INDEX flows_uid`,
    `ALTER TABLE flows RENAME TO flows_unpartitioned`,
    `ALTER TABLE flows_unpartitioned RENAME CONSTRAINT flows_pkey TO flows_unpartitioned_pkey`,
    `CREATE TABLE flows (
        ${flowColumns({ text, real, int })},
        received_at ${real},
        PRIMARY KEY (sensor, uid, ts)
      ) PARTITION BY RANGE (ts)`,
    `CREATE TABLE flows_default PARTITION OF flows DEFAULT`,
    `INSERT INTO flows (${FLOW_COLUMNS}) SELECT ${FLOW_COLUMNS} FROM flows_unpartitioned`,
    `DROP TABLE flows_unpartitioned`,
    `CREATE INDEX flows_ts ON flows (ts)`,
    `CREATE INDEX flows_src ON flows (src_mac, ts)`,
    `CREATE INDEX flows_dst ON flows (dst_ip, ts)`,
    `CREATE INDEX flows_uid ON flows (uid)`,
  ];
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    statements: (t) => [...ingestTables(t), ...flowTables(t), ...alertTables(t), ...deviceTables(t)],
  },
  {
    version: 2,
    name: 'dead letters, alert owners, devices per sensor',
    statements: (t) => [...deadLetterTables(t), ...ownerTables(t), ...devicesBySensor(t)],
  },
  {
    version: 3,
    name: 'audit log and retention',
    statements: auditAndRetention,
  },
  {
    version: 4,
    name: 'mutes, alert destinations, flow lookups',
    statements: mutesAndFlowLookups,
    backfill: backfillAlertDestinations,
  },
  {
    version: 5,
    name: 'forwarder outbox',
    statements: forwardOutbox,
  },
  {
    version: 6,
    name: 'alert operators, sensor spool depth',
    statements: alertOperators,
    backfill: backfillAlertOperators,
  },
  {
    version: 7,
    name: 'flows partitioned by day (PostgreSQL)',
    statements: flowsByDay,
  },
];

export const SCHEMA_MIGRATIONS_DDL = (d: Dialect): string =>
  `CREATE TABLE IF NOT EXISTS schema_migrations (
    version ${TYPES[d].int} PRIMARY KEY,
    name ${TYPES[d].text} NOT NULL,
    applied_at ${TYPES[d].real} NOT NULL
  )`;

export function migrationStatements(m: Migration, d: Dialect): string[] {
  return m.statements(TYPES[d], d);
}

export const LATEST_VERSION = Math.max(...MIGRATIONS.map((m) => m.version));

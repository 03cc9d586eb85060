import type { Cutoffs, RetentionResult } from './retention.js';
import type { AlertState, DeadLetter, FlowRecord, DeviceRecord, IngestEvent, IngestResult, SensorStatus, StoredAlert } from '../../contract/types.js';

/** What a batch says of the sensor that sent it: its body (name, version, lag) and its spool headers (SPOOL_HEADERS; null when absent). */
export interface SensorReport {
  name: string;
  version: string;
  lag_s: number | null;
  spool_batches?: number | null;
  spool_bytes?: number | null;
}

export interface AlertFilter {
  /** epoch seconds, inclusive */
  from?: number;
  to?: number;
  rule?: string;
  severity?: string;
  /** device MAC (or IP for MAC-less devices) */
  device?: string;
  /** destination country */
  country?: string;
  status?: AlertState['status'];
  /** the sensor that delivered it */
  sensor?: string;
  /** destination address or name */
  destination?: string;
  /** the destination's operator: its AS organisation as GeoIP names it, or its AS number ("AS16509" or "16509") */
  operator?: string;
  /** hide: only alerts no mute in force covers; only: only those one covers; absent: both */
  muted?: 'hide' | 'only';
  /** epoch seconds the mutes are judged at (default: now) */
  now?: number;
  limit: number;
  /** opaque, from the previous page's next_cursor */
  cursor?: string;
}

/** Flows to list: each field narrows, the cursor continues a listing. */
export interface FlowFilter {
  /** flow uids (a sensor's own ids; with `sensor`, that sensor's flows only) */
  uids?: string[];
  sensor?: string;
  /** the source device's MAC, or its IP for MAC-less devices */
  device?: string;
  /** destination IP */
  dst?: string;
  /** epoch seconds of the flow's first packet, inclusive */
  from?: number;
  to?: number;
  limit: number;
  cursor?: string;
}

/** A flow as the collector stored it, with the sensor that delivered it. */
export type StoredFlow = FlowRecord & { sensor: string };

/** A rule, device or destination hidden from the alert queue until it expires or is lifted (NULL: any). */
export interface Mute {
  id: string;
  rule: string | null;
  /** device MAC (IP for MAC-less devices) */
  device: string | null;
  /** destination address or name */
  destination: string | null;
  reason: string;
  created_by: string;
  created_at: number;
  expires_at: number;
  lifted_by: string | null;
  lifted_at: number | null;
}

export type NewMute = Pick<Mute, 'rule' | 'device' | 'destination' | 'reason' | 'expires_at'>;

/** Alerts counted by one field (rule, severity, device or sensor), muted ones apart. */
export interface AlertGroup {
  key: string;
  count: number;
  muted: number;
  /** epoch seconds of the group's newest alert */
  newest: number;
}

export interface DeadLetterFilter {
  /** received_at, epoch seconds, inclusive */
  from?: number;
  to?: number;
  sensor?: string;
  code?: string;
  limit: number;
  /** opaque, from the previous page's next_cursor */
  cursor?: string;
}

/** A device as one sensor reports it; a device seen by two sensors is two of these. */
export interface StoredDevice extends DeviceRecord {
  /** the sensor whose view this is */
  sensor: string;
  profile: string | null;
  /** destination countries seen, with flows and bytes */
  countries: { country: string; flows: number; bytes_out: number }[];
}

/** What the collector's /metrics reports; gathered from the database so several collectors agree. */
export interface MetricsSnapshot {
  alerts: { rule: string; severity: string; country: string; count: number }[];
  openAlerts: { rule: string; severity: string; count: number }[];
  deviceTraffic: { device: string; country: string; flows: number; bytes_out: number }[];
  deviceDestinations: { device: string; destinations: number }[];
  devices: { vendor_country: string; profiled: boolean; count: number }[];
  sensors: { sensor: string; last_seen: number }[];
  ingest: { sensor: string; kind: string; count: number }[];
}

/** An entry of the audit log. */
export interface AuditEntry {
  id: string;
  /** epoch seconds */
  at: number;
  /** the API token's name, or `retention` */
  actor: string;
  /** the token's role, or `system` */
  role: string;
  /** the route (`PATCH /api/v1/alerts/:id`) or the job (`retention`) */
  action: string;
  /** what was changed: an alert id, a kind of data */
  target: string | null;
  /** the values set, and what they replaced */
  detail: Record<string, unknown>;
}

export interface AuditFilter {
  from?: number;
  to?: number;
  actor?: string;
  target?: string;
  limit: number;
  cursor?: string;
}

export type AuditActor = Pick<AuditEntry, 'actor' | 'role' | 'action'>;

/** One claimed row of the SIEM forwarder's outbox: the alert as stored now (null when retention removed it) and the flow of its first evidence uid. */
export interface OutboxItem {
  alertId: string;
  attempts: number;
  alert: StoredAlert | null;
  flow: FlowRecord | null;
}

export interface Outbox {
  /**
   * Up to `limit` rows of `target` that are due and not claimed (or whose
   * claim ran out), claimed for `owner` until `now + leaseS`: oldest first.
   */
  claim(target: string, owner: string, now: number, leaseS: number, limit: number): Promise<OutboxItem[]>;
  /** the target took them: the rows go */
  done(target: string, owner: string, alertIds: string[]): Promise<void>;
  /** the target did not take them: tried again from `nextAt`, by whichever collector claims them then */
  retry(target: string, owner: string, alertIds: string[], nextAt: number, error: string): Promise<void>;
  /** gives up every claim of `owner` (a collector shutting down) */
  release(owner: string): Promise<void>;
  /** rows waiting, by target */
  depth(): Promise<{ target: string; rows: number }[]>;
}

/** Storage behind the collector. SQLite and PostgreSQL implement it with the same behaviour. */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Creates or upgrades the schema; safe to call on every start and from several collectors at once. */
  migrate(): Promise<void>;
  /**
   * Stores the good events of a batch (events as they came off the wire) in
   * one transaction. Each event is checked on its own: a refused one is
   * listed in `refused`, kept as a dead letter and its key left unclaimed,
   * and does not keep the others out. Each (sensor, event key) is stored
   * once: a repeated key is counted as a duplicate and changes nothing. An
   * alert id, and its evidence, belong to the sensor that stored either
   * first. Returns the alerts that are new to the database (for
   * Alertmanager). Each new alert is put in the outbox of every target of
   * `forwardTo` (the SIEM forwarder's), in the same transaction.
   */
  ingest(sensor: SensorReport, events: readonly unknown[], now: number, forwardTo?: readonly string[]): Promise<IngestResult & { newAlerts: StoredAlert[] }>;
  /** the SIEM forwarder's outbox */
  readonly outbox: Outbox;
  /** Refused events, newest first. */
  listDeadLetters(f: DeadLetterFilter): Promise<{ items: DeadLetter[]; next_cursor: string | null }>;
  listAlerts(f: AlertFilter): Promise<{ items: StoredAlert[]; next_cursor: string | null }>;
  getAlert(id: string): Promise<StoredAlert | null>;
  updateAlert(id: string, change: { status: AlertState['status']; note: string | null; who: string }, now: number): Promise<StoredAlert | null>;
  getEvidence(alertId: string): Promise<Buffer | null>;
  /** Every sensor's view of every device, by device then sensor. */
  listDevices(): Promise<StoredDevice[]>;
  /** The view of the sensor that saw the device last. */
  getDevice(mac: string): Promise<StoredDevice | null>;
  listSensors(): Promise<SensorStatus[]>;
  metrics(): Promise<MetricsSnapshot>;
  /** updateAlert and its audit entry (who, from what to what) in one transaction */
  changeAlert(id: string, change: { status: AlertState['status']; note: string | null; who: string }, now: number, by: AuditActor): Promise<StoredAlert | null>;
  /** changeAlert for many alerts in one transaction, one audit entry each; the alerts changed (unknown ids are skipped) */
  changeAlerts(ids: string[], change: { status: AlertState['status']; note: string | null; who: string }, now: number, by: AuditActor): Promise<StoredAlert[]>;
  /** alerts matching the filter (cursor and limit ignored) counted by `by` */
  groupAlerts(f: AlertFilter, by: 'rule' | 'severity' | 'device' | 'sensor'): Promise<AlertGroup[]>;
  /** which of these alerts a mute in force at `now` covers */
  mutedAlerts(ids: string[], now: number): Promise<Set<string>>;
  listFlows(f: FlowFilter): Promise<{ items: StoredFlow[]; next_cursor: string | null }>;
  /** a mute and its audit entry, in one transaction */
  createMute(m: NewMute, who: string, now: number, by: AuditActor): Promise<Mute>;
  /** mutes newest first; with `activeAt`, only those in force then */
  listMutes(activeAt?: number): Promise<Mute[]>;
  /** ends a mute now (recorded in the audit log); null for an unknown or already lifted mute */
  liftMute(id: string, who: string, now: number, by: AuditActor): Promise<Mute | null>;
  recordAudit(entry: Omit<AuditEntry, 'id'>): Promise<AuditEntry>;
  /** newest first */
  listAudit(f: AuditFilter): Promise<{ items: AuditEntry[]; next_cursor: string | null }>;
  /** removes rows older than their kind's cut-off (epoch seconds), in batches */
  applyRetention(cutoffs: Cutoffs, batchRows?: number): Promise<RetentionResult>;
  /** throws when the database cannot be reached */
  ping(): Promise<void>;
  close(): Promise<void>;
}

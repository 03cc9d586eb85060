// What the store tests share: realistic records (what the sensor really
// produces for a TP-Link plug, and variants of them) and the two backends,
// SQLite and a real PostgreSQL server, behind one interface.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { openStore } from '../../../collector/store/open.js';
import { MIGRATIONS, migrationStatements, SCHEMA_MIGRATIONS_DDL } from '../../../collector/store/schema.js';
import type { Store } from '../../../collector/store/store.js';
import type { AlertRecord, DeviceRecord, FlowRecord, IngestEvent } from '../../../contract/types.js';
import { analyze } from '../../../sensor/run/analyze.js';
import { startPostgres, type TestPostgres } from '../../helpers/postgres.js';

const PCAP = join(import.meta.dirname, '../../fixtures/tp-linkplughs110-setup-a-1.pcap');
export const tmp = mkdtempSync(join(tmpdir(), 'phonehome-store-'));

// ---- realistic records: what the sensor really produces for a TP-Link plug ----

export interface Fixture {
  flows: FlowRecord[];
  devices: DeviceRecord[];
  alert: AlertRecord;
  pcap: Buffer;
}
/** Filled by useFixture's beforeAll. */
export const fx = {} as Fixture;

/** Analyzes the capture into fx before the file's tests, and removes the temp dir after them. */
export function useFixture(): void {
  beforeAll(async () => {
    const out = join(tmp, 'analyze');
    const r = await analyze([PCAP], { outDir: out });
    const flows = readFileSync(join(out, 'flows.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as FlowRecord);
    expect(flows.some((f) => f.dst_country !== null), 'the fixture has Internet flows').toBe(true);
    expect(r.alerts.length).toBeGreaterThan(0);
    Object.assign(fx, { flows, devices: r.devices, alert: r.alerts[0], pcap: readFileSync(PCAP) });
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
}

export const SENSOR = { name: 'lab-sensor', version: '0.1.0', lag_s: 1.5 };
export const T0 = 1_700_000_000;

let keySeq = 0;
export const key = (): string => `k${++keySeq}`;
export const flowEv = (data: FlowRecord, k = key()): IngestEvent => ({ kind: 'flow', key: k, data });
export const alertEv = (data: AlertRecord, k = key()): IngestEvent => ({ kind: 'alert', key: k, data });
export const deviceEv = (data: DeviceRecord, k = key()): IngestEvent => ({ kind: 'device', key: k, data });
export const evidenceEv = (alert_id: string, pcap: Buffer, k = key()): IngestEvent => ({ kind: 'evidence', key: k, data: { alert_id, pcap_base64: pcap.toString('base64') } });

export const RULES: AlertRecord['rule'][] = ['undocumented-destination', 'geo-callback', 'beaconing', 'strobe', 'direct-ip', 'unprofiled-device'];
export const SEVERITIES: AlertRecord['severity'][] = ['info', 'low', 'medium', 'high', 'critical'];
const DEVICES: { mac: string | null; ip: string; profile: string | null }[] = [
  { mac: '50:c7:bf:00:c7:03', ip: '10.10.10.20', profile: 'tplink-hs110' },
  { mac: '00:b5:6d:06:08:ba', ip: '10.10.10.1', profile: null },
  { mac: 'b0:c5:54:11:22:33', ip: '10.10.10.30', profile: 'dlink-dcs' },
  { mac: null, ip: '192.168.1.50', profile: null },
  // A MAC-less device on an address a MAC device also had: a device filter on the IP finds both.
  { mac: null, ip: '10.10.10.20', profile: null },
];
export const COUNTRIES = ['US', 'CN', 'DE', null];

/** The i-th of a family of alerts that differ in every field the API filters on. */
export function alertVariant(i: number): AlertRecord {
  const base = fx.alert;
  const d = DEVICES[i % DEVICES.length];
  const country = COUNTRIES[i % COUNTRIES.length];
  return {
    ...base,
    // Not in ts order, so the id tiebreak is exercised on equal timestamps.
    id: `${((i * 7919) % 997).toString(36)}-${i}`,
    ts: base.ts + (i % 13) * 60 + (i % 3 === 0 ? 0.25 : 0),
    rule: RULES[i % RULES.length],
    severity: SEVERITIES[(i * 3) % SEVERITIES.length],
    device: { ...base.device, mac: d.mac, ip: d.ip, profile: d.profile },
    destination: i % 8 === 3 ? null : { ...base.destination!, country },
    evidence: { ...base.evidence, flows: 1 + (i % 4) },
  };
}

/** A flow from the fixture, moved to another device / destination. */
export function flowVariant(i: number, over: Partial<FlowRecord>): FlowRecord {
  const base = fx.flows.find((f) => f.dst_country !== null)!;
  return { ...base, uid: `Cvar${i}`, ts: base.ts + i, ...over };
}

export const byteCmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
export const newestFirst = (a: { ts: number; id: string }, b: { ts: number; id: string }): number => b.ts - a.ts || byteCmp(b.id, a.id);

// ---- backends ----

export interface Backend {
  name: 'sqlite' | 'postgres';
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** URL of a new, empty database */
  fresh(): Promise<string>;
  /** every URL spelling openStore accepts for a new empty database */
  urlForms(): Promise<string[]>;
  unreachable(): { url: string; named: string };
}

let dbSeq = 0;
export const sqlite: Backend = {
  name: 'sqlite',
  setup: async () => undefined,
  teardown: async () => undefined,
  fresh: async () => `sqlite:${join(tmp, `s${++dbSeq}.db`)}`,
  urlForms: async () => [`sqlite:${join(tmp, `f${++dbSeq}.db`)}`, `sqlite://${join(tmp, `f${++dbSeq}.db`)}`, join(tmp, `f${++dbSeq}.db`)],
  unreachable: () => ({ url: `sqlite:${join(tmp, 'no-such-dir', 'x.db')}`, named: join(tmp, 'no-such-dir', 'x.db') }),
};

let server: TestPostgres | null = null;
export const postgres: Backend = {
  name: 'postgres',
  async setup() {
    server = await startPostgres();
  },
  async teardown() {
    await server?.stop();
  },
  fresh: () => server!.createDatabase(),
  async urlForms() {
    const a = await server!.createDatabase();
    const b = (await server!.createDatabase()).replace(/^postgres:/, 'postgresql:');
    return [a, b];
  },
  // Port 1 (tcpmux) is never a PostgreSQL server and refuses connections on loopback.
  unreachable: () => ({ url: 'postgres://phonehome:secret@127.0.0.1:1/phonehome', named: '127.0.0.1:1' }),
};

export const BACKENDS = [sqlite, postgres];

/** Runs SQL on the database behind the store's back, as an operator or another collector version would. */
export async function raw<T>(backend: Backend, url: string, sql: string): Promise<T[]> {
  if (backend.name === 'sqlite') {
    const db = new Database(url.replace(/^sqlite:/, ''));
    try {
      const s = db.prepare(sql);
      return s.reader ? (s.all() as T[]) : (s.run(), []);
    } finally {
      db.close();
    }
  }
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows as T[];
  } finally {
    await c.end();
  }
}


/**
 * For one describe block: the backend's server for the block, and a fresh,
 * empty store for each test, closed after it. `store()` is the current one.
 */
export function useFreshStore(backend: Backend): () => Store {
  let store: Store;
  beforeAll(() => backend.setup(), 120_000);
  afterAll(() => backend.teardown(), 60_000);
  beforeEach(async () => {
    store = await openStore(await backend.fresh());
  });
  afterEach(async () => {
    await store?.close();
  });
  return () => store;
}

/** A new database brought to schema version `n` the way a collector of that version left it. */
export async function databaseAtVersion(backend: Backend, n: number): Promise<string> {
  const u = await backend.fresh();
  await raw(backend, u, SCHEMA_MIGRATIONS_DDL(backend.name));
  for (const m of MIGRATIONS.slice(0, n)) {
    for (const sql of migrationStatements(m, backend.name)) await raw(backend, u, sql);
    await raw(backend, u, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (${m.version}, '${m.name}', 0)`);
  }
  return u;
}

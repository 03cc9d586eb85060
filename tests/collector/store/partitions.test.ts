// Flows on a real PostgreSQL server are partitioned by day: the days near the
// time a batch arrives get a partition each, the rest goes to the default
// partition, a resent flow is stored once, retention drops whole old days but
// keeps a day holding a flow received lately, two collectors making the same
// day's partition at once both store their flows, and a database of the
// previous version keeps its flows through the migration.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { openStore } from '../../../collector/store/open.js';
import { partitionOf } from '../../../collector/store/partitions.js';
import type { Store } from '../../../collector/store/store.js';
import { databaseAtVersion, flowEv, flowVariant, postgres, raw, SENSOR, useFixture } from './backends.js';

useFixture();

const DAY = 86_400;
const NOW = 1_800_000_000;
const today = Math.floor(NOW / DAY);

/** Where each stored flow is: partition name by uid. */
async function placement(url: string): Promise<Record<string, string>> {
  const rows = await raw<{ uid: string; part: string }>(postgres, url, `SELECT uid, tableoid::regclass::text AS part FROM flows ORDER BY uid`);
  return Object.fromEntries(rows.map((r) => [r.uid, r.part]));
}

async function partitions(url: string): Promise<string[]> {
  const rows = await raw<{ name: string }>(postgres, url, `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'flows'::regclass ORDER BY 1`);
  return rows.map((r) => r.name);
}

describe('flows partitioned by day on PostgreSQL', () => {
  let url: string;
  let store: Store;
  beforeAll(() => postgres.setup(), 120_000);
  afterAll(() => postgres.teardown(), 60_000);
  beforeEach(async () => {
    url = await postgres.fresh();
    store = await openStore(url);
  });
  afterEach(async () => {
    await store?.close();
  });

  test('days near the time a batch arrives get a partition each; a replay of an old day goes to the default partition; a resent flow is stored once', async () => {
    const flows = [
      flowVariant(1, { uid: 'Ctoday', ts: today * DAY + 100 }),
      flowVariant(2, { uid: 'Cyesterday', ts: (today - 1) * DAY + 100 }),
      flowVariant(3, { uid: 'Cold', ts: (today - 30) * DAY + 100 }),
    ];
    expect(await store.ingest(SENSOR, flows.map((f) => flowEv(f)), NOW)).toMatchObject({ accepted: 3 });
    expect(await partitions(url)).toEqual([partitionOf(today - 1), partitionOf(today), 'flows_default']);
    expect(await placement(url)).toEqual({ Cold: 'flows_default', Ctoday: partitionOf(today), Cyesterday: partitionOf(today - 1) });
    // the same flows again under new delivery keys: nothing more is stored or counted
    await store.ingest(SENSOR, flows.map((f) => flowEv(f)), NOW + 60);
    expect(Object.keys(await placement(url))).toHaveLength(3);
    const [{ n }] = await raw<{ n: string }>(postgres, url, `SELECT sum(flows) AS n FROM device_traffic`);
    expect(Number(n)).toBe(3);
  });

  test('retention drops whole old days, keeps a day holding a flow received lately, and deletes old rows elsewhere', async () => {
    const old = today - 40;
    const replayed = today - 41;
    const cut = (today - 30) * DAY;
    // each day's flows arrived on that day, so each got its partition
    await store.ingest(SENSOR, [0, 1, 2].map((i) => flowEv(flowVariant(i, { uid: `Cold${i}`, ts: old * DAY + i }))), old * DAY + 60);
    await store.ingest(SENSOR, [flowEv(flowVariant(3, { uid: 'Crep0', ts: replayed * DAY }))], replayed * DAY + 60);
    // a flow of that day received today: a replay, kept for the retention period from now
    await store.ingest(SENSOR, [flowEv(flowVariant(4, { uid: 'Crep1', ts: replayed * DAY + 5 }))], NOW);
    // an old day that never had a partition: its flow is in the default partition
    await store.ingest(SENSOR, [flowEv(flowVariant(5, { uid: 'Cdef', ts: (today - 60) * DAY }))], NOW - 45 * DAY);
    await store.ingest(SENSOR, [flowEv(flowVariant(6, { uid: 'Cnew', ts: NOW - 100 }))], NOW);
    expect(await partitions(url)).toEqual([partitionOf(replayed), partitionOf(old), partitionOf(today), 'flows_default']);
    const r = await store.applyRetention({ flows: cut });
    expect(r.removed.flows).toBe(5);
    expect(await partitions(url)).toEqual([partitionOf(replayed), partitionOf(today), 'flows_default']);
    expect(await placement(url)).toEqual({ Cnew: partitionOf(today), Crep1: partitionOf(replayed) });
  });

  test('two collectors storing the first flows of a new day at once both store them, in one partition', async () => {
    const other = await openStore(url);
    try {
      const batch = (from: number) => Array.from({ length: 50 }, (_, i) => flowEv(flowVariant(from + i, { uid: `Crace${from + i}`, ts: today * DAY + from + i })));
      const results = await Promise.all([store.ingest(SENSOR, batch(0), NOW), other.ingest(SENSOR, batch(100), NOW)]);
      expect(results.map((r) => r.accepted)).toEqual([50, 50]);
      expect(await partitions(url)).toEqual([partitionOf(today), 'flows_default']);
      expect(new Set(Object.values(await placement(url)))).toEqual(new Set([partitionOf(today)]));
    } finally {
      await other.close();
    }
  });

  test('a database of the previous version keeps its flows through the migration, in the default partition', async () => {
    const u = await databaseAtVersion(postgres, 6);
    for (let i = 0; i < 5; i++) {
      await raw(postgres, u, `INSERT INTO flows (sensor, uid, ts, src_mac, src_ip, dst_ip, dst_port, proto, server_name, dst_country, src_bytes, dst_bytes, record, received_at)
        VALUES ('lab-sensor', 'Cpre${i}', ${NOW - i * DAY}, NULL, '10.0.0.2', '52.0.0.${i}', 443, 'tcp', NULL, 'US', 100, 200, '{}', ${NOW})`);
    }
    const migrated = await openStore(u);
    try {
      expect(await partitions(u)).toEqual(['flows_default']);
      expect(Object.values(await placement(u))).toEqual(Array(5).fill('flows_default'));
      const [{ kind }] = await raw<{ kind: string }>(postgres, u, `SELECT partstrat AS kind FROM pg_partitioned_table WHERE partrelid = 'flows'::regclass`);
      expect(kind).toBe('r');
      // the rows moved whole
      const [pre] = await raw<{ record: string }>(postgres, u, `SELECT record FROM flows WHERE uid = 'Cpre0'`);
      expect(pre.record).toBe('{}');
    } finally {
      await migrated.close();
    }
  });
});

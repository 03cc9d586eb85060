// Retention on SQLite and a real PostgreSQL server: rows older than their
// kind's cut-off go, in batches, with their delivery keys; newer rows and
// replays of old captures received recently stay; SQLite gives the space back.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, test } from 'vitest';
import { openStore } from '../../../collector/store/open.js';
import { alertEv, alertVariant, BACKENDS, evidenceEv, flowEv, flowVariant, fx, SENSOR, tmp, useFixture, useFreshStore } from './backends.js';

useFixture();

const DAY = 86_400;
const NOW = 1_800_000_000;
const OLD = NOW - 40 * DAY;
const CUT = NOW - 30 * DAY;

describe.each(BACKENDS)('retention on $name', (backend) => {
  const store = useFreshStore(backend);

  test('flows older than the cut-off go, in batches; newer flows stay; their keys are forgotten with them', async () => {
    const old = Array.from({ length: 23 }, (_, i) => flowEv(flowVariant(i, { ts: OLD + i }), `old-${i}`));
    const fresh = Array.from({ length: 4 }, (_, i) => flowEv(flowVariant(100 + i, { ts: NOW - DAY + i }), `new-${i}`));
    await store().ingest(SENSOR, old, OLD + 60);
    await store().ingest(SENSOR, fresh, NOW - DAY + 60);
    const r = await store().applyRetention({ flows: CUT }, 5);
    expect(r.removed).toEqual({ flows: 23, alerts: 0, evidence: 0, dead_letters: 0 });
    expect(r.keys).toBe(23);
    expect(await store().applyRetention({ flows: CUT }, 5)).toMatchObject({ removed: { flows: 0 }, keys: 0 });
    // The removed flows' keys are gone: a resent one is stored again; the kept ones are still duplicates.
    expect(await store().ingest(SENSOR, [old[0], fresh[0]], NOW)).toMatchObject({ accepted: 1, duplicates: 1 });
  });

  test('alerts go when both their time and their arrival are old; a replay received recently stays; evidence by arrival', async () => {
    const [gone, replayed, recent] = [0, 1, 2].map((i) => alertVariant(i));
    await store().ingest(SENSOR, [alertEv({ ...gone, ts: OLD }), evidenceEv(gone.id, fx.pcap)], OLD);
    await store().ingest(SENSOR, [alertEv({ ...replayed, ts: OLD }), evidenceEv(replayed.id, fx.pcap)], NOW - DAY);
    await store().ingest(SENSOR, [alertEv({ ...recent, ts: NOW - DAY })], NOW - DAY);
    const r = await store().applyRetention({ alerts: CUT, evidence: CUT });
    expect(r.removed).toEqual({ flows: 0, alerts: 1, evidence: 1, dead_letters: 0 });
    expect(await store().getAlert(gone.id)).toBeNull();
    expect(await store().getEvidence(gone.id)).toBeNull();
    expect((await store().getAlert(replayed.id))?.has_pcap).toBe(true);
    expect(await store().getAlert(recent.id)).not.toBeNull();
  });

  test('a kind without a cut-off is kept', async () => {
    await store().ingest(SENSOR, [flowEv(flowVariant(1, { ts: OLD })), alertEv({ ...alertVariant(3), ts: OLD })], OLD);
    expect((await store().applyRetention({ evidence: CUT, dead_letters: CUT })).removed).toEqual({ flows: 0, alerts: 0, evidence: 0, dead_letters: 0 });
    expect((await store().listAlerts({ limit: 10 })).items).toHaveLength(1);
  });
});

describe('retention on SQLite frees the space', () => {
  /** Ingests 3,000 old flows with long names, applies retention twice; returns the file's size before and what each run said. */
  async function fillAndExpire(file: string) {
    const store = await openStore(`sqlite:${file}`);
    try {
      const big = Array.from({ length: 3000 }, (_, i) => flowEv(flowVariant(i, { ts: OLD, server_name: `host-${i}-${'x'.repeat(200)}.example` })));
      await store.ingest(SENSOR, big, OLD);
      const before = statSync(file).size + statSync(`${file}-wal`).size;
      const first = await store.applyRetention({ flows: CUT });
      await store.ingest(SENSOR, big.slice(0, 1000).map((e) => ({ ...e, key: `again-${e.key}` })), OLD);
      const second = await store.applyRetention({ flows: CUT });
      return { before, first, second };
    } finally {
      await store.close();
    }
  }

  function expectVacuumed(file: string, before: number): void {
    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.pragma('auto_vacuum', { simple: true })).toBe(2);
      expect(raw.pragma('freelist_count', { simple: true })).toBe(0);
    } finally {
      raw.close();
    }
    expect(statSync(file).size).toBeLessThan(before / 4);
  }

  test('a new database frees its pages as rows are removed, with no conversion', async () => {
    const file = join(tmp, 'vacuum-new.db');
    const { before, first, second } = await fillAndExpire(file);
    expect(first).toMatchObject({ removed: { flows: 3000 }, converted: false });
    expect(second).toMatchObject({ removed: { flows: 1000 }, converted: false });
    expectVacuumed(file, before);
  });

  test('a file made without incremental vacuum is switched once, and shrinks after a removal', async () => {
    const file = join(tmp, 'vacuum-old.db');
    const old = new Database(file);
    old.pragma('journal_mode = WAL');
    old.exec('CREATE TABLE made_before (a)');
    old.close();
    const { before, first, second } = await fillAndExpire(file);
    expect(first).toMatchObject({ removed: { flows: 3000 }, converted: true });
    expect(second).toMatchObject({ removed: { flows: 1000 }, converted: false });
    expectVacuumed(file, before);
  });
});

// The Store every collector talks to, on SQLite and on a real PostgreSQL
// server: the same answers from both, because deployments move from one to
// the other. Ingest, the listings and migrations have their own files.
import { beforeEach, describe, expect, test } from 'vitest';
import { openStore } from '../../../collector/store/open.js';
import type { Store } from '../../../collector/store/store.js';
import { alertEv, alertVariant, BACKENDS, evidenceEv, flowEv, fx, SENSOR, T0, useFixture, useFreshStore } from './backends.js';

useFixture();

describe.each(BACKENDS)('$name store', (backend) => {
  const fresh = useFreshStore(backend);
  let store: Store;
  beforeEach(() => {
    store = fresh();
  });

  test('reports its kind and answers ping; close ends it', async () => {
    expect(store.kind).toBe(backend.name);
    await expect(store.ping()).resolves.toBeUndefined();
    const other = await openStore(await backend.fresh());
    await other.close();
    await expect(other.ping()).rejects.toThrow();
  });

  test('updateAlert changes the state, stamps who and when, and is null for an unknown alert', async () => {
    const a = alertVariant(3);
    await store.ingest(SENSOR, [alertEv(a)], T0);
    const r = await store.updateAlert(a.id, { status: 'resolved', note: 'firmware updated', who: 'bob' }, T0 + 5);
    expect(r?.state).toEqual({ status: 'resolved', note: 'firmware updated', updated_by: 'bob', updated_at: T0 + 5 });
    expect(await store.getAlert(a.id)).toEqual(r);
    const back = await store.updateAlert(a.id, { status: 'open', note: null, who: 'carol' }, T0 + 6);
    expect(back?.state).toEqual({ status: 'open', note: null, updated_by: 'carol', updated_at: T0 + 6 });
    expect(await store.updateAlert('no-such-alert', { status: 'resolved', note: null, who: 'bob' }, T0)).toBeNull();
    expect(await store.getAlert('no-such-alert')).toBeNull();
  });

  test('evidence round-trips byte for byte, replaces, and sets has_pcap', async () => {
    const a = fx.alert;
    const pcap = fx.pcap;
    // Evidence may arrive before its alert.
    const r = await store.ingest(SENSOR, [evidenceEv(a.id, pcap), alertEv(a)], T0);
    expect(r.newAlerts.map((x) => x.has_pcap)).toEqual([true]);
    expect(Buffer.compare((await store.getEvidence(a.id))!, pcap)).toBe(0);
    expect((await store.getAlert(a.id))?.has_pcap).toBe(true);

    const smaller = pcap.subarray(0, 24 + 16 + 60);
    await store.ingest(SENSOR, [evidenceEv(a.id, smaller)], T0 + 1);
    expect(Buffer.compare((await store.getEvidence(a.id))!, smaller)).toBe(0);
    expect(await store.getEvidence('no-such-alert')).toBeNull();
    const b = alertVariant(2);
    await store.ingest(SENSOR, [alertEv(b)], T0);
    expect((await store.getAlert(b.id))?.has_pcap).toBe(false);
  });

  test('sensors: upserted per batch, sorted by name, with the spool depth of their last batch', async () => {
    await store.ingest({ name: 'zeta', version: '0.1.0', lag_s: null, spool_batches: 40, spool_bytes: 9_000_000_000 }, [flowEv(fx.flows[0])], T0);
    await store.ingest({ name: 'alpha', version: '0.1.0', lag_s: 3, spool_batches: 2, spool_bytes: 2048 }, [], T0 + 1);
    await store.ingest({ name: 'zeta', version: '0.2.0', lag_s: 0.5 }, [flowEv(fx.flows[1]), flowEv(fx.flows[2])], T0 + 2);
    expect(await store.listSensors()).toEqual([
      { name: 'alpha', version: '0.1.0', last_seen: T0 + 1, lag_s: 3, spool_batches: 2, spool_bytes: 2048, events: 0 },
      // a batch that does not say leaves it unknown, not the last value said
      { name: 'zeta', version: '0.2.0', last_seen: T0 + 2, lag_s: 0.5, spool_batches: null, spool_bytes: null, events: 3 },
    ]);
    await store.ingest({ name: 'zeta', version: '0.2.0', lag_s: 0.5, spool_batches: 40, spool_bytes: 9_000_000_000 }, [], T0 + 3);
    expect((await store.listSensors())[1]).toMatchObject({ spool_batches: 40, spool_bytes: 9_000_000_000 });
  });
});

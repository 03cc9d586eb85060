// The forwarder's outbox on SQLite and a real PostgreSQL server: rows are
// written with the alerts new to the database, in their transaction; two
// collectors claiming at once never get the same row; a claim that runs out
// is claimed again; a failed row waits until its retry time.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { openStore } from '../../../collector/store/open.js';
import type { Store } from '../../../collector/store/store.js';
import { alertEv, alertVariant, BACKENDS, SENSOR, T0, useFixture } from './backends.js';

useFixture();

describe.each(BACKENDS)('$name outbox', (backend) => {
  let a: Store;
  let b: Store;
  beforeAll(() => backend.setup(), 120_000);
  afterAll(() => backend.teardown(), 60_000);
  beforeEach(async () => {
    const url = await backend.fresh();
    a = await openStore(url);
    b = await openStore(url);
  });
  afterEach(async () => {
    await a?.close();
    await b?.close();
  });

  test('ingest puts each new alert in the outbox of every target, once; a redelivered alert adds nothing', async () => {
    const alerts = Array.from({ length: 5 }, (_, i) => alertVariant(i));
    await a.ingest(SENSOR, alerts.map((x) => alertEv(x)), T0, ['syslog', 'webhook']);
    await a.ingest(SENSOR, alerts.map((x) => alertEv(x)), T0 + 1, ['syslog', 'webhook']);
    await a.ingest(SENSOR, [alertEv(alertVariant(9))], T0 + 2);
    expect(await a.outbox.depth()).toEqual([{ target: 'syslog', rows: 5 }, { target: 'webhook', rows: 5 }]);
  });

  test('two collectors claiming at once never get the same row, and together get them all', async () => {
    const alerts = Array.from({ length: 60 }, (_, i) => alertVariant(i));
    await a.ingest(SENSOR, alerts.map((x) => alertEv(x)), T0, ['webhook']);
    // Collectors share a database through PostgreSQL; on SQLite the claims of one collector race each other.
    const other = backend.name === 'postgres' ? b : a;
    const claims = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : other).outbox.claim('webhook', `owner${i}`, T0 + 10, 60, 7)));
    const ids = claims.flat().map((c) => c.alertId);
    expect(new Set(ids).size).toBe(ids.length);
    const rest = await a.outbox.claim('webhook', 'late', T0 + 10, 60, 1000);
    expect(new Set([...ids, ...rest.map((r) => r.alertId)]).size).toBe(60);
    expect(claims.flat().every((c) => c.alert?.id === c.alertId)).toBe(true);
  });

  test('a claim that ran out is claimed again; a retried row waits for its time; done removes only what the owner holds', async () => {
    await a.ingest(SENSOR, [alertEv(alertVariant(1)), alertEv(alertVariant(2))], T0, ['syslog']);
    const first = await a.outbox.claim('syslog', 'x', T0, 30, 10);
    expect(first).toHaveLength(2);
    expect(await b.outbox.claim('syslog', 'y', T0 + 29, 30, 10)).toHaveLength(0);
    const again = await b.outbox.claim('syslog', 'y', T0 + 31, 30, 10);
    expect(again).toHaveLength(2);
    await a.outbox.done('syslog', 'x', first.map((f) => f.alertId));
    expect((await a.outbox.depth())[0].rows).toBe(2);
    await b.outbox.retry('syslog', 'y', [again[0].alertId], T0 + 100, 'down');
    await b.outbox.done('syslog', 'y', [again[1].alertId]);
    expect(await a.outbox.claim('syslog', 'z', T0 + 99, 30, 10)).toHaveLength(0);
    const later = await a.outbox.claim('syslog', 'z', T0 + 100, 30, 10);
    expect(later.map((l) => [l.alertId, l.attempts])).toEqual([[again[0].alertId, 1]]);
  });
});

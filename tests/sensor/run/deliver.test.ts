// Delivery, in-process: the batcher pauses the input while the spool is full
// and resumes without dropping an event; the sender retries what may succeed
// later, in order, and moves aside what never can.
import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { IngestBatch } from '../../../contract/types.js';
import { Batcher, Sender } from '../../../sensor/run/deliver.js';
import { SensorMetrics } from '../../../sensor/run/metrics.js';
import { Spool } from '../../../sensor/run/spool.js';
import { FakeCollector, TOKEN, waitFor } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-deliver-'));
let n = 0;
const fresh = () => {
  const d = join(tmp, String(++n));
  mkdirSync(d);
  return d;
};
const batch = (i: number, pad = 0): string =>
  JSON.stringify({ batch_id: `b${i}`, sensor: { name: 's', version: '1', lag_s: null }, events: [{ kind: 'flow', key: `flow:${i}`, data: { pad: 'x'.repeat(pad) } }] });
const quiet = pino({ level: 'silent' });
const metrics = () => new SensorMetrics({ packets: () => 0, bytes: () => 0, decodeWarnings: () => ({}), flowsActive: () => 0, spoolBatches: () => 0, spoolBytes: () => 0, lagSeconds: () => null });

const open: Spool[] = [];
const spoolAt = (dir: string, max = 1 << 20) => {
  const s = new Spool(dir, max);
  open.push(s);
  return s;
};
const collectors: FakeCollector[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) s.unlock();
  for (const c of collectors.splice(0)) await c.close();
});

describe('batcher', () => {
  it('pauses the input while the spool is full and resumes when the collector takes batches', async () => {
    const s = spoolAt(fresh(), 200_000);
    const m = metrics();
    const b = new Batcher(s, () => ({ name: 's', version: '1', lag_s: null }), quiet, m, () => {});
    const flow = (i: number) => ({ kind: 'flow' as const, key: `flow:${i}`, data: { uid: `C${i}`, pad: 'y'.repeat(300) } as never });
    for (let i = 0; i < 4000; i++) b.add(flow(i));
    expect(b.spoolFull).toBe(true);
    expect(b.pending).toBeGreaterThan(0);
    let resumed = false;
    const room = b.room().then(() => (resumed = true));
    await new Promise((ok) => setTimeout(ok, 20));
    expect(resumed).toBe(false);
    expect((await m.registry.getSingleMetricAsString('phonehome_sensor_spool_full_total')).split('\n').pop()).toMatch(/ [1-9]\d*$/);
    // The collector takes everything: held batches reach the spool, in order, nothing dropped.
    const keys: string[] = [];
    while (s.batches > 0 || b.pending > 0) {
      const head = s.head()!;
      keys.push(...(JSON.parse(s.read(head.seq)) as IngestBatch).events.map((e) => e.key));
      s.remove(head.seq);
      await new Promise((ok) => setImmediate(ok));
      b.cut();
    }
    await room;
    expect(resumed).toBe(true);
    expect(b.spoolFull).toBe(false);
    expect(keys).toEqual(Array.from({ length: 4000 }, (_, i) => `flow:${i}`));
    b.close();
  });
});

describe('sender', () => {
  const start = async (status: number) => {
    const c = await new FakeCollector().start();
    c.status = status;
    collectors.push(c);
    return c;
  };

  it('retries 503 with backoff and delivers in order once the collector recovers', async () => {
    const c = await start(503);
    const s = spoolAt(fresh());
    for (let i = 1; i <= 3; i++) s.append(batch(i));
    const m = metrics();
    const sender = new Sender(s, { url: c.url, token: TOKEN }, quiet, m);
    sender.start();
    await waitFor('two failures', () => c.requests.length >= 2);
    expect(s.batches).toBe(3);
    c.status = 200;
    await sender.idle();
    await sender.stop();
    expect(c.batches.map((b) => b.batch_id)).toEqual(['b1', 'b2', 'b3']);
    expect(await m.registry.getSingleMetricAsString('phonehome_sensor_delivery_failures_total')).toMatch(/reason="http_503"\} [2-9]/);
    expect(await m.registry.getSingleMetricAsString('phonehome_sensor_events_sent_total')).toMatch(/kind="flow"\} 3/);
  });

  it('401 is a misconfiguration: the batch stays and is retried, an error each time', async () => {
    const c = await start(200);
    const s = spoolAt(fresh());
    s.append(batch(1));
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    const sender = new Sender(s, { url: c.url, token: 'wrong' }, log, metrics());
    sender.start();
    const errors = () => lines.map((l) => JSON.parse(l) as { level: number; status: number; msg: string }).filter((l) => l.level === 50 && l.status === 401);
    await waitFor('two errors for 401', () => errors().length >= 2);
    await sender.stop();
    expect(s.batches).toBe(1);
    expect(c.batches).toEqual([]);
    expect(errors()[0].msg).toMatch(/check --collector and --token/);
  });

  it('413 can never succeed: moved to rejected/, the next batch goes', async () => {
    const c = await start(413);
    const s = spoolAt(fresh());
    s.append(batch(1));
    const sender = new Sender(s, { url: c.url, token: TOKEN }, quiet, metrics());
    sender.start();
    await sender.idle();
    await sender.stop();
    expect(readdirSync(s.rejectedDir)).toHaveLength(1);
    expect(c.requests).toHaveLength(1);
  });
});

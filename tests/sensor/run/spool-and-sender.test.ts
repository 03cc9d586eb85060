// The parts of the sensor's delivery, in-process: spool order and bound,
// the lock, back-pressure when full, HTTP status handling, file completion.
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { IngestBatch } from '../../../contract/types.js';
import { Batcher, Sender } from '../../../sensor/run/deliver.js';
import { SensorMetrics } from '../../../sensor/run/metrics.js';
import { ProcessedFiles, Spool, SpoolFullError } from '../../../sensor/run/spool.js';
import { DirWatcher } from '../../../sensor/run/watch.js';
import { fixture } from '../../helpers/corpus.js';
import { FakeCollector, TOKEN, waitFor } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-spool-'));
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

describe('spool', () => {
  it('keeps batches in order across a restart and continues the sequence', () => {
    const dir = fresh();
    const a = new Spool(dir, 1 << 20);
    expect([a.append(batch(1)), a.append(batch(2)), a.append(batch(3))]).toEqual([1, 2, 3]);
    a.remove(1);
    a.unlock();
    const b = spoolAt(dir);
    expect(b.batches).toBe(2);
    expect(b.head()!.seq).toBe(2);
    expect(JSON.parse(b.read(2)).batch_id).toBe('b2');
    expect(b.append(batch(4))).toBe(4);
    expect(readdirSync(join(dir, 'queue'))).toEqual(['0000000000000002.json', '0000000000000003.json', '0000000000000004.json']);
  });

  it('refuses a batch that would pass the bound, loudly, and takes it once space frees', async () => {
    const s = spoolAt(fresh(), 3000);
    s.append(batch(1, 2000));
    expect(() => s.append(batch(2, 2000))).toThrow(SpoolFullError);
    const space = s.waitForSpace();
    s.remove(1);
    await space;
    expect(s.append(batch(2, 2000))).toBe(2);
  });

  it('a rejected batch leaves the queue for rejected/', () => {
    const s = spoolAt(fresh());
    s.append(batch(1));
    s.append(batch(2));
    s.reject(1);
    expect(s.head()!.seq).toBe(2);
    expect(readdirSync(s.rejectedDir)).toEqual(['0000000000000001.json']);
  });
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

describe('directory watcher', () => {
  it('a file is complete when a newer file exists or its size has settled', async () => {
    const dir = fresh();
    let now = 1_000_000;
    const done = new Set<string>();
    const w = new DirWatcher(dir, 10_000, (path) => ({ kind: done.has(path) ? 'done' : 'new' }), () => now);
    copyFileSync(fixture('Withings'), join(dir, '100.pcap'));
    expect((await w.scan()).ready).toEqual([]);
    now += 5_000;
    expect((await w.scan()).ready).toEqual([]);
    now += 5_000;
    expect((await w.scan()).ready.map((f) => f.path)).toEqual([join(dir, '100.pcap')]);
    done.add(join(dir, '100.pcap'));
    // Numeric name order: 200 comes before 1000, so 1000 being there completes 200.
    copyFileSync(fixture('Withings'), join(dir, '200.pcap'));
    utimesSync(join(dir, '200.pcap'), new Date(1e12), new Date(1e12));
    expect((await w.scan()).ready).toEqual([]);
    copyFileSync(fixture('TP-LinkPlugHS110'), join(dir, '1000.pcap'));
    expect((await w.scan()).ready.map((f) => f.path)).toEqual([join(dir, '200.pcap')]);
    done.add(join(dir, '200.pcap'));
    // A file still growing is not settled.
    writeFileSync(join(dir, '1000.pcap'), Buffer.alloc(100));
    now += 9_000;
    expect((await w.scan()).ready).toEqual([]);
    // --once takes everything; a file that is not a capture is skipped with the reason.
    writeFileSync(join(dir, 'notes.txt'), 'hello');
    const all = await w.scan(true);
    expect(all.skipped.map((s) => s.file.path).sort()).toEqual([join(dir, '1000.pcap'), join(dir, 'notes.txt')]);
    expect(all.ready).toEqual([]);
  });

  it('remembers processed files by path, size and mtime, and forgets deleted ones', () => {
    const dir = fresh();
    const p = new ProcessedFiles(dir);
    p.mark('/cap/1.pcap', 10, 5);
    p.mark('/cap/2.pcap', 10, 6);
    const again = new ProcessedFiles(dir);
    expect(again.state('/cap/1.pcap', 10, 5)).toEqual({ kind: 'done' });
    // Changed, and no offset to read on from: a new file.
    expect(again.state('/cap/1.pcap', 10, 7)).toEqual({ kind: 'new' });
    again.prune(new Set(['/cap/2.pcap']), '/cap/');
    expect(new ProcessedFiles(dir).state('/cap/1.pcap', 10, 5)).toEqual({ kind: 'new' });
    expect(new ProcessedFiles(dir).state('/cap/2.pcap', 10, 6)).toEqual({ kind: 'done' });
  });

  it('a classic pcap that grew is read on from its offset; a new file under the same name is read whole', () => {
    const dir = fresh();
    const f = join(dir, 'cap.pcap');
    const whole = readFileSync(fixture('Withings'));
    writeFileSync(f, whole.subarray(0, 5000));
    const p = new ProcessedFiles(dir);
    p.mark(f, 5000, 1, 4900);
    appendFileSync(f, whole.subarray(5000));
    expect(p.state(f, whole.length, 2)).toEqual({ kind: 'grown', resumeAt: 4900 });
    // tcpdump -W wrote another capture under the name: its first record differs.
    writeFileSync(f, readFileSync(fixture('TP-LinkPlugHS110')));
    expect(p.state(f, 14759, 3)).toEqual({ kind: 'new' });
  });
});

// Drain: when the sensor stops reading and how long it keeps delivering,
// with a real spool, batcher and sender and a collector on loopback. A stop
// ends every wait at once and cuts a backoff short; --once and a stop keep
// delivering until the drain timeout passes without a batch accepted; an
// input that simply ended waits for a stop.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Batcher, Sender } from '../../../sensor/run/deliver.js';
import { Drain, STOP } from '../../../sensor/run/drain.js';
import { SensorMetrics } from '../../../sensor/run/metrics.js';
import { Spool } from '../../../sensor/run/spool.js';
import { FakeCollector, TOKEN, waitFor } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-drain-'));
let n = 0;
const fresh = () => {
  const d = join(tmp, String(++n));
  mkdirSync(d);
  return d;
};
const quiet = pino({ level: 'silent' });
const metrics = () => new SensorMetrics({ packets: () => 0, bytes: () => 0, decodeWarnings: () => ({}), flowsActive: () => 0, spoolBatches: () => 0, spoolBytes: () => 0, lagSeconds: () => null });
const batch = (i: number): string => JSON.stringify({ batch_id: `b${i}`, sensor: { name: 's', version: '1', lag_s: null }, events: [{ kind: 'flow', key: `flow:${i}`, data: {} }] });
const flow = (i: number) => ({ kind: 'flow' as const, key: `flow:${i}`, data: { uid: `C${i}` } as never });

interface Parts {
  drain: Drain;
  spool: Spool;
  batcher: Batcher;
  sender: Sender;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function parts(url: string, opts: { once: boolean; drainTimeoutS: number; maxBytes?: number }): Parts {
  const spool = new Spool(fresh(), opts.maxBytes ?? 1 << 20);
  const m = metrics();
  const sender = new Sender(spool, { url, token: TOKEN }, quiet, m);
  const batcher = new Batcher(spool, () => ({ name: 's', version: '1', lag_s: null }), quiet, m, () => sender.notify());
  const drain = new Drain({ once: opts.once, drainTimeoutS: opts.drainTimeoutS }, spool, batcher, sender, quiet);
  cleanups.push(async () => {
    await batcher.close();
    await sender.stop();
    spool.unlock();
  });
  return { drain, spool, batcher, sender };
}

async function collector(status = 200): Promise<FakeCollector> {
  const c = await new FakeCollector().start();
  c.status = status;
  cleanups.push(() => c.close());
  return c;
}

const elapsed = async (p: Promise<unknown>): Promise<number> => {
  const t = Date.now();
  await p;
  return Date.now() - t;
};

describe('Drain', () => {
  it("untilStop gives the promise's outcome, or STOP as soon as a stop comes (at once once stopped)", async () => {
    const { drain } = parts('http://127.0.0.1:9', { once: false, drainTimeoutS: 1 });
    expect(await drain.untilStop(Promise.resolve(5))).toBe(5);
    await expect(drain.untilStop(Promise.reject(new Error('reader failed')))).rejects.toThrow('reader failed');
    const never = new Promise<number>(() => {});
    const waiting = drain.untilStop(never);
    expect(drain.stopped).toBe(false);
    drain.stop('SIGTERM');
    expect(await waiting).toBe(STOP);
    expect([drain.stopped, drain.stopSignal]).toEqual([true, 'SIGTERM']);
    expect(await drain.untilStop(Promise.resolve(1))).toBe(STOP);
  });

  it('pause ends after the time, when the promise settles, or at a stop; after a stop it still waits its time', async () => {
    const { drain } = parts('http://127.0.0.1:9', { once: false, drainTimeoutS: 1 });
    expect(await elapsed(drain.pause(80))).toBeGreaterThanOrEqual(75);
    expect(await elapsed(drain.pause(10_000, new Promise((ok) => setTimeout(ok, 30))))).toBeLessThan(2000);
    setTimeout(() => drain.stop('SIGINT'), 30);
    expect(await elapsed(drain.pause(10_000))).toBeLessThan(2000);
    // Not a busy loop once stopped: the wait is the wait.
    expect(await elapsed(drain.pause(80))).toBeGreaterThanOrEqual(75);
  });

  it('no deadline until a stop, or with --once until the input ended; then the drain timeout after that or the last delivery, whichever is later', async () => {
    const c = await collector();
    const live = parts(c.url, { once: false, drainTimeoutS: 5 });
    expect(live.drain.deadline()).toBe(Infinity);
    live.drain.inputEnded();
    // A file or stdin at EOF without --once: the sensor waits for a stop.
    expect(live.drain.deadline()).toBe(Infinity);
    const before = Date.now();
    live.drain.stop('SIGTERM');
    expect(live.drain.deadline()).toBeGreaterThanOrEqual(before + 5000);
    expect(live.drain.deadline()).toBeLessThanOrEqual(Date.now() + 5000);

    const once = parts(c.url, { once: true, drainTimeoutS: 5 });
    expect(once.drain.deadline()).toBe(Infinity);
    const ended = Date.now();
    once.drain.inputEnded();
    expect(once.drain.deadline()).toBeGreaterThanOrEqual(ended + 5000);
    // A batch accepted later moves the deadline on.
    await new Promise((ok) => setTimeout(ok, 50));
    once.spool.append(batch(1));
    once.sender.start();
    await once.sender.idle();
    expect(once.sender.lastDeliveryAt).toBeGreaterThan(ended);
    expect(once.drain.deadline()).toBe(once.sender.lastDeliveryAt + 5000);
  });

  it('delivered() is true once the collector took every batch; false when the drain timeout passes with none accepted', async () => {
    const up = await collector(200);
    const good = parts(up.url, { once: true, drainTimeoutS: 5 });
    for (let i = 1; i <= 3; i++) good.spool.append(batch(i));
    good.drain.inputEnded();
    good.sender.start();
    expect(await good.drain.delivered()).toBe(true);
    expect(good.spool.batches).toBe(0);
    expect(up.batches.map((b) => b.batch_id)).toEqual(['b1', 'b2', 'b3']);

    const down = await collector(503);
    const bad = parts(down.url, { once: true, drainTimeoutS: 0.3 });
    bad.spool.append(batch(1));
    bad.drain.inputEnded();
    bad.sender.start();
    const t = Date.now();
    expect(await bad.drain.delivered()).toBe(false);
    expect(Date.now() - t).toBeGreaterThanOrEqual(250);
    expect(bad.spool.batches).toBe(1);
    expect(down.requests.length).toBeGreaterThan(0);
  });

  it('spooled() is true once every event is in the spool; false when the spool stays full past the deadline, true if the collector frees it in time', async () => {
    const c = await collector(200);
    const roomy = parts(c.url, { once: true, drainTimeoutS: 1 });
    for (let i = 0; i < 10; i++) roomy.batcher.add(flow(i));
    expect(roomy.batcher.pending).toBe(10);
    expect(await roomy.drain.spooled()).toBe(true);
    expect([roomy.batcher.pending, roomy.spool.batches]).toEqual([0, 1]);

    // A spool that holds one batch, already holding one, and nobody delivering.
    const full = parts(c.url, { once: true, drainTimeoutS: 0.3, maxBytes: 1 });
    full.spool.append(batch(0));
    for (let i = 0; i < 10; i++) full.batcher.add(flow(i));
    full.drain.inputEnded();
    expect(await full.drain.spooled()).toBe(false);
    expect(full.batcher.pending).toBe(10);

    const freed = parts(c.url, { once: true, drainTimeoutS: 5, maxBytes: 1 });
    freed.spool.append(batch(0));
    for (let i = 0; i < 10; i++) freed.batcher.add(flow(i));
    freed.drain.inputEnded();
    freed.sender.start();
    expect(await freed.drain.spooled()).toBe(true);
    expect(freed.batcher.pending).toBe(0);
  });

  it('spooled() waits for a batch still on its way to the disk, even past the deadline', async () => {
    const p = parts('http://127.0.0.1:9', { once: true, drainTimeoutS: 0 });
    p.drain.inputEnded();
    for (let i = 0; i < 10; i++) p.batcher.add(flow(i));
    p.batcher.cut();
    expect([p.batcher.writing, p.spool.batches]).toEqual([true, 0]);
    expect(await p.drain.spooled()).toBe(true);
    expect([p.batcher.pending, p.spool.batches]).toEqual([0, 1]);
  });

  it('a stop cuts the backoff short: a collector that asked for 30 s (Retry-After) is tried again at once', async () => {
    let status = 503;
    let posts = 0;
    const server: Server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        posts++;
        if (status === 200) res.writeHead(200, { 'content-type': 'application/json' }).end('{"accepted":1,"duplicates":0}');
        else res.writeHead(503, { 'retry-after': '30' }).end('busy');
      });
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    cleanups.push(() => new Promise<void>((ok) => server.close(() => ok())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const p = parts(url, { once: false, drainTimeoutS: 5 });
    p.spool.append(batch(1));
    p.sender.start();
    await waitFor('the first refusal', () => posts === 1);
    // Now in a 30 s wait. The collector recovers; a stop asks the sender to hurry.
    await new Promise((ok) => setTimeout(ok, 100));
    status = 200;
    p.drain.stop('SIGTERM');
    expect(await elapsed(p.drain.delivered())).toBeLessThan(3000);
    expect(posts).toBe(2);
    expect(p.spool.batches).toBe(0);
  });
});

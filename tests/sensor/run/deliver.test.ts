// Delivery, in-process: the batcher pauses the input while the spool is full
// and resumes without dropping an event; the sender retries what may succeed
// later, in order; events the collector refuses (listed in a 200, or a whole
// batch) are kept in rejected/ with their reasons and counted; a 413 batch is
// split; a garbled spool file is reported and its whole events sent; an
// https collector signed by a private CA is trusted with --ca.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { IngestBatch } from '../../../contract/types.js';
import { Batcher, Sender } from '../../../sensor/run/deliver.js';
import { SensorMetrics } from '../../../sensor/run/metrics.js';
import { Spool } from '../../../sensor/run/spool.js';
import { batchBody, FakeCollector, freshDirs, TOKEN, waitFor } from './helpers.js';

const fresh = freshDirs('phonehome-deliver-');
const batch = batchBody;
const quiet = pino({ level: 'silent' });

/** Sends everything the spool holds to the collector, then stops; returns the stopped sender. */
async function sendAll(s: Spool, c: FakeCollector, log: pino.Logger, m: SensorMetrics): Promise<Sender> {
  const sender = new Sender(s, { url: c.url, token: TOKEN }, log, m);
  sender.start();
  await sender.idle();
  await sender.stop();
  return sender;
}
const metrics = () => new SensorMetrics({ packets: () => 0, bytes: () => 0, decodeWarnings: () => ({}), flowsActive: () => 0, spoolBatches: () => 0, spoolBytes: () => 0, lagSeconds: () => null });

const logged = () => {
  const lines: Record<string, any>[] = [];
  return { lines, log: pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l)) }) };
};

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
    // Batches reach the disk one after another, each fsync off the main thread.
    expect(b.writing).toBe(true);
    await waitFor('the spool to fill', () => b.spoolFull);
    expect(b.pending).toBeGreaterThan(0);
    let resumed = false;
    const room = b.room().then(() => (resumed = true));
    await new Promise((ok) => setTimeout(ok, 20));
    expect(resumed).toBe(false);
    expect((await m.registry.getSingleMetricAsString('phonehome_sensor_spool_full_total')).split('\n').pop()).toMatch(/ [1-9]\d*$/);
    // The collector takes everything: held batches reach the spool, in order, nothing dropped.
    const keys: string[] = [];
    while (s.batches > 0 || b.pending > 0) {
      const head = s.head();
      if (!head) {
        await b.whenWritten();
        continue;
      }
      keys.push(...(JSON.parse(s.read(head.seq)) as IngestBatch).events.map((e) => e.key));
      s.remove(head.seq);
      await new Promise((ok) => setImmediate(ok));
      b.cut();
    }
    await room;
    expect(resumed).toBe(true);
    expect(b.spoolFull).toBe(false);
    expect(keys).toEqual(Array.from({ length: 4000 }, (_, i) => `flow:${i}`));
    expect(await b.close()).toBe(true);
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

  const events = (n: number) => Array.from({ length: n }, (_, i) => JSON.stringify({ kind: 'flow', key: `flow:${i}`, data: { uid: `C${i}`, pad: 'é\u0000"' } }));
  const bodyOf = (ev: string[]) => `{"batch_id":"big","sensor":{"name":"s","version":"1","lag_s":null},"events":[${ev.join(',')}]}`;
  const refusedMetric = async (m: SensorMetrics) => m.registry.getSingleMetricAsString('phonehome_sensor_events_refused_total');

  it('events a 200 lists as refused are kept in rejected/ with their reasons, counted and logged; the others are delivered', async () => {
    const c = await start(200);
    c.refuse = (e) => (e.key === 'flow:1' || e.key === 'flow:3' ? { code: 'bad_field', reason: `data.ts of ${e.key} is not a number` } : null);
    const s = spoolAt(fresh());
    const ev = events(5);
    s.append(bodyOf(ev));
    s.append(batch(9));
    const m = metrics();
    const { lines, log } = logged();
    const sender = await sendAll(s, c, log, m);
    expect(c.events().map((e) => e.key)).toEqual(['flow:0', 'flow:2', 'flow:4', 'flow:9']);
    expect(readdirSync(s.rejectedDir)).toEqual(['0000000000000001.json']);
    const kept = JSON.parse(readFileSync(join(s.rejectedDir, '0000000000000001.json'), 'utf8'));
    expect(kept.events).toEqual([JSON.parse(ev[1]), JSON.parse(ev[3])]);
    expect(kept.refused).toEqual([
      { key: 'flow:1', code: 'bad_field', reason: 'data.ts of flow:1 is not a number' },
      { key: 'flow:3', code: 'bad_field', reason: 'data.ts of flow:3 is not a number' },
    ]);
    expect(sender.undelivered).toEqual({ events: 2, files: [join(s.rejectedDir, '0000000000000001.json')] });
    expect(await refusedMetric(m)).toMatch(/reason="bad_field"\} 2/);
    expect(await m.registry.getSingleMetricAsString('phonehome_sensor_events_sent_total')).toMatch(/kind="flow"\} 4/);
    const error = lines.find((l) => l.level === 50 && l.refused === 2)!;
    expect(error.msg).toMatch(/refused 2 of 5 events \(bad_field: 2: data.ts of flow:1 is not a number\); they are kept in .*0000000000000001\.json/);
    expect(error.refusals.map((r: { key: string }) => r.key)).toEqual(['flow:1', 'flow:3']);
    expect(s.batches).toBe(0);
  });

  it('a whole batch answered 400 is kept in rejected/ and its events are counted as refused', async () => {
    const c = await start(400);
    const s = spoolAt(fresh());
    s.append(bodyOf(events(3)));
    const m = metrics();
    const sender = await sendAll(s, c, quiet, m);
    const kept = JSON.parse(readFileSync(join(s.rejectedDir, '0000000000000001.json'), 'utf8'));
    expect(kept.events.map((e: { key: string }) => e.key)).toEqual(['flow:0', 'flow:1', 'flow:2']);
    expect(kept.refused[0]).toMatchObject({ key: 'flow:0', code: 'http_400' });
    expect(kept.refused[0].reason).toContain('test says 400');
    expect(sender.undelivered.events).toBe(3);
    expect(await refusedMetric(m)).toMatch(/reason="http_400"\} 3/);
  });

  it('413 for a batch of several events: sent again as halves until each part is taken; a single event too large is kept in rejected/', async () => {
    const c = await start(200);
    c.maxEvents = 2;
    const s = spoolAt(fresh());
    const ev = events(7);
    const body = bodyOf(ev);
    s.append(body);
    const sender = new Sender(s, { url: c.url, token: TOKEN }, quiet, metrics());
    sender.start();
    await sender.idle();
    expect(c.events().map((e) => e.key)).toEqual(ev.map((e) => JSON.parse(e).key));
    expect(readdirSync(s.rejectedDir)).toEqual([]);
    // Each part carries the events byte for byte as produced.
    expect(c.bodies[0]).toBe(body);
    expect(c.bodies.slice(1).filter((b, i) => c.requests[i + 1].status === 200).join('|')).toContain(ev[6]);

    c.maxEvents = 0;
    s.append(bodyOf(events(1)));
    await sender.idle();
    await sender.stop();
    expect(readdirSync(s.rejectedDir)).toEqual(['0000000000000002.json']);
    expect(sender.undelivered.events).toBe(1);
  });

  it('a garbled spool file: reported with its path, its whole events sent, the original kept in rejected/, counted as garbled_spool', async () => {
    const c = await start(200);
    const dir = fresh();
    const first = new Spool(dir, 1 << 20);
    first.append(bodyOf(events(4)));
    first.append(batch(9));
    first.unlock();
    const path = join(dir, 'queue', '0000000000000001.json');
    const text = readFileSync(path);
    // Flip one byte inside the second event.
    const at = text.indexOf('"C1"') + 2;
    text[at] ^= 0x01;
    writeFileSync(path, text);
    const s = spoolAt(dir);
    const m = metrics();
    const { lines, log } = logged();
    const sender = await sendAll(s, c, log, m);
    expect(c.events().map((e) => e.key)).toEqual(['flow:0', 'flow:2', 'flow:3', 'flow:9']);
    expect(readdirSync(s.rejectedDir)).toEqual(['0000000000000001.garbled']);
    expect(readFileSync(join(s.rejectedDir, '0000000000000001.garbled'))).toEqual(text);
    const error = lines.find((l) => l.code === 'SPOOL_GARBLED')!;
    expect(error).toMatchObject({ level: 50, file: path, salvaged: 3, expected: 4 });
    expect(sender.undelivered.events).toBe(1);
    expect(await refusedMetric(m)).toMatch(/reason="garbled_spool"\} 1/);
  });
});

describe('sender over https', () => {
  const pki = mkdtempSync(join(tmpdir(), 'phonehome-pki-'));
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: pki, stdio: 'pipe' });
  // A private CA, and a server certificate it signed for 127.0.0.1.
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=phonehome test CA']);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  writeFileSync(join(pki, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext']);

  it('--ca: a collector whose certificate a private CA signed is trusted with that CA, and refused without it', async () => {
    const got: string[] = [];
    const server = createHttpsServer({ key: readFileSync(join(pki, 'server.key')), cert: readFileSync(join(pki, 'server.pem')) }, (req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        got.push(`${req.headers.authorization} ${body}`);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"accepted":1,"duplicates":0}');
      });
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    try {
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const untrusted = spoolAt(fresh());
      untrusted.append(batch(1));
      const { lines, log } = logged();
      const without = new Sender(untrusted, { url, token: TOKEN }, log, metrics());
      without.start();
      await waitFor('a TLS failure', () => lines.some((l) => l.reason === 'network'));
      await without.stop();
      expect(lines.find((l) => l.reason === 'network')!.err).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|unable to verify/i);
      expect(got).toEqual([]);

      const trusted = spoolAt(fresh());
      trusted.append(batch(2));
      const withCa = new Sender(trusted, { url, token: TOKEN, ca: readFileSync(join(pki, 'ca.pem')) }, quiet, metrics());
      withCa.start();
      await withCa.idle();
      await withCa.stop();
      expect(got).toEqual([`Bearer ${TOKEN} ${batch(2)}`]);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    }
  });
});

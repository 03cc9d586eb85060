// Nothing lost, nothing doubled: `phonehome sensor` on a directory of
// captures is killed with SIGKILL at many random points (and the collector
// with it, at random points of delivery), restarted each time on the same
// spool and database, and finally run to the end. With --once the collector
// then holds exactly what `phonehome analyze --out` reports for the same
// captures: every flow once, every alert id with its final flow count and no
// other, every device, every evidence pcap. Watching the directory, it holds
// exactly what a sensor that was never killed delivers (flows as analyze
// gives them; alerts, devices and evidence as that sensor sends them after
// each file). Real processes, real SQLite file, loopback.
// The seed is printed; PHONEHOME_KILL_SEED=<seed> runs the same kill points again.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { AlertRecord, DeviceRecord } from '../../contract/types.js';
import { CLI, phonehome } from '../helpers/cli.js';
import { SENSOR_TOKEN, startCollector, type RunningCollector } from '../helpers/collector.js';
import { FIXTURES } from '../helpers/corpus.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-kill-sensor-'));
const KILLS = 24;

/** mulberry32: a small seeded generator, so a failing run can be repeated. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

interface Sensor {
  exit: Promise<number | null>;
  kill(): void;
  stop(): void;
  log: () => string;
}

/** --once reads the directory and exits; watching (once false) reads it until stopped. */
function startSensor(input: string, spool: string, collector: string, level = 'warn', once = true): Sensor {
  const mode = once ? ['--once'] : ['--settle', '0.2'];
  const child = spawn(process.execPath, [CLI, 'sensor', '--input', input, '--collector', collector, '--token', SENSOR_TOKEN, '--name', 'lab',
    '--spool', spool, ...mode, '--drain-timeout', '30', '--log-level', level], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  const exit = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
  return { exit, kill: () => child.kill('SIGKILL'), stop: () => child.kill('SIGTERM'), log: () => log };
}

/** How many files the spool's state.json remembers as read. */
function filesMarked(spool: string): number {
  try {
    return Object.keys((JSON.parse(readFileSync(join(spool, 'state.json'), 'utf8')) as { processed: object }).processed).length;
  } catch {
    return 0;
  }
}

/**
 * A watching sensor (logging at info): once it has started, read again what a
 * killed run left (when one did), read every file and emptied its queue,
 * SIGTERM; the exit code.
 */
async function runWatching(s: Sensor, spool: string, files: number, afterKill: boolean): Promise<{ code: number | null; marked: number }> {
  const started = Date.now();
  const ready = () => s.log().includes('"sensor started"') && (!afterKill || s.log().includes('were read again'));
  while (!ready() || filesMarked(spool) < files || readdirSync(join(spool, 'queue')).length > 0) {
    if ((await Promise.race([s.exit.then(() => true), sleep(20).then(() => false)]))) return { code: await s.exit, marked: Date.now() - started };
  }
  const marked = Date.now() - started;
  s.stop();
  return { code: await s.exit, marked };
}

/** What analyze writes for the captures: flow uids, alert id → flows, device records by key, evidence pcap by alert id. */
function reference(input: string) {
  const out = join(tmp, `reference-${basename(input)}`);
  const r = phonehome(['analyze', input, '--out', out, '--evidence', join(out, 'evidence')]);
  if (r.code !== 0) throw new Error(`analyze exited ${r.code}: ${r.stderr}`);
  const lines = (f: string) => readFileSync(join(out, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const alerts = lines('alerts.jsonl') as AlertRecord[];
  const devices = JSON.parse(readFileSync(join(out, 'devices.json'), 'utf8')) as DeviceRecord[];
  return {
    flows: (lines('flows.jsonl') as { uid: string }[]).map((f) => f.uid).sort(),
    alerts: new Map(alerts.map((a) => [a.id, a.evidence.flows])),
    devices: new Map(devices.map((d) => [d.mac ?? d.ips[0], d])),
    evidence: new Map(alerts.filter((a) => a.evidence.pcap).map((a) => [a.id, readFileSync(join(out, 'evidence', a.evidence.pcap!)).toString('base64')])),
  };
}

/** What the collector's database holds, in the same shape; flows as stored rows, so a duplicate would show. */
function stored(dbFile: string) {
  const db = new Database(dbFile, { readonly: true });
  try {
    const flows = (db.prepare('SELECT uid FROM flows').all() as { uid: string }[]).map((r) => r.uid).sort();
    const alerts = new Map((db.prepare('SELECT id, evidence_flows FROM alerts').all() as { id: string; evidence_flows: number }[]).map((r) => [r.id, r.evidence_flows]));
    const devices = new Map((db.prepare('SELECT key, record FROM devices').all() as { key: string; record: string }[]).map((r) => [r.key, JSON.parse(r.record) as DeviceRecord]));
    const evidence = new Map((db.prepare('SELECT alert_id, pcap FROM evidence').all() as { alert_id: string; pcap: Buffer }[]).map((r) => [r.alert_id, Buffer.from(r.pcap).toString('base64')]));
    return { flows, alerts, devices, evidence };
  } finally {
    db.close();
  }
}

type Holdings = ReturnType<typeof stored>;

/** The collector holds exactly `want`: every flow once, each alert with its flow count, each device record, each evidence pcap byte for byte. */
function expectHolds(got: Holdings, want: Holdings): void {
  expect(got.flows.length).toBe(new Set(got.flows).size);
  expect(got.flows).toEqual(want.flows);
  expect(got.alerts).toEqual(want.alerts);
  expect([...got.devices.keys()].sort()).toEqual([...want.devices.keys()].sort());
  for (const [key, d] of want.devices) expect(got.devices.get(key), key).toEqual(d);
  expect([...got.evidence.keys()].sort()).toEqual([...want.evidence.keys()].sort());
  for (const [id, pcap] of want.evidence) expect(got.evidence.get(id) === pcap, `evidence of ${id}`).toBe(true);
}

/** A directory of the fixture captures, as a rotating capture leaves them. */
function captures(name: string): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  for (const f of readdirSync(FIXTURES).filter((n) => n.endsWith('.pcap'))) copyFileSync(join(FIXTURES, f), join(dir, basename(f)));
  return dir;
}

interface Timing {
  /** ms until it starts reading (process start, GeoIP, profiles) */
  startup: number;
  /** ms until its files are marked read (state.json written): the end of reading, checkpoint and spooling */
  marked: number;
  /** ms until it exits, everything delivered */
  duration: number;
}

/** How long an uninterrupted run takes against its own collector and spool; the faster of two, so a cold start does not stretch it. */
async function runTime(input: string): Promise<Timing> {
  const runs: Timing[] = [];
  for (let i = 0; i < 2; i++) {
    const c = await startCollector(`sqlite:${join(tmp, `timing-${i}.db`)}`, ['--log-level', 'error']);
    const spool = join(tmp, `timing-spool-${i}`);
    const started = Date.now();
    const s = startSensor(input, spool, c.url, 'info');
    let marked = 0;
    const poll = setInterval(() => (marked ||= existsSync(join(spool, 'state.json')) ? Date.now() - started : 0), 5);
    expect(await s.exit, s.log()).toBe(0);
    const duration = Date.now() - started;
    clearInterval(poll);
    await c.stop();
    const line = s.log().split('\n').find((l) => l.includes('"sensor started"'));
    runs.push({ startup: Date.parse(JSON.parse(line!).time) - started, marked: marked || duration, duration });
  }
  return runs.reduce((a, b) => (a.duration <= b.duration ? a : b));
}

describe('sensor killed with SIGKILL at random points', () => {
  it('after restarts on the same spool, the collector holds exactly what analyze reports: no event lost, none doubled, the same alert ids', async () => {
    const seed = Number(process.env.PHONEHOME_KILL_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`kill-sensor: seed ${seed} (PHONEHOME_KILL_SEED=${seed} repeats these kill points)`);
    const rnd = random(seed);
    const input = captures('captures');
    const want = reference(input);
    expect(want.alerts.size).toBeGreaterThan(0);
    expect(want.evidence.size).toBeGreaterThan(0);
    const { startup, marked, duration } = await runTime(input);

    const dbFile = join(tmp, 'collector.db');
    const spool = join(tmp, 'spool');
    let collector: RunningCollector = await startCollector(`sqlite:${dbFile}`, ['--log-level', 'error']);
    const port = collector.port;
    let kills = 0;
    let collectorKills = 0;
    for (let round = 0; kills < KILLS && round < KILLS * 6; round++) {
      const s = startSensor(input, spool, collector.url);
      // A kill after the files are marked leaves later runs only delivery to do, so most kill points
      // fall before it (half of them after start-up, while files are read and events spooled), the
      // last two anywhere in the run, delivery included.
      const late = kills >= KILLS - 2;
      const at = late ? rnd() * duration : round % 2 === 0 ? rnd() * marked : startup + rnd() * (marked - startup);
      // Every other round on average, the collector dies too, at its own random moment, and comes back on the same database.
      const collectorAt = !late && rnd() < 0.5 ? rnd() * duration : null;
      const collectorDone = collectorAt === null ? Promise.resolve() : sleep(collectorAt).then(async () => {
        await collector.kill9();
        collector = await startCollector(`sqlite:${dbFile}`, ['--log-level', 'error'], port);
        collectorKills++;
      });
      const ended = await Promise.race([s.exit.then(() => true), sleep(at).then(() => false)]);
      if (!ended) {
        s.kill();
        kills++;
      }
      const code = await s.exit;
      if (ended) expect(code, s.log()).toBe(0);
      await collectorDone;
    }
    console.log(`kill-sensor: ${kills} sensor kills, ${collectorKills} collector kills, one run ${duration} ms (${startup} ms start-up, files marked at ${marked} ms)`);
    expect(kills).toBeGreaterThanOrEqual(KILLS);

    const last = startSensor(input, spool, collector.url);
    expect(await last.exit, last.log()).toBe(0);
    await collector.stop();
    expectHolds(stored(dbFile), want);
  }, 180_000);

  it('watching a directory, a killed sensor rereads what it read since its last clean stop: flows in progress are not lost and alerts keep their ids', async () => {
    const seed = Number(process.env.PHONEHOME_KILL_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`kill-sensor (watching): seed ${seed} (PHONEHOME_KILL_SEED=${seed} repeats these kill points)`);
    const rnd = random(seed);
    const input = captures('watched');
    const files = readdirSync(input).length;
    const want = reference(input);

    // The sensor never killed: what watching delivers, and how long reading takes.
    const refDb = join(tmp, 'watch-reference.db');
    const refCollector = await startCollector(`sqlite:${refDb}`, ['--log-level', 'error']);
    const refSpool = join(tmp, 'watch-reference-spool');
    const ref = await runWatching(startSensor(input, refSpool, refCollector.url, 'info', false), refSpool, files, false);
    expect(ref.code).toBe(0);
    await refCollector.stop();
    const uninterrupted = stored(refDb);
    expect(uninterrupted.flows).toEqual(want.flows);
    expect(uninterrupted.alerts.size).toBeGreaterThan(0);

    const dbFile = join(tmp, 'watch-collector.db');
    const spool = join(tmp, 'watch-spool');
    let collector: RunningCollector = await startCollector(`sqlite:${dbFile}`, ['--log-level', 'error']);
    const port = collector.port;
    let kills = 0;
    let killed = false;
    for (let round = 0; kills < KILLS && round < KILLS * 6; round++) {
      const s = startSensor(input, spool, collector.url, 'warn', false);
      const collectorAt = rnd() < 0.3 ? rnd() * ref.marked : null;
      const collectorDone = collectorAt === null ? Promise.resolve() : sleep(collectorAt).then(async () => {
        await collector.kill9();
        collector = await startCollector(`sqlite:${dbFile}`, ['--log-level', 'error'], port);
      });
      const ended = await Promise.race([s.exit.then(() => true), sleep(rnd() * ref.marked * 1.2).then(() => false)]);
      killed = !ended;
      if (!ended) {
        s.kill();
        kills++;
      }
      expect(ended ? await s.exit : 0, s.log()).not.toBe(70);
      await s.exit;
      await collectorDone;
    }
    expect(kills).toBeGreaterThanOrEqual(KILLS);
    const last = await runWatching(startSensor(input, spool, collector.url, 'info', false), spool, files, killed);
    expect(last.code).toBe(0);
    await collector.stop();
    const got = stored(dbFile);
    expect(got.alerts).toEqual(uninterrupted.alerts);
    expectHolds(got, { ...uninterrupted, flows: want.flows, alerts: want.alerts });
  }, 240_000);
});

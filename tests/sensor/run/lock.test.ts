// One sensor per spool (run/lock.ts): the lock names its holder by process
// id, start time and boot, so a lock left by a process that is gone, or whose
// id the system has since given to another process, is taken over with a
// warning, and a lock whose holder still runs is refused. Holders are real
// processes (sleep); their start times are read from /proc here.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SpoolLockedError } from '../../../sensor/errors.js';
import { releaseLock, takeLock } from '../../../sensor/run/lock.js';
import { fixture } from '../../helpers/corpus.js';
import { FakeCollector, logLines, startSensor, TOKEN } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-lock-'));
let n = 0;
const fresh = () => {
  const d = join(tmp, String(++n));
  mkdirSync(d);
  return d;
};
const linux = existsSync('/proc/self/stat');
const sleepers: ChildProcess[] = [];
afterAll(() => {
  for (const s of sleepers) s.kill('SIGKILL');
});
/** A live process that is not the lock's holder. */
const sleeper = (): number => {
  const s = spawn('sleep', ['60'], { stdio: 'ignore' });
  sleepers.push(s);
  return s.pid!;
};
/** Field 22 of /proc/<pid>/stat: start time in clock ticks since boot. */
const startOf = (pid: number): string => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
};
const bootId = (): string => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const lockIn = (text: string, ageS = 0) => {
  const dir = fresh();
  const path = join(dir, 'lock');
  writeFileSync(path, text);
  const t = Date.now() / 1000 - ageS;
  utimesSync(path, t, t);
  return { dir, path };
};
const refused = (path: string, dir: string): SpoolLockedError => {
  try {
    takeLock(path, dir);
  } catch (e) {
    return e as SpoolLockedError;
  }
  throw new Error('the lock was taken');
};

describe('spool lock', () => {
  it('a free lock is taken and names this process, its start time and boot; released, it is gone', () => {
    const { dir } = lockIn('');
    const path = join(dir, 'lock2');
    expect(takeLock(path, dir)).toBeNull();
    const held = JSON.parse(readFileSync(path, 'utf8'));
    expect(held.pid).toBe(process.pid);
    if (linux) expect([held.start, held.boot]).toEqual([startOf(process.pid), bootId()]);
    releaseLock(path);
    expect(existsSync(path)).toBe(false);
  });

  it.skipIf(!linux)('a lock whose holder still runs is refused, naming the process', () => {
    const pid = sleeper();
    const { dir, path } = lockIn(JSON.stringify({ pid, start: startOf(pid), boot: bootId() }));
    const e = refused(path, dir);
    expect(e).toBeInstanceOf(SpoolLockedError);
    expect(e.code).toBe('SPOOL_LOCKED');
    expect(e.message).toBe(`spool ${dir} is in use by process ${pid} (one sensor per spool directory)`);
    // A bare process id (older sensors) written after its process started is honoured too.
    const old = lockIn(`${pid}\n`);
    expect(refused(old.path, old.dir)).toBeInstanceOf(SpoolLockedError);
  });

  it.skipIf(!linux)('a lock whose process id now names another process is taken over, with the reason', () => {
    const pid = sleeper();
    const reused = lockIn(JSON.stringify({ pid, start: String(Number(startOf(pid)) - 1), boot: bootId() }));
    expect(takeLock(reused.path, reused.dir)).toBe(`lock file ${reused.path} was stale (process ${pid} started after the lock was taken: its id was given out again): taken over`);
    expect(JSON.parse(readFileSync(reused.path, 'utf8')).pid).toBe(process.pid);
    const rebooted = lockIn(JSON.stringify({ pid, start: startOf(pid), boot: 'another-boot' }));
    expect(takeLock(rebooted.path, rebooted.dir)).toMatch(/taken before the machine restarted/);
    // A bare process id written an hour before its process started: the id was given out again.
    const old = lockIn(`${pid}\n`, 3600);
    expect(takeLock(old.path, old.dir)).toMatch(/its id was given out again/);
  });

  it('a lock whose process is gone, or that names no process, is taken over', () => {
    const gone = spawn('true');
    const pid = gone.pid!;
    return new Promise<void>((ok) => gone.once('exit', () => ok())).then(() => {
      const dead = lockIn(`${pid}\n`);
      expect(takeLock(dead.path, dead.dir)).toMatch(new RegExp(`process ${pid} no longer runs`));
      const garbage = lockIn('not a lock');
      expect(takeLock(garbage.path, garbage.dir)).toMatch(/it names no process/);
    });
  });

  it.skipIf(!linux)('the sensor (a real process) starts on a spool whose lock names a reused process id: one warning, exit 0', async () => {
    const pid = sleeper();
    const { dir: spool } = lockIn(`${pid}\n`, 3600);
    const input = fresh();
    copyFileSync(fixture('Withings'), join(input, '1.pcap'));
    const c = await new FakeCollector().start();
    try {
      const r = startSensor(['--input', input, '--collector', c.url, '--token', TOKEN, '--spool', spool, '--once']);
      expect(await r.exit, r.stderr()).toBe(0);
      const warned = logLines(r.stderr()).filter((l) => l.level === 40 && String(l.msg).startsWith('lock file'));
      expect(warned.map((l) => l.msg)).toEqual([`lock file ${join(spool, 'lock')} was stale (process ${pid} started after the lock was taken: its id was given out again): taken over`]);
      expect(c.flows().length).toBeGreaterThan(0);
      expect(existsSync(join(spool, 'lock'))).toBe(false);
    } finally {
      await c.close();
    }
  }, 20_000);
});

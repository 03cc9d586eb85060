import { closeSync, linkSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { SpoolLockedError } from '../errors.js';

/**
 * Who holds a lock: the process id, and (Linux) what tells that process from
 * a later one given the same id: its start time in clock ticks since boot
 * (/proc/<pid>/stat) and the boot it started in.
 */
interface Holder {
  pid: number;
  start: string | null;
  boot: string | null;
}

/** /proc's clock ticks per second (USER_HZ): 100 on every Linux architecture. */
const TICKS_PER_S = 100;
/** btime is whole seconds and the holder writes its lock after it started: a later start by more than this is another process. */
const START_SLACK_S = 2;

function readOr(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Field 22 of /proc/<pid>/stat (after the command name, which may hold spaces and parentheses). */
function startTicks(pid: number): string | null {
  const stat = readOr(`/proc/${pid}/stat`);
  if (stat === null) return null;
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
}

function bootId(): string | null {
  return readOr('/proc/sys/kernel/random/boot_id')?.trim() ?? null;
}

/** Seconds since the epoch when this boot began, from /proc/stat. */
function bootTime(): number | null {
  const m = /^btime (\d+)$/m.exec(readOr('/proc/stat') ?? '');
  return m ? Number(m[1]) : null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A lock file: JSON {pid, start, boot}, or the bare process id older sensors wrote. */
function parseHolder(text: string): Holder | null {
  const t = text.trim();
  if (/^\d+$/.test(t)) return { pid: Number(t), start: null, boot: null };
  try {
    const h = JSON.parse(t) as Partial<Holder>;
    if (Number.isInteger(h.pid) && h.pid! > 0) return { pid: h.pid!, start: typeof h.start === 'string' ? h.start : null, boot: typeof h.boot === 'string' ? h.boot : null };
  } catch {
    // not a lock any sensor wrote
  }
  return null;
}

/**
 * Why the lock at path no longer holds (its holder is gone, or its id now
 * names another process), or null when its holder still runs.
 */
function staleBecause(h: Holder | null, path: string): string | null {
  if (h === null) return 'it names no process';
  if (h.pid === process.pid) return `it names this process (${h.pid}), left by an earlier run`;
  if (!alive(h.pid)) return `process ${h.pid} no longer runs`;
  const boot = bootId();
  if (h.boot !== null && boot !== null && h.boot !== boot) return `it was taken before the machine restarted; process ${h.pid} is another one now`;
  const start = startTicks(h.pid);
  if (h.start !== null && start !== null) return h.start === start ? null : `process ${h.pid} started after the lock was taken: its id was given out again`;
  // A lock with no start time: a process that started after the lock was written cannot be its holder.
  const btime = bootTime();
  if (start === null || btime === null) return null;
  const startedAt = btime + Number(start) / TICKS_PER_S;
  const lockedAt = statSync(path).mtimeMs / 1000;
  return startedAt > lockedAt + START_SLACK_S ? `process ${h.pid} started after the lock was taken: its id was given out again` : null;
}

function tryCreate(path: string): boolean {
  try {
    const fd = openSync(path, 'wx');
    writeSync(fd, `${JSON.stringify({ pid: process.pid, start: startTicks(process.pid), boot: bootId() })}\n`);
    closeSync(fd);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    return false;
  }
}

/**
 * Moves a stale lock away, unless another sensor replaced it in the meantime
 * (it judged the same stale lock and took its place first): that one is put back.
 */
function removeStale(path: string, judged: string): boolean {
  const aside = `${path}.stale-${process.pid}`;
  try {
    renameSync(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw e;
  }
  if (readOr(aside) === judged) {
    rmSync(aside, { force: true });
    return true;
  }
  try {
    linkSync(aside, path);
  } catch {
    // a third sensor holds it now; it is theirs either way
  }
  rmSync(aside, { force: true });
  return false;
}

/**
 * Takes the lock file of a spool directory (one sensor per spool: two would
 * send each other's batches twice and race on the files). A lock whose
 * holder is gone, or whose process id now names another process, is taken
 * over: the returned text says why (for a warning); null when the lock was free.
 */
export function takeLock(path: string, dir: string): string | null {
  let takenOver: string | null = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(path)) return takenOver;
    const text = readOr(path);
    if (text === null) continue;
    const h = parseHolder(text);
    const why = staleBecause(h, path);
    if (why === null) throw new SpoolLockedError(`spool ${dir} is in use by process ${h!.pid} (one sensor per spool directory)`);
    if (!removeStale(path, text)) throw new SpoolLockedError(`spool ${dir} was just taken by another sensor (one sensor per spool directory)`);
    takenOver = `lock file ${path} was stale (${why}): taken over`;
  }
  throw new SpoolLockedError(`spool ${dir}: cannot take the lock file ${path}`);
}

/** Removes the lock if this process holds it. */
export function releaseLock(path: string): void {
  const text = readOr(path);
  if (text !== null && parseHolder(text)?.pid === process.pid) rmSync(path, { force: true });
}

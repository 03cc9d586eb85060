import { closeSync, openSync, readFileSync, readSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { writeAtomically } from '../util/files.js';

interface FileMark {
  size: number;
  mtime_ms: number;
  /** classic pcap only: bytes up to the end of the last complete record read, where an append resumes */
  offset?: number;
  /** classic pcap only: the first record header (hex), telling an append from a new file under the same name */
  head?: string;
  /** the run of the sensor (counted up at each clean stop) that last read it */
  epoch?: number;
  /** classic pcap read on in a later run than the one that began it: where this run's reading began */
  from?: number;
}

/** What is known about a file in a watched directory. */
export type FileState = { kind: 'done' } | { kind: 'new' } | { kind: 'grown'; resumeAt: number };

/** A file to remember as read: its size and mtime then, and (classic pcap) where its complete records end. */
export interface ReadMark {
  path: string;
  size: number;
  mtimeMs: number;
  offset?: number;
  /** a grown classic pcap: where this reading began */
  resumedAt?: number;
}

/** A file read since the last clean stop, to read again (silently) after an unclean one: its bytes from..to. */
export interface RereadFile {
  path: string;
  /** null: from its start */
  from: number | null;
  /** bytes up to which it had been read (its size when read whole) */
  to: number;
}

/** The 16-byte header of a classic pcap's first record, in hex; null when there is none. */
function firstRecordHead(file: string): string | null {
  try {
    const fd = openSync(file, 'r');
    try {
      const b = Buffer.alloc(16);
      return readSync(fd, b, 0, 16, 24) === 16 ? b.toString('hex') : null;
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
}

const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0;

interface StateFile {
  processed: Record<string, FileMark>;
  epoch: number;
}

/** The marks of a state file, or a reason it cannot be trusted. */
function parseState(text: string): StateFile | string {
  let s: unknown;
  try {
    s = JSON.parse(text);
  } catch (e) {
    return text.trim() === '' ? 'empty file' : `not JSON (${(e as Error).message})`;
  }
  const processed = (s as { processed?: unknown } | null)?.processed;
  if (typeof processed !== 'object' || processed === null || Array.isArray(processed)) return 'no "processed" object';
  for (const [file, m] of Object.entries(processed as Record<string, Partial<FileMark>>)) {
    const ok = typeof m === 'object' && m !== null && isCount(m.size) && typeof m.mtime_ms === 'number'
      && (m.offset === undefined || isCount(m.offset)) && (m.head === undefined || typeof m.head === 'string')
      && (m.epoch === undefined || isCount(m.epoch)) && (m.from === undefined || isCount(m.from));
    if (!ok) return `entry for ${JSON.stringify(file)} is not {size, mtime_ms}`;
  }
  const epoch = (s as { epoch?: unknown }).epoch ?? 0;
  if (!isCount(epoch)) return '"epoch" is not a count';
  return { processed: processed as Record<string, FileMark>, epoch: epoch as number };
}

/**
 * Capture files of a watched directory that were already read, by path with
 * the size and mtime they had, kept in SPOOL/state.json. A classic pcap that
 * grew after it was read (tcpdump -U went quiet for longer than --settle) is
 * read on from where reading stopped; any other change (a ring buffer,
 * tcpdump -W, reusing the name) makes it a new file, read whole.
 *
 * A state file that cannot be read (cut, emptied, edited) is moved aside and
 * the sensor starts from nothing: it reads the directory again, and the
 * collector stores each event it already has once.
 */
export class ProcessedFiles {
  private readonly path: string;
  private files: Record<string, FileMark> = {};
  /** counted up at each clean stop: files marked in this epoch were read by runs that did not end cleanly */
  private epoch = 0;

  constructor(spoolDir: string, log?: Logger, now: () => number = Date.now) {
    this.path = join(spoolDir, 'state.json');
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    const parsed = parseState(text);
    if (typeof parsed !== 'string') {
      this.files = parsed.processed;
      this.epoch = parsed.epoch;
      return;
    }
    const aside = `${this.path}.corrupt-${now()}`;
    renameSync(this.path, aside);
    log?.error({ state: this.path, moved_to: aside }, `${this.path}: unreadable state file (${parsed}); moved to ${aside}, every capture of the directory is read again`);
  }

  state(file: string, size: number, mtimeMs: number): FileState {
    const m = this.files[file];
    if (m === undefined) return { kind: 'new' };
    if (m.mtime_ms === mtimeMs && m.size === size) return { kind: 'done' };
    if (m.offset !== undefined && m.head !== undefined && size >= m.offset && size >= m.size && firstRecordHead(file) === m.head) {
      return { kind: 'grown', resumeAt: m.offset };
    }
    return { kind: 'new' };
  }

  /** offset: where a classic pcap's complete records end (omit for other formats: a change means reading it again) */
  mark(file: string, size: number, mtimeMs: number, offset?: number): void {
    this.markAll([{ path: file, size, mtimeMs, offset }]);
  }

  /** Remembers several files in one write: all of them or (a crash) none. */
  markAll(marks: ReadMark[]): void {
    if (marks.length === 0) return;
    for (const { path, size, mtimeMs, offset, resumedAt } of marks) {
      const head = offset === undefined ? null : firstRecordHead(path);
      const before = this.files[path];
      // Read on in the same epoch: reading it again starts where the epoch's first reading did.
      const from = before?.epoch === this.epoch ? before.from : resumedAt;
      const mark: FileMark = head === null ? { size, mtime_ms: mtimeMs } : { size, mtime_ms: mtimeMs, offset, head };
      this.files[path] = { ...mark, epoch: this.epoch, ...(from === undefined ? {} : { from }) };
    }
    this.save();
  }

  /**
   * The files read since the last clean stop, in the order first read, that
   * are still as they were read (or grew after): after an unclean stop they
   * are read again, silently, to rebuild the flows, alerts and beacons that
   * were in progress. At most maxBytes, the most recent first.
   */
  rereadable(maxBytes: number): { files: RereadFile[]; skipped: number } {
    const files: RereadFile[] = [];
    for (const [path, m] of Object.entries(this.files)) {
      if ((m.epoch ?? 0) !== this.epoch) continue;
      let st;
      try {
        st = statSync(path);
      } catch {
        continue;
      }
      if (this.state(path, st.size, st.mtimeMs).kind === 'new') continue;
      files.push({ path, from: m.from ?? null, to: m.offset ?? m.size });
    }
    // The most recent files matter most: what was in progress began there.
    let budget = maxBytes;
    let first = files.length;
    while (first > 0) {
      const f = files[first - 1];
      const bytes = f.to - (f.from ?? 0);
      if (bytes > budget) break;
      budget -= bytes;
      first--;
    }
    return { files: files.slice(first), skipped: first };
  }

  /** A clean stop: every flow ended and was spooled, so nothing read so far needs reading again. */
  closeEpoch(): void {
    this.epoch++;
    this.save();
  }

  /** Rotation deletes old captures; their entries would only grow the file. */
  prune(present: Set<string>, under: string): void {
    let changed = false;
    for (const f of Object.keys(this.files)) {
      if (f.startsWith(under) && !present.has(f)) {
        delete this.files[f];
        changed = true;
      }
    }
    if (changed) this.save();
  }

  /** Written atomically: a crash leaves the old or the new state, never a mix. */
  private save(): void {
    writeAtomically(this.path, `${JSON.stringify({ version: 1, epoch: this.epoch, processed: this.files }, null, 1)}\n`);
  }
}

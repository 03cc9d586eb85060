import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SpoolFullError, SpoolLockedError } from '../errors.js';

/** A batch file name: the sequence number, zero-padded so name order is delivery order. */
const SEQ_DIGITS = 16;
const BATCH_RE = /^(\d{16})\.json$/;


interface Entry {
  seq: number;
  bytes: number;
}

/**
 * The on-disk queue every batch passes through before it is sent (write-ahead):
 * DIR/queue/<seq>.json, one IngestBatch per file, removed only after the
 * collector answered 2xx. Sequence numbers grow across restarts, so a
 * restarted sensor sends what it left behind first, in the original order.
 */
export class Spool {
  readonly queueDir: string;
  readonly rejectedDir: string;
  private readonly entries: Entry[] = [];
  private total = 0;
  private nextSeq = 1;
  private readonly lockPath: string;
  /** one shared promise, so waiting in a loop does not pile up waiters */
  private space: { promise: Promise<void>; resolve: () => void } | null = null;

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
  ) {
    this.queueDir = join(dir, 'queue');
    this.rejectedDir = join(dir, 'rejected');
    mkdirSync(this.queueDir, { recursive: true });
    mkdirSync(this.rejectedDir, { recursive: true });
    this.lockPath = join(dir, 'lock');
    this.lock();
    for (const name of readdirSync(this.queueDir).sort()) {
      const m = BATCH_RE.exec(name);
      // A temp file is a batch whose write never finished: it was never acknowledged to anyone.
      if (!m) {
        if (name.endsWith('.tmp')) rmSync(join(this.queueDir, name), { force: true });
        continue;
      }
      const seq = Number(m[1]);
      const bytes = statSync(join(this.queueDir, name)).size;
      this.entries.push({ seq, bytes });
      this.total += bytes;
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
    }
    for (const name of readdirSync(this.rejectedDir)) {
      const m = BATCH_RE.exec(name);
      if (m) this.nextSeq = Math.max(this.nextSeq, Number(m[1]) + 1);
    }
  }

  /** One sensor per spool: two would send each other's batches twice and race on the files. */
  private lock(): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(this.lockPath, 'wx');
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const pid = Number(readFileSync(this.lockPath, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new SpoolLockedError(`spool ${this.dir} is in use by process ${pid} (one sensor per spool directory)`);
      }
      rmSync(this.lockPath, { force: true });
    }
    throw new SpoolLockedError(`spool ${this.dir}: cannot take the lock file ${this.lockPath}`);
  }

  unlock(): void {
    rmSync(this.lockPath, { force: true });
  }

  get batches(): number {
    return this.entries.length;
  }

  get bytes(): number {
    return this.total;
  }

  /**
   * Stores a batch durably (fsync, then rename, so a crash leaves either the
   * whole batch or none). Throws SpoolFullError instead of exceeding the
   * bound; an empty spool takes any batch so a single large one cannot wedge it.
   */
  append(body: string): number {
    const bytes = Buffer.byteLength(body);
    if (this.entries.length > 0 && this.total + bytes > this.maxBytes) {
      throw new SpoolFullError(`spool ${this.queueDir} is full (${this.entries.length} batches, ${this.total} bytes of ${this.maxBytes}); the collector has not accepted batches for a while`);
    }
    const seq = this.nextSeq++;
    const path = this.path(seq);
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, body);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    this.entries.push({ seq, bytes });
    this.total += bytes;
    return seq;
  }

  /** The oldest batch, which is always the next one to send. */
  head(): { seq: number; bytes: number } | null {
    return this.entries[0] ?? null;
  }

  read(seq: number): string {
    return readFileSync(this.path(seq), 'utf8');
  }

  /** The collector has it: forget it. */
  remove(seq: number): void {
    rmSync(this.path(seq), { force: true });
    this.drop(seq);
  }

  /** The collector will never take it (400/413): keep it for a human, out of the queue. */
  reject(seq: number): string {
    const to = join(this.rejectedDir, `${String(seq).padStart(SEQ_DIGITS, '0')}.json`);
    renameSync(this.path(seq), to);
    this.drop(seq);
    return to;
  }

  /** Resolves once a batch has left the queue (room may have freed). */
  waitForSpace(): Promise<void> {
    if (!this.space) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.space = { promise, resolve };
    }
    return this.space.promise;
  }

  private drop(seq: number): void {
    const i = this.entries.findIndex((e) => e.seq === seq);
    if (i < 0) return;
    this.total -= this.entries[i].bytes;
    this.entries.splice(i, 1);
    const space = this.space;
    this.space = null;
    space?.resolve();
  }

  private path(seq: number): string {
    return join(this.queueDir, `${String(seq).padStart(SEQ_DIGITS, '0')}.json`);
  }
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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface FileMark {
  size: number;
  mtime_ms: number;
  /** classic pcap only: bytes up to the end of the last complete record read, where an append resumes */
  offset?: number;
  /** classic pcap only: the first record header (hex), telling an append from a new file under the same name */
  head?: string;
}

/** What is known about a file in a watched directory. */
export type FileState = { kind: 'done' } | { kind: 'new' } | { kind: 'grown'; resumeAt: number };

/**
 * Capture files of a watched directory that were already read, by absolute
 * path with the size and mtime they had. A classic pcap that grew after it was
 * read (tcpdump -U went quiet for longer than --settle) is read on from where
 * reading stopped; any other change (a ring buffer, tcpdump -W, reusing the
 * name) makes it a new file, read whole.
 */
export class ProcessedFiles {
  private readonly path: string;
  private files: Record<string, FileMark> = {};

  constructor(spoolDir: string) {
    this.path = join(spoolDir, 'state.json');
    try {
      const s = JSON.parse(readFileSync(this.path, 'utf8')) as { processed?: Record<string, FileMark> };
      if (s.processed && typeof s.processed === 'object') this.files = s.processed;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${this.path}: unreadable state file (${(e as Error).message}); move it away to start over`);
    }
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
    const head = offset === undefined ? null : firstRecordHead(file);
    this.files[file] = head === null ? { size, mtime_ms: mtimeMs } : { size, mtime_ms: mtimeMs, offset, head };
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

  private save(): void {
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ version: 1, processed: this.files }, null, 1)}\n`);
    renameSync(tmp, this.path);
  }
}

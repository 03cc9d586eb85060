import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SpoolFullError, SpoolGarbledError, SpoolLockedError, SpoolNoSpaceError } from '../errors.js';
import { decodeBatchFile, encodeBatchFile, type DecodedBatch } from './batchfile.js';

/** A batch file name: the sequence number, zero-padded so name order is delivery order. */
const SEQ_DIGITS = 16;
const BATCH_RE = /^(\d{16})\.json$/;
/** anything named after a sequence number (rejected/ also holds <seq>.garbled) */
const SEQ_NAME_RE = /^(\d{16})\./;
/** errno codes that mean the disk is full: an expected state, not a bug */
const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']);

/** A spool file whose content is not what was written; decoded says what could still be read. */
export class GarbledBatch extends SpoolGarbledError {
  constructor(
    readonly path: string,
    readonly decoded: Extract<DecodedBatch, { ok: false }>,
  ) {
    super(`spool file ${path} is garbled: ${decoded.why}`);
  }
}

/** Writes a whole file and fsyncs it; the disk being full is a SpoolNoSpaceError, and leaves no file behind. */
function writeFileDurably(path: string, text: string, dir: string): void {
  try {
    const data = Buffer.from(text);
    const fd = openSync(path, 'w');
    try {
      // A write to a nearly full disk may write part of the data and no error: the next one throws.
      for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    rmSync(path, { force: true });
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (NO_SPACE.has(code)) throw new SpoolNoSpaceError(dir, code);
    throw e;
  }
}

/** Writes a file durably: a crash leaves either all of it or none (fsync, then rename). */
function writeDurably(path: string, text: string, dir: string): void {
  writeFileDurably(`${path}.tmp`, text, dir);
  renameSync(`${path}.tmp`, path);
}

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
  /** bytes in the spool directory besides the queue (evidence captures being cut) */
  private external = 0;
  /** entries of queue/ that are not batches (a directory, another name): skipped */
  readonly foreign: string[] = [];
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
    this.scanQueue();
    for (const name of readdirSync(this.rejectedDir)) {
      const m = SEQ_NAME_RE.exec(name);
      if (m) this.nextSeq = Math.max(this.nextSeq, Number(m[1]) + 1);
    }
  }

  /** The batches left in queue/; anything else there is left alone and listed in foreign. */
  private scanQueue(): void {
    const names = readdirSync(this.queueDir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of names) {
      const m = BATCH_RE.exec(e.name);
      // A temp file is a batch whose write never finished: it was never acknowledged to anyone.
      if (e.isFile() && e.name.endsWith('.tmp')) {
        rmSync(join(this.queueDir, e.name), { force: true });
        continue;
      }
      if (!m || !e.isFile()) {
        this.foreign.push(join(this.queueDir, e.name));
        continue;
      }
      const seq = Number(m[1]);
      const bytes = statSync(join(this.queueDir, e.name)).size;
      this.entries.push({ seq, bytes });
      this.total += bytes;
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
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

  /** Bytes written to the spool directory outside the queue (evidence captures) count against the bound. */
  holdExternal(bytes: number): void {
    this.external += bytes;
  }

  releaseExternal(bytes: number): void {
    this.external = Math.max(0, this.external - bytes);
    this.wakeSpaceWaiters();
  }

  /**
   * Stores a batch durably, with its checksum line (see batchfile.ts).
   * Throws SpoolFullError instead of exceeding the bound (an empty spool
   * takes any batch, so a single large one cannot wedge it) and
   * SpoolNoSpaceError when the disk is full. events: the body's events'
   * text, when the caller has it.
   */
  append(body: string, events?: readonly string[]): number {
    const file = encodeBatchFile(body, events);
    const bytes = Buffer.byteLength(file);
    const used = this.total + this.external;
    if ((this.entries.length > 0 || this.external > 0) && used + bytes > this.maxBytes) {
      throw new SpoolFullError(`spool ${this.queueDir} is full (${this.entries.length} batches, ${used} bytes of ${this.maxBytes}); the collector has not accepted batches for a while`);
    }
    const seq = this.nextSeq;
    writeDurably(this.path(seq), file, this.dir);
    this.nextSeq++;
    this.entries.push({ seq, bytes });
    this.total += bytes;
    return seq;
  }

  /** The oldest batch, which is always the next one to send. */
  head(): { seq: number; bytes: number } | null {
    return this.entries[0] ?? null;
  }

  /** The batch body, byte for byte as appended; a GarbledBatch when the file is not what was written. */
  read(seq: number): string {
    const path = this.path(seq);
    const decoded = decodeBatchFile(readFileSync(path, 'utf8'));
    if (!decoded.ok) throw new GarbledBatch(path, decoded);
    return decoded.body;
  }

  /**
   * A garbled batch: the original goes to rejected/<seq>.garbled for a
   * human, and body (what could still be read), when given, takes its place
   * in the queue, in the same position. Returns where the original went.
   */
  replaceGarbled(seq: number, body: string | null, events?: readonly string[]): string {
    const path = this.path(seq);
    const to = join(this.rejectedDir, `${String(seq).padStart(SEQ_DIGITS, '0')}.garbled`);
    const entry = this.entries.find((e) => e.seq === seq);
    if (body === null || !entry) {
      renameSync(path, to);
      this.drop(seq);
      return to;
    }
    // Written before the original moves: with no room for it, nothing has changed.
    const file = encodeBatchFile(body, events);
    writeFileDurably(`${path}.tmp`, file, this.dir);
    renameSync(path, to);
    renameSync(`${path}.tmp`, path);
    this.total += Buffer.byteLength(file) - entry.bytes;
    entry.bytes = Buffer.byteLength(file);
    return to;
  }

  /** The collector has it: forget it. */
  remove(seq: number): void {
    rmSync(this.path(seq), { force: true });
    this.drop(seq);
  }

  /**
   * The collector will never take these events: record (a batch body of
   * just them, with the reasons) is kept in rejected/<seq>.json for a human
   * or --resend-rejected, and the batch leaves the queue. Returns the path.
   */
  reject(seq: number, record: string): string {
    const to = join(this.rejectedDir, `${String(seq).padStart(SEQ_DIGITS, '0')}.json`);
    writeDurably(to, record, this.dir);
    this.remove(seq);
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
    this.wakeSpaceWaiters();
  }

  private wakeSpaceWaiters(): void {
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

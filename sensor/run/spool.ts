import { closeSync, fsync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SpoolFullError, SpoolGarbledError, SpoolNoSpaceError } from '../errors.js';
import { decodeBatchFile, encodeBatchFile, encodeBatchParts, type DecodedBatch } from './batchfile.js';
import { releaseLock, takeLock } from './lock.js';

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

/** A failed write leaves no file behind; the disk being full is a SpoolNoSpaceError. */
function writeFailed(e: unknown, path: string, dir: string): Error {
  rmSync(path, { force: true });
  const code = (e as NodeJS.ErrnoException).code ?? '';
  return NO_SPACE.has(code) ? new SpoolNoSpaceError(dir, code) : (e as Error);
}

/** Writes a whole file, not yet synced; returns its open descriptor. Throws as writeFailed says. */
function writeFileUnsynced(path: string, data: Buffer, dir: string): number {
  let fd: number | null = null;
  try {
    fd = openSync(path, 'w');
    // A write to a nearly full disk may write part of the data and no error: the next one throws.
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
    return fd;
  } catch (e) {
    if (fd !== null) closeSync(fd);
    throw writeFailed(e, path, dir);
  }
}

/** Writes a whole file and fsyncs it; the disk being full is a SpoolNoSpaceError, and leaves no file behind. */
function writeFileDurably(path: string, content: string | Buffer, dir: string): void {
  const fd = writeFileUnsynced(path, typeof content === 'string' ? Buffer.from(content) : content, dir);
  try {
    fsyncSync(fd);
  } catch (e) {
    throw writeFailed(e, path, dir);
  } finally {
    closeSync(fd);
  }
}

/** Writes a file durably: a crash leaves either all of it or none (fsync, then rename). */
function writeDurably(path: string, content: string | Buffer, dir: string): void {
  writeFileDurably(`${path}.tmp`, content, dir);
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
  /** bytes of the batch appendEventsSoon is writing */
  private writing = 0;
  /** entries of queue/ that are not batches (a directory, another name): skipped */
  readonly foreign: string[] = [];
  private readonly lockPath: string;
  /** why a lock left behind was taken over (logged), null when it was free */
  readonly staleLock: string | null;
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
    this.staleLock = takeLock(this.lockPath, dir);
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

  unlock(): void {
    releaseLock(this.lockPath);
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
    return this.store(encodeBatchFile(body, events));
  }

  /** append(joinBody(prefix, events), events), without making the body's string. */
  appendEvents(prefix: string, events: readonly string[]): number {
    return this.store(encodeBatchParts(prefix, events));
  }

  /**
   * appendEvents with the fsync on libuv's thread pool, so that the caller
   * goes on reading while the batch reaches the disk. The bound is checked
   * and the file written before this returns (SpoolFullError and
   * SpoolNoSpaceError are thrown here); the promise resolves once the batch
   * is durable and in the queue (before that, delivery does not see it), or
   * rejects as the write failed, leaving nothing behind. One at a time.
   */
  appendEventsSoon(prefix: string, events: readonly string[]): Promise<number> {
    if (this.writing > 0) throw new Error('appendEventsSoon: the previous batch is still being written');
    const file = encodeBatchParts(prefix, events);
    this.checkRoom(file.length);
    const seq = this.nextSeq;
    const path = this.path(seq);
    const fd = writeFileUnsynced(`${path}.tmp`, file, this.dir);
    // Taken now: a batch appended meanwhile must not take the same name.
    this.nextSeq++;
    this.writing = file.length;
    return new Promise((resolve, reject) => {
      fsync(fd, (synced) => {
        let e: unknown = synced;
        try {
          closeSync(fd);
        } catch (closed) {
          e ??= closed;
        }
        this.writing = 0;
        if (e) return reject(writeFailed(e, `${path}.tmp`, this.dir));
        try {
          renameSync(`${path}.tmp`, path);
        } catch (err) {
          return reject(writeFailed(err, `${path}.tmp`, this.dir));
        }
        this.enqueued(seq, file.length);
        resolve(seq);
      });
    });
  }

  private store(file: Buffer): number {
    this.checkRoom(file.length);
    const seq = this.nextSeq;
    writeDurably(this.path(seq), file, this.dir);
    this.nextSeq++;
    this.enqueued(seq, file.length);
    return seq;
  }

  /**
   * A batch is in queue/ now. Entries stay in sequence order, which is
   * delivery order: a batch synced on the thread pool took its number
   * before a batch appended meanwhile, and lands after it.
   */
  private enqueued(seq: number, bytes: number): void {
    let i = this.entries.length;
    while (i > 0 && this.entries[i - 1].seq > seq) i--;
    this.entries.splice(i, 0, { seq, bytes });
    this.total += bytes;
  }

  /** An empty spool takes any batch, so a single large one cannot wedge it. */
  private checkRoom(bytes: number): void {
    const used = this.total + this.external + this.writing;
    if ((this.entries.length > 0 || this.external > 0 || this.writing > 0) && used + bytes > this.maxBytes) {
      throw new SpoolFullError(`spool ${this.queueDir} is full (${this.entries.length} batches, ${used} bytes of ${this.maxBytes}); the collector has not accepted batches for a while`);
    }
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
    this.total += file.length - entry.bytes;
    entry.bytes = file.length;
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

import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SpoolFullError } from '../errors.js';
import { releaseLock, takeLock } from './lock.js';

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

  unlock(): void {
    releaseLock(this.lockPath);
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

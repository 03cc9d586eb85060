import { closeSync, openSync, writeSync } from 'node:fs';
import { jsonSafe } from '../../contract/escape.js';

const FLUSH_AT = 1 << 20;

/**
 * Appends one JSON object per line, batching writes so output costs little per
 * record. Lines carry names devices sent and are read with cat and grep: DEL
 * and C1 characters are written as \u escapes (jsonSafe), as JSON allows.
 */
export class JsonlWriter {
  private readonly fd: number;
  private pending: string[] = [];
  private pendingLen = 0;
  count = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
  }

  write(obj: unknown): void {
    this.writeLine(JSON.stringify(obj));
  }

  /** A record already in JSON (serialised by a worker thread). */
  writeLine(line: string): void {
    this.pending.push(line);
    this.pendingLen += line.length + 1;
    this.count++;
    if (this.pendingLen >= FLUSH_AT) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    // Made safe a batch at a time (JSON text holds no raw newline, so the batch's are the line ends): one scan, not one per line.
    writeSync(this.fd, `${jsonSafe(this.pending.join('\n'))}\n`);
    this.pending = [];
    this.pendingLen = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

import { closeSync, openSync, writeSync } from 'node:fs';
import { jsonSafe, needsJsonSafe } from '../../contract/escape.js';

/** Bytes gathered before a write. */
const FLUSH_AT = 1 << 20;
/** Room for a flush's worth plus one line at its worst (3 UTF-8 bytes per UTF-16 unit). */
const BUFFER_BYTES = 4 * FLUSH_AT;

/**
 * Appends one JSON object per line, batching writes so output costs little per
 * record. Lines carry names devices sent and are read with cat and grep: DEL
 * and C1 characters are written as \u escapes (jsonSafe), as JSON allows.
 */
export class JsonlWriter {
  private readonly fd: number;
  // Lines are encoded straight into one buffer: joining them into a string first and
  // encoding that again cost five times as much on a capture's DNS and flow records.
  private readonly buf = Buffer.allocUnsafe(BUFFER_BYTES);
  private used = 0;
  count = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
  }

  write(obj: unknown): void {
    this.writeLine(JSON.stringify(obj));
  }

  /** A record already in JSON (serialised by a worker thread). */
  writeLine(json: string): void {
    const line = needsJsonSafe(json) ? jsonSafe(json) : json;
    this.count++;
    const worst = line.length * 3 + 1;
    if (this.used + worst > BUFFER_BYTES) {
      this.flush();
      if (worst > BUFFER_BYTES) {
        writeSync(this.fd, `${line}\n`);
        return;
      }
    }
    this.used += this.buf.write(line, this.used);
    this.buf[this.used++] = 0x0a;
    if (this.used >= FLUSH_AT) this.flush();
  }

  flush(): void {
    let done = 0;
    while (done < this.used) done += writeSync(this.fd, this.buf, done, this.used - done);
    this.used = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

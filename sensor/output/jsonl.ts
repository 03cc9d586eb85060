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
    this.count++;
    const worst = json.length * 3 + 1;
    if (this.used + worst > BUFFER_BYTES) {
      this.flush();
      if (worst > BUFFER_BYTES) {
        writeSync(this.fd, `${needsJsonSafe(json) ? jsonSafe(json) : json}\n`);
        return;
      }
    }
    this.used += this.buf.write(json, this.used);
    this.buf[this.used++] = 0x0a;
    if (this.used >= FLUSH_AT) this.flush();
  }

  /**
   * Writes the lines gathered, escaped by jsonSafe. Every character it escapes
   * is DEL or starts with byte 0xC2 or 0xE2 in UTF-8: three byte searches of
   * the whole buffer (most buffers have none of them) replace a test of each
   * line's text, and only a buffer that has one is decoded and tested.
   */
  flush(): void {
    let out = this.buf.subarray(0, this.used);
    if (out.indexOf(0x7f) >= 0 || out.indexOf(0xc2) >= 0 || out.indexOf(0xe2) >= 0) {
      const text = out.toString('utf8');
      if (needsJsonSafe(text)) out = Buffer.from(jsonSafe(text));
    }
    let done = 0;
    while (done < out.length) done += writeSync(this.fd, out, done, out.length - done);
    this.used = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import { createGunzip, gunzipSync, constants as zc } from 'node:zlib';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { CaptureError } from '../errors.js';
import { newRawPacket, type PacketSink, type RawPacket } from './packet.js';
import { isPcapMagic, PcapParser, PCAP_HEADER_LEN } from './pcap.js';
import { isPcapngMagic, PcapngParser } from './pcapng.js';

export type CaptureFormat = 'pcap' | 'pcapng';

export interface ReadResult {
  format: string | null;
  linktypes: number[];
  /** things the reader worked around (records longer than the snap length), one line each */
  warnings: string[];
  packets: number;
  bytes: number;
  /** capture time (epoch seconds) of the first and last packet delivered; null when none was */
  firstTs: number | null;
  lastTs: number | null;
  /** offset of an incomplete last record, when the capture ends inside one */
  truncatedAt: number | null;
  /** reading stopped here; everything before it was delivered */
  error: CaptureError | null;
}

const CHUNK = 4 * 1024 * 1024;
const GZIP_MAGIC = 0x1f8b;

function describeStart(head: Buffer): string {
  if (head.length === 0) return 'the file is empty';
  const hex = [...head.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  const printable = head.subarray(0, 16).every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127));
  const text = printable ? `, looks like text: ${JSON.stringify(head.subarray(0, 16).toString('latin1'))}` : '';
  return `not a pcap or pcapng capture: starts with ${hex}${text} (expected a1b2c3d4, a1b23c4d or 0a0d0d0a)`;
}

/** First bytes of a file, decompressed if it is gzip. */
function readHead(path: string): { head: Buffer; gzip: boolean } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new CaptureError('IO', path, null, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message);
  }
  try {
    if (fstatSync(fd).isDirectory()) throw new CaptureError('IO', path, null, 'is a directory');
    const raw = Buffer.alloc(65536);
    const n = readSync(fd, raw, 0, raw.length, 0);
    const head = raw.subarray(0, n);
    if (n >= 2 && head.readUInt16BE(0) === GZIP_MAGIC) {
      try {
        return { head: gunzipSync(head, { finishFlush: zc.Z_SYNC_FLUSH }), gzip: true };
      } catch (e) {
        throw new CaptureError('NOT_A_CAPTURE', path, 0, `gzip data cannot be decompressed: ${(e as Error).message}`);
      }
    }
    return { head, gzip: false };
  } finally {
    closeSync(fd);
  }
}

/** Throws NOT_A_CAPTURE (with what was found) unless the file starts like a capture we read. */
export function sniffCapture(path: string): { format: CaptureFormat; gzip: boolean } {
  const { head, gzip } = readHead(path);
  if (isPcapMagic(head)) return { format: 'pcap', gzip };
  if (isPcapngMagic(head)) return { format: 'pcapng', gzip };
  throw new CaptureError('NOT_A_CAPTURE', path, 0, (gzip ? 'gzip-compressed, but ' : '') + describeStart(head));
}

/**
 * Frames a capture delivered in arbitrary chunks. Holds one working buffer;
 * complete records are handed to the sink as views into it.
 */
class Framer {
  private work = Buffer.allocUnsafe(CHUNK);
  private len = 0;
  private pos = 0;
  /** file offset of work[0] */
  private base = 0;
  private parser: PcapParser | PcapngParser | null = null;
  private readonly pkt: RawPacket = newRawPacket();
  readonly result: ReadResult = { format: null, linktypes: [], warnings: [], packets: 0, bytes: 0, firstTs: null, lastTs: null, truncatedAt: null, error: null };
  private readonly counting: PacketSink;

  constructor(
    private readonly file: string,
    sink: PacketSink,
  ) {
    const r = this.result;
    this.counting = (p) => {
      // The last packet's time is read off the reused packet at the end: no per-packet arithmetic.
      if (r.packets++ === 0) r.firstTs = p.tsSec + p.tsNsec / 1e9;
      r.bytes += p.wirelen;
      sink(p);
    };
  }

  /** Room to write into directly (file reads), compacting or growing first. */
  space(min: number): { buf: Buffer; at: number } {
    if (this.pos > 0 && this.work.length - this.len < min) {
      this.work.copy(this.work, 0, this.pos, this.len);
      this.base += this.pos;
      this.len -= this.pos;
      this.pos = 0;
    }
    if (this.work.length - this.len < min) {
      const bigger = Buffer.allocUnsafe(Math.max(this.work.length * 2, this.len + min));
      this.work.copy(bigger, 0, 0, this.len);
      this.work = bigger;
    }
    return { buf: this.work, at: this.len };
  }

  /** Account for n bytes written at space().at, then frame what is complete. */
  commit(n: number): void {
    this.len += n;
    this.frame();
  }

  push(chunk: Buffer): void {
    const { buf, at } = this.space(chunk.length);
    chunk.copy(buf, at);
    this.commit(chunk.length);
  }

  private frame(): void {
    if (this.result.error) return;
    try {
      if (!this.parser) {
        if (this.len - this.pos < 4) return;
        const head = this.work.subarray(this.pos, this.len);
        if (isPcapngMagic(head)) {
          this.parser = new PcapngParser(this.file);
          this.result.format = 'pcapng';
        } else if (isPcapMagic(head)) {
          if (head.length < PCAP_HEADER_LEN) return;
          const p = new PcapParser(this.file, head);
          this.parser = p;
          this.result.format = p.format;
          this.result.linktypes = [p.linktype];
          this.pos += PCAP_HEADER_LEN;
        } else {
          throw new CaptureError('NOT_A_CAPTURE', this.file, this.base + this.pos, describeStart(head));
        }
      }
      this.pos = this.parser.parse(this.work, this.pos, this.len, this.base + this.pos, this.pkt, this.counting);
    } catch (e) {
      if (!(e instanceof CaptureError)) throw e;
      this.result.error = e;
    }
  }

  /** Called at end of input: what is left is an incomplete record. */
  finish(): ReadResult {
    const r = this.result;
    if (r.packets > 0) r.lastTs = this.pkt.tsSec + this.pkt.tsNsec / 1e9;
    if (this.parser instanceof PcapngParser) r.linktypes = [...this.parser.linktypes];
    if (this.parser instanceof PcapParser) r.warnings = this.parser.warnings;
    if (r.error) return r;
    if (!this.parser) {
      const head = this.work.subarray(this.pos, this.len);
      r.error = isPcapMagic(head)
        ? new CaptureError('NOT_A_CAPTURE', this.file, 0, `file ends inside the ${PCAP_HEADER_LEN}-byte pcap header (${head.length} bytes)`)
        : new CaptureError('NOT_A_CAPTURE', this.file, 0, describeStart(head));
    } else if (this.pos < this.len) {
      r.truncatedAt = this.base + this.pos;
    }
    return r;
  }

  /** bytes received so far */
  get received(): number {
    return this.base + this.len;
  }

  get failed(): boolean {
    return this.result.error !== null;
  }
}

/** Awaited between chunks when given: lets a consumer that runs elsewhere (worker threads) set the pace. */
export type Pace = () => Promise<void>;

/** Reads a capture file (plain or gzip) and hands every frame to the sink in file order. */
export async function readCaptureFile(path: string, sink: PacketSink, pace?: Pace): Promise<ReadResult> {
  const { gzip } = sniffCapture(path);
  if (gzip) return readCaptureStream(path, createReadStream(path).pipe(createGunzip()), sink, pace);
  const framer = new Framer(path, sink);
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const { buf, at } = framer.space(CHUNK / 2);
      const n = readSync(fd, buf, at, buf.length - at, null);
      if (n === 0) break;
      framer.commit(n);
      if (framer.failed) break;
      if (pace) await pace();
    }
  } finally {
    closeSync(fd);
  }
  return framer.finish();
}

/** Reads a capture from a stream (stdin, gunzip). */
export async function readCaptureStream(name: string, stream: Readable, sink: PacketSink, pace?: Pace): Promise<ReadResult> {
  const framer = new Framer(name, sink);
  // The consumer's failure (its sink or pace) is its own, not a read error of this stream.
  let consumerError: unknown = null;
  try {
    for await (const chunk of stream) {
      try {
        framer.push(chunk as Buffer);
        if (!framer.failed && pace) await pace();
      } catch (e) {
        consumerError = e;
      }
      if (framer.failed || consumerError) {
        stream.destroy();
        break;
      }
    }
  } catch (e) {
    const r = framer.finish();
    if (r.error) return r;
    // gzip's "unexpected end of file": the capture was cut while being written.
    if ((e as NodeJS.ErrnoException).code === 'Z_BUF_ERROR') r.truncatedAt ??= framer.received;
    else r.error = new CaptureError('IO', name, framer.received, `reading stopped: ${(e as Error).message}`);
    return r;
  }
  if (consumerError) throw consumerError;
  return framer.finish();
}

class FirstPacket {
  constructor(readonly ts: number) {}
}

/** Timestamp of a capture's first packet (null when it has none), to order files in time. */
export async function firstTimestamp(path: string): Promise<number | null> {
  try {
    await readCaptureFile(path, (p) => {
      throw new FirstPacket(p.tsSec + p.tsNsec / 1e9);
    });
  } catch (e) {
    if (e instanceof FirstPacket) return e.ts;
    throw e;
  }
  return null;
}

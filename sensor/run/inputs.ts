import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { sep } from 'node:path';
import { pipeline as pipe, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Logger } from 'pino';
import { CaptureError } from '../errors.js';
import { PCAP_HEADER_LEN } from '../capture/pcap.js';
import { readCaptureStream, sniffCapture, type ReadResult } from '../capture/reader.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { Batcher } from './deliver.js';
import { STOP, type Drain } from './drain.js';
import type { EvidenceSender } from './evidence.js';
import type { Spool } from './spool.js';
import { ProcessedFiles, type ReadMark } from './state.js';
import { DirWatcher, type WatchedFile } from './watch.js';

const POLL_MS = 500;
/** A stdin sensor has no file boundaries: device updates go out on this clock instead. */
const STDIN_DEVICE_EVERY_MS = 60_000;

export interface InputOptions {
  /** '-' (pcap stream on stdin), a capture file, or a directory of rotated captures */
  input: string;
  once: boolean;
  /** seconds a file's size must stay the same before it counts as complete */
  settleS: number;
  stdin?: Readable;
}

export type InputKind = 'stdin' | 'file' | 'dir';

/** Which kind of input SRC is; a missing path or a file that is not a capture is a CaptureError (exit 2). */
export function inputKind(input: string): InputKind {
  if (input === '-') return 'stdin';
  let st;
  try {
    st = statSync(input);
  } catch {
    throw new CaptureError('IO', input, null, 'no such file or directory');
  }
  if (st.isDirectory()) return 'dir';
  sniffCapture(input);
  return 'file';
}

/**
 * Where the complete records of a classic, uncompressed pcap end (the offset
 * an append is read from), or undefined when reading cannot resume there.
 * bytes counts what the reader got, with the re-sent header when it resumed.
 */
function recordsEnd(resumeAt: number | null, r: ReadResult, bytes: number): number | undefined {
  if (r.error || !r.format?.startsWith('pcap') || r.format === 'pcapng') return undefined;
  const end = r.truncatedAt ?? bytes;
  return resumeAt === null ? end : resumeAt + end - PCAP_HEADER_LEN;
}

/**
 * A capture file as a stream, up to byte `to` (exclusive) when given;
 * resumeAt (classic pcap): its header, then the records from that offset on.
 */
function openFile(path: string, resumeAt: number | null = null, to?: number): Readable {
  const end = to === undefined ? undefined : to - 1;
  if (resumeAt !== null) {
    const header = Buffer.alloc(PCAP_HEADER_LEN);
    const fd = openSync(path, 'r');
    try {
      readSync(fd, header, 0, PCAP_HEADER_LEN, 0);
    } finally {
      closeSync(fd);
    }
    const rest = createReadStream(path, { start: resumeAt, end, highWaterMark: 1 << 20 });
    return Readable.from((async function* () {
      yield header;
      yield* rest;
    })());
  }
  const raw = createReadStream(path, { end, highWaterMark: 1 << 20 });
  if (!sniffCapture(path).gzip) return raw;
  return pipe(raw, createGunzip(), () => {});
}

interface ReadOutcome {
  result: ReadResult;
  /** false when a stop came before the end */
  complete: boolean;
  /** capture time of the first and last packet (Infinity/-Infinity when none) */
  first: number;
  last: number;
  /** bytes the reader got */
  bytes: number;
}

/** How far a gated read got. */
interface GateState {
  complete: boolean;
  bytes: number;
}

/**
 * The chunks of source, each only once the batcher has room (reading pauses
 * while the spool is full), until the end or a stop.
 */
async function* gated(source: Readable, it: AsyncIterator<Buffer>, batcher: Batcher, drain: Drain, state: GateState): AsyncGenerator<Buffer> {
  let ended = false;
  try {
    for (;;) {
      if ((await drain.untilStop(batcher.room())) === STOP) return void (state.complete = false);
      const next = await drain.untilStop(it.next());
      if (next === STOP) return void (state.complete = false);
      if (next.done) return void (ended = true);
      state.bytes += next.value.length;
      yield next.value;
    }
  } finally {
    // Stopped, or the reader gave up on a corrupt record: let go of the file or pipe.
    if (!ended) source.destroy();
  }
}

export interface InputDeps {
  pipeline: Pipeline;
  batcher: Batcher;
  drain: Drain;
  evidence: EvidenceSender;
  log: Logger;
  /** what the end of a directory's file sends (not with --once) */
  checkpoint: () => Promise<unknown>;
  /** sends device updates that changed */
  devices: () => void;
  /** before each file of a directory is read (the sensor checks its threat-intel feeds then) */
  beforeFile?: () => Promise<void>;
  /** also remembers which files of a directory were read */
  spool: Spool;
  /**
   * After an unclean stop, read the files read since the last clean one
   * again (up to this many bytes, the most recent) with nothing sent; null:
   * never (--once, stdin, one file, --rebuild-max-mb 0)
   */
  rebuildMaxBytes: number | null;
  /** events are built but not sent (reading again what was already delivered) */
  mute: (on: boolean) => void;
}

/** Reads the sensor's input through the pipeline until it ends or a stop comes. */
export class InputReader {
  /** an input had a corrupt record or could not be read (exit 1 with --once) */
  failed = false;
  /** the first input that was not a capture at all, thrown at the end (exit 2) */
  notCapture: CaptureError | null = null;
  /** the files of a watched directory read so far */
  private processed: ProcessedFiles | null = null;
  /** --once: files read whole, remembered only once everything the run produced is in the spool */
  private readonly unmarked: ReadMark[] = [];
  /** --once: a stop came before every file was read */
  private cut = false;
  /** packets read again to rebuild what was in progress (not counted as read) */
  rereadPackets = 0;
  /** a stop came while files were read again: nothing may be sent, nor the state called clean */
  rereadCut = false;

  constructor(private readonly d: InputDeps) {}

  /**
   * --once, after the last checkpoint is in the spool: remembers the files
   * read. A run stopped or killed before this is done again whole by the next
   * one, so flows spanning files, beacons and evidence come out as one
   * uninterrupted run gives them.
   */
  markRead(): void {
    if (this.cut || !this.processed) return;
    this.processed.markAll(this.unmarked.splice(0));
  }

  /** A clean stop: every flow ended and is in the spool, so a restart reads nothing again. */
  stoppedCleanly(): void {
    if (!this.rereadCut) this.processed?.closeEpoch();
  }

  async readAll(o: InputOptions, kind: InputKind): Promise<void> {
    if (kind === 'stdin') return this.readStdin(o.stdin ?? process.stdin);
    if (kind === 'file') return this.readFile(o.input);
    return this.readDir(o.input, o.settleS * 1000, o.once);
  }

  private async readStdin(stdin: Readable): Promise<void> {
    const timer = setInterval(this.d.devices, STDIN_DEVICE_EVERY_MS);
    try {
      await this.read('-', stdin);
    } finally {
      clearInterval(timer);
    }
  }

  private async readFile(path: string): Promise<void> {
    const r = await this.read(path, openFile(path));
    this.d.evidence.fileRead(path, r.first, r.last);
  }

  /** Reads the complete files of dir as they appear, until a stop (--once: the files there now). */
  private async readDir(dir: string, settleMs: number, once: boolean): Promise<void> {
    const processed = (this.processed = new ProcessedFiles(this.d.spool.dir, this.d.log));
    const watcher = new DirWatcher(dir, settleMs, (path, size, mtimeMs) => processed.state(path, size, mtimeMs), Date.now, this.d.spool.dir);
    if (this.d.rebuildMaxBytes !== null && !once) await this.reread(processed, this.d.rebuildMaxBytes);
    while (!this.d.drain.stopped) {
      const { ready, skipped, present } = await watcher.scan(once);
      processed.prune(present, watcher.dir + sep);
      for (const s of skipped) {
        this.d.log.warn({ file: s.file.path }, `skipped, not a capture: ${s.reason}`);
        processed.mark(s.file.path, s.file.size, s.file.mtimeMs);
      }
      for (const f of ready) {
        if (!this.d.drain.stopped && (await this.readDirFile(f, processed, once))) continue;
        this.cut = true;
        break;
      }
      if (once) break;
      await this.d.drain.pause(POLL_MS);
    }
  }

  /**
   * The sensor did not stop cleanly (killed, crashed, or its last events
   * could not be spooled): the files read since the last clean stop go
   * through the pipeline again with nothing sent, rebuilding the flows,
   * alerts, beacons and devices in progress exactly as they were, so they
   * continue under the same ids. What was sent before is not sent again.
   */
  private async reread(processed: ProcessedFiles, maxBytes: number): Promise<void> {
    const { files, skipped } = processed.rereadable(maxBytes);
    if (files.length === 0) return;
    const { log, pipeline, drain, evidence } = this.d;
    const started = Date.now();
    const before = pipeline.meter.packets;
    if (skipped > 0) log.warn({ skipped_files: skipped }, `the last stop was not clean: the ${skipped} oldest file(s) read since the last clean stop are past --rebuild-max-mb and are not read again; flows and alerts that began in them continue as new ones`);
    this.d.mute(true);
    for (const f of files) {
      if (drain.stopped) break;
      const r = await this.read(f.path, openFile(f.path, f.from, f.to));
      evidence.fileRead(f.path, r.first, r.last);
      if (!r.complete) break;
      await this.d.checkpoint();
    }
    this.rereadPackets = pipeline.meter.packets - before;
    // Cut short by a stop: what was rebuilt is partial, so it stays unsent and the next start reads them again.
    if (drain.stopped) return void (this.rereadCut = true);
    this.d.mute(false);
    log.info({ files: files.length, packets: this.rereadPackets, ms: Date.now() - started }, 'the last stop was not clean: files read since the last clean stop were read again to rebuild the flows and alerts in progress (nothing sent twice)');
  }

  /** Reads one complete file of the directory; false when reading has to stop (a stop, a spool that stayed full). */
  private async readDirFile(f: WatchedFile, processed: ProcessedFiles, once: boolean): Promise<boolean> {
    await this.d.beforeFile?.();
    const started = Date.now();
    const r = await this.read(f.path, openFile(f.path, f.resumeAt));
    this.d.evidence.fileRead(f.path, r.first, r.last);
    if (f.resumeAt !== null) this.d.log.info({ file: f.path, offset: f.resumeAt }, 'file grew after it was read: reading on from where reading stopped');
    // A file cut short by a stop is not marked: the next run reads it again, whole.
    if (!r.complete) return false;
    const mark = { path: f.path, size: f.size, mtimeMs: f.mtimeMs, offset: recordsEnd(f.resumeAt, r.result, r.bytes), resumedAt: f.resumeAt ?? undefined };
    if (once) this.unmarked.push(mark);
    else {
      await this.d.checkpoint();
      // Marked only once its events are on disk: a crash after this loses nothing already produced.
      if (!(await this.d.drain.spooled())) return false;
      processed.markAll([mark]);
    }
    this.d.log.info({ file: f.path, packets: r.result.packets, ms: Date.now() - started, spool_batches: this.d.spool.batches }, 'file processed');
    return true;
  }

  /** Feeds one capture through the pipeline, pausing while the spool is full; complete=false when stopped part-way. */
  private async read(label: string, source: Readable): Promise<ReadOutcome> {
    const input = this.d.pipeline.input();
    const state: GateState = { complete: true, bytes: 0 };
    const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const result = await readCaptureStream(label, Readable.from(gated(source, it, this.d.batcher, this.d.drain, state)), input.sink);
    const span = input.end();
    this.logOutcome(label, result, state.complete);
    return { result, complete: state.complete, first: span.first ?? Infinity, last: span.last ?? -Infinity, bytes: state.bytes };
  }

  private logOutcome(label: string, result: ReadResult, complete: boolean): void {
    if (result.error) {
      if (result.error.unreadable) this.notCapture ??= result.error;
      this.failed = true;
      this.d.log.error({ input: label, code: result.error.code }, result.error.message);
    } else if (result.truncatedAt !== null && complete) {
      this.d.log.warn({ input: label, offset: result.truncatedAt }, `${label}: capture ends inside a record (cut while being written?); every complete packet before it was analysed`);
    }
  }
}

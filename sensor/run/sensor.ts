import { closeSync, createReadStream, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { pipeline as pipe, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { pino, type Logger, type Level } from 'pino';
import type { AlertRecord, DeviceRecord, FlowRecord, IngestEvent } from '../../contract/types.js';
import { CaptureError } from '../capture/errors.js';
import { UsageError } from '../commands/args.js';
import { PCAP_HEADER_LEN } from '../capture/pcap.js';
import { readCaptureStream, sniffCapture, type ReadResult } from '../capture/reader.js';
import { writeEvidence } from '../output/evidence.js';
import { packageRoot } from '../util/paths.js';
import { Batcher, Sender } from './deliver.js';
import { SensorMetrics } from './metrics.js';
import { Pipeline, type PipelineOptions } from './pipeline.js';
import { ProcessedFiles, Spool } from './spool.js';
import { DirWatcher } from './watch.js';

export interface SensorOptions extends PipelineOptions {
  /** '-' (pcap stream on stdin), a capture file, or a directory of rotated captures */
  input: string;
  /** collector base URL */
  collector: string;
  token: string;
  name?: string;
  spoolDir: string;
  spoolMaxBytes: number;
  /** null: no metrics endpoint; 0: any free port (logged) */
  metricsPort: number | null;
  metricsHost: string;
  once: boolean;
  /** seconds a file's size must stay the same before it counts as complete */
  settleS: number;
  /** seconds to keep retrying delivery at exit (--once, SIGTERM) before leaving the rest in the spool */
  drainTimeoutS: number;
  logLevel: Level;
  stdin?: Readable;
}

const POLL_MS = 500;
/** A stdin sensor has no file boundaries: device updates go out on this clock instead. */
const STDIN_DEVICE_EVERY_MS = 60_000;
/** Larger evidence captures are not sent (logged): base64 of this stays under the collector's default 8 MiB body limit. */
const MAX_EVIDENCE_BYTES = 5 << 20;
const EVIDENCE_TMP = '.evidence-';

export type InputKind = 'stdin' | 'file' | 'dir';

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

export function sensorVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** Turns pipeline output into events, sending each record again only when it grew. */
class Events {
  private readonly alertFlows = new Map<string, number>();
  private readonly deviceState = new Map<string, string>();
  private readonly evidenceTried = new Set<string>();

  constructor(private readonly add: (e: IngestEvent) => void) {}

  flow(r: FlowRecord): void {
    this.add({ kind: 'flow', key: `flow:${r.uid}`, data: r });
  }

  /** The first firing, and every later change in how many flows it holds (the key changes with it). */
  alert(a: AlertRecord): void {
    if (this.alertFlows.get(a.id) === a.evidence.flows) return;
    this.alertFlows.set(a.id, a.evidence.flows);
    this.add({ kind: 'alert', key: `alert:${a.id}:${a.evidence.flows}`, data: a });
  }

  /**
   * A flow ending changes a device's counters but not its last_seen, so the
   * key carries the flow count too: otherwise the final counts would look
   * like a duplicate of an earlier update.
   */
  devices(list: DeviceRecord[]): void {
    for (const d of list) {
      const id = d.mac ?? d.ips[0] ?? '';
      const state = `${d.last_seen}:${d.flows}`;
      if (this.deviceState.get(id) === state) continue;
      this.deviceState.set(id, state);
      this.add({ kind: 'device', key: `device:${id}:${state}`, data: d });
    }
  }

  needsEvidence(id: string): boolean {
    return !this.evidenceTried.has(id);
  }

  evidenceTriedFor(id: string): void {
    this.evidenceTried.add(id);
  }

  evidence(alertId: string, pcap: Buffer): void {
    this.add({ kind: 'evidence', key: `evidence:${alertId}`, data: { alert_id: alertId, pcap_base64: pcap.toString('base64') } });
  }
}

const STOP = Symbol('stop');

/**
 * `phonehome sensor`: reads captures continuously through one long-lived
 * pipeline and delivers flows, alerts, devices and evidence to a collector
 * through an on-disk spool. Returns the exit code.
 */
export async function runSensor(o: SensorOptions): Promise<number> {
  const kind = inputKind(o.input);
  const name = o.name ?? hostname();
  const log: Logger = pino(
    { level: o.logLevel, base: { sensor: name }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: 2, sync: true }),
  );
  const version = sensorVersion();
  const live = kind !== 'file';

  let events: Events | null = null;
  const pipeline = await Pipeline.create(o, {
    flow: (r) => events!.flow(r),
    alert: (a) => events!.alert(a),
  });
  for (const n of pipeline.notes) log.warn({ note: n }, 'device profiles: note');

  let spool: Spool;
  try {
    spool = new Spool(resolve(o.spoolDir), o.spoolMaxBytes);
  } catch (e) {
    throw new UsageError(`--spool ${o.spoolDir}: ${(e as Error).message}`);
  }
  // Evidence captures cut by a run that was killed; the lock says no one else uses them.
  for (const n of readdirSync(spool.dir)) if (n.startsWith(EVIDENCE_TMP)) rmSync(join(spool.dir, n), { recursive: true, force: true });
  const lagSeconds = (): number | null => (live && pipeline.lastPacketTs !== null ? Math.max(0, Date.now() / 1000 - pipeline.lastPacketTs) : null);
  const an = pipeline.analyzer;
  const metrics = new SensorMetrics({
    packets: () => an.packets,
    bytes: () => an.bytes,
    decodeWarnings: () => an.warnings.counts,
    flowsActive: () => an.table.size,
    spoolBatches: () => spool.batches,
    spoolBytes: () => spool.bytes,
    lagSeconds,
  });
  const sender = new Sender(spool, { url: o.collector, token: o.token }, log, metrics);
  const batcher = new Batcher(spool, () => ({ name, version, lag_s: lagSeconds() === null ? null : Math.round(lagSeconds()! * 1000) / 1000 }), log, metrics, () => sender.notify());
  events = new Events((e) => batcher.add(e));

  const stopCtl = new AbortController();
  let stopSignal: string | null = null;
  let stopAt: number | null = null;
  let inputEndedAt: number | null = null;
  const drainMs = o.drainTimeoutS * 1000;
  // --once and a stop keep delivering while the collector makes progress, and give up after
  // drainMs without any; an input that simply ended (a file, stdin at EOF) waits until a stop.
  const deadline = (): number => {
    const from = stopAt ?? (o.once ? inputEndedAt : null);
    return from === null ? Infinity : Math.max(from, sender.lastDeliveryAt) + drainMs;
  };
  const onSignal = (sig: string) => {
    if (stopCtl.signal.aborted) {
      log.error({ signal: sig }, 'second signal: exiting at once; spooled batches stay for the next run, events not yet spooled are lost');
      process.exit(1);
    }
    stopSignal = sig;
    stopAt = Date.now();
    log.info({ signal: sig }, 'stopping: no more reading; flushing flows, scoring beacons, delivering');
    sender.hurry();
    stopCtl.abort();
  };
  const onTerm = () => onSignal('SIGTERM');
  const onInt = () => onSignal('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);

  /**
   * p, or STOP as soon as a stop signal came. Not Promise.race with a
   * long-lived promise: each race would leave a reaction on it for the whole run.
   */
  const untilStop = <T>(p: Promise<T>): Promise<T | typeof STOP> => {
    const signal = stopCtl.signal;
    if (signal.aborted) return Promise.resolve(STOP);
    return new Promise((resolve, reject) => {
      const onStop = () => resolve(STOP);
      signal.addEventListener('abort', onStop, { once: true });
      p.then(
        (v) => {
          signal.removeEventListener('abort', onStop);
          resolve(v);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onStop);
          reject(e);
        },
      );
    });
  };

  /** Resolves when p does, after ms, or on a stop, whichever comes first; leaves no timer behind. */
  const pause = async (ms: number, p?: Promise<void>): Promise<void> => {
    let t: NodeJS.Timeout | undefined;
    const timer = new Promise<void>((ok) => (t = setTimeout(ok, ms)));
    const wait = p ? Promise.race([p, timer]) : timer;
    // After a stop the deadlines are finite, and untilStop would return at once: a busy loop.
    await (stopCtl.signal.aborted ? wait : untilStop(wait));
    clearTimeout(t);
  };

  /** Waits until every event so far is in the spool; false when the deadline passed first (the spool stayed full). */
  const spooled = async (): Promise<boolean> => {
    for (;;) {
      batcher.cut();
      if (batcher.pending === 0) return true;
      const left = deadline() - Date.now();
      if (left <= 0) return false;
      await pause(Math.min(left, 2 ** 31 - 1), spool.waitForSpace());
    }
  };

  /** Waits until the spool is empty; false when the deadline passed first. */
  const delivered = async (): Promise<boolean> => {
    for (;;) {
      if (spool.batches === 0) return true;
      const left = deadline() - Date.now();
      if (left <= 0) return false;
      await pause(Math.min(left, 2 ** 31 - 1), sender.idle());
    }
  };

  let metricsServer: { port: number; close: () => Promise<void> } | null = null;
  let evidenceTmp: string | null = null;
  let deviceTimer: NodeJS.Timeout | null = null;
  let inputFailed = false;
  let notCapture: CaptureError | null = null;
  /** files read in this run, with their packet time span, for cutting evidence */
  const runFiles: { path: string; first: number; last: number }[] = [];

  try {
    if (o.metricsPort !== null) {
      metricsServer = await metrics.serve(o.metricsHost, o.metricsPort).catch((e: Error) => {
        throw new UsageError(`--metrics-port ${o.metricsPort} on ${o.metricsHost}: ${e.message}`);
      });
      log.info({ host: o.metricsHost, port: metricsServer.port }, `metrics on http://${o.metricsHost}:${metricsServer.port}/metrics`);
    }
    log.info({ input: o.input, kind, collector: o.collector, spool: spool.dir, spool_batches: spool.batches, once: o.once, version }, 'sensor started');
    batcher.start();
    sender.start();

    /** Feeds one capture through the pipeline, pausing while the spool is full; complete=false when stopped part-way. */
    const read = async (label: string, source: Readable): Promise<{ result: ReadResult; complete: boolean; first: number; last: number; bytes: number }> => {
      const input = pipeline.input();
      let complete = true;
      let ended = false;
      let bytes = 0;
      const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      const gated = async function* (): AsyncGenerator<Buffer> {
        try {
          for (;;) {
            if ((await untilStop(batcher.room())) === STOP) return void (complete = false);
            const next = await untilStop(it.next());
            if (next === STOP) return void (complete = false);
            if (next.done) return void (ended = true);
            bytes += next.value.length;
            yield next.value;
          }
        } finally {
          // Stopped, or the reader gave up on a corrupt record: let go of the file or pipe.
          if (!ended) source.destroy();
        }
      };
      const result = await readCaptureStream(label, Readable.from(gated()), input.sink);
      const span = input.end();
      if (result.error) {
        if (result.error.code === 'NOT_A_CAPTURE') notCapture ??= result.error;
        inputFailed = true;
        log.error({ input: label, code: result.error.code }, result.error.message);
      } else if (result.truncatedAt !== null && complete) {
        log.warn({ input: label, offset: result.truncatedAt }, `${label}: capture ends inside a record (cut while being written?); every complete packet before it was analysed`);
      }
      return { result, complete, first: span.first ?? Infinity, last: span.last ?? -Infinity, bytes };
    };

    /** A capture file as a stream; resumeAt (classic pcap): its header, then the records from that offset on. */
    const openFile = (path: string, resumeAt: number | null = null): Readable => {
      if (resumeAt !== null) {
        const header = Buffer.alloc(PCAP_HEADER_LEN);
        const fd = openSync(path, 'r');
        try {
          readSync(fd, header, 0, PCAP_HEADER_LEN, 0);
        } finally {
          closeSync(fd);
        }
        const rest = createReadStream(path, { start: resumeAt, highWaterMark: 1 << 20 });
        return Readable.from((async function* () {
          yield header;
          yield* rest;
        })());
      }
      const raw = createReadStream(path, { highWaterMark: 1 << 20 });
      if (!sniffCapture(path).gzip) return raw;
      return pipe(raw, createGunzip(), () => {});
    };

    const sendEvidence = async (alerts: AlertRecord[]): Promise<void> => {
      if (kind === 'stdin') return;
      const ids = new Set(alerts.map((a) => a.id));
      const want = new Map([...pipeline.evidenceFlows()].filter(([id, flows]) => ids.has(id) && flows.length > 0 && events!.needsEvidence(id)));
      if (want.size === 0) return;
      let from = Infinity;
      let to = -Infinity;
      for (const flows of want.values()) {
        for (const f of flows) {
          from = Math.min(from, f.ts);
          to = Math.max(to, f.end);
        }
      }
      // Only the files that can hold those packets are read again.
      const sources = runFiles.filter((f) => f.first <= to + 1 && f.last >= from - 1 && existsSync(f.path)).map((f) => f.path);
      evidenceTmp ??= mkdtempSync(join(spool.dir, EVIDENCE_TMP));
      const names = await writeEvidence(sources, want, evidenceTmp);
      for (const id of want.keys()) {
        events!.evidenceTriedFor(id);
        const file = names.get(id);
        if (!file) continue;
        const path = join(evidenceTmp, file);
        const pcap = readFileSync(path);
        rmSync(path, { force: true });
        if (pcap.length > MAX_EVIDENCE_BYTES) {
          log.warn({ alert: id, bytes: pcap.length }, `evidence capture of alert ${id} is larger than ${MAX_EVIDENCE_BYTES} bytes; not sent`);
          continue;
        }
        events!.evidence(id, pcap);
      }
    };

    /** What a file boundary sends: beacons scored so far, grown alerts, evidence of new alerts, device updates. */
    const checkpoint = async (): Promise<void> => {
      const alerts = pipeline.alerts();
      for (const a of alerts) events!.alert(a);
      await sendEvidence(alerts);
      events!.devices(pipeline.devices());
    };

    if (kind === 'stdin') {
      deviceTimer = setInterval(() => events!.devices(pipeline.devices()), STDIN_DEVICE_EVERY_MS);
      await read('-', o.stdin ?? process.stdin);
    } else if (kind === 'file') {
      const r = await read(o.input, openFile(o.input));
      runFiles.push({ path: o.input, first: r.first, last: r.last });
    } else {
      const processed = new ProcessedFiles(spool.dir);
      const watcher = new DirWatcher(o.input, o.settleS * 1000, (path, size, mtimeMs) => processed.state(path, size, mtimeMs));
      while (!stopCtl.signal.aborted) {
        const { ready, skipped, present } = await watcher.scan(o.once);
        processed.prune(present, watcher.dir + sep);
        for (const s of skipped) {
          log.warn({ file: s.file.path }, `skipped, not a capture: ${s.reason}`);
          processed.mark(s.file.path, s.file.size, s.file.mtimeMs);
        }
        for (const f of ready) {
          if (stopCtl.signal.aborted) break;
          const started = Date.now();
          const r = await read(f.path, openFile(f.path, f.resumeAt));
          runFiles.push({ path: f.path, first: r.first, last: r.last });
          if (f.resumeAt !== null) log.info({ file: f.path, offset: f.resumeAt }, 'file grew after it was read: reading on from where reading stopped');
          // A file cut short by a stop is not marked: the next run reads it again, whole.
          if (!r.complete) break;
          if (!o.once) await checkpoint();
          // Marked only once its events are on disk: a crash after this loses nothing already produced.
          if (!(await spooled())) break;
          processed.mark(f.path, f.size, f.mtimeMs, recordsEnd(f.resumeAt, r.result, r.bytes));
          log.info({ file: f.path, packets: r.result.packets, ms: Date.now() - started, spool_batches: spool.batches }, 'file processed');
        }
        if (o.once) break;
        await pause(POLL_MS);
      }
    }
    inputEndedAt = Date.now();

    // End of input (or a stop): every live flow ends, beacons are scored over everything read.
    if (deviceTimer) clearInterval(deviceTimer);
    pipeline.flushFlows();
    const alerts = pipeline.alerts();
    for (const a of alerts) events.alert(a);
    await sendEvidence(alerts);
    events.devices(pipeline.devices());

    if (Number.isFinite(deadline())) sender.hurry();
    const allSpooled = await spooled();
    batcher.close();
    if (!allSpooled) {
      log.error({ events: batcher.pending, spool: spool.queueDir }, `the spool stayed full: ${batcher.pending} events could not be spooled and are lost`);
    }
    await delivered();
    const left = spool.batches;
    log.info({
      packets: an.packets, bytes: an.bytes, flows: an.flows, alerts: alerts.length, devices: an.inventory.size,
      delivered_batches: sender.delivered.batches, delivered_events: sender.delivered.events, spooled_batches: left, signal: stopSignal,
    }, 'sensor stopped');
    let code = 0;
    if (left > 0) {
      const msg = `${left} batch(es) not delivered to ${o.collector}: they stay in ${spool.queueDir} and are sent first by the next run`;
      if (o.once) {
        process.stderr.write(`phonehome: ${msg}\n`);
        code = 1;
      } else log.warn({ spooled_batches: left }, msg);
    }
    if (!allSpooled || (o.once && inputFailed)) code = 1;
    if (notCapture) throw notCapture;
    return code;
  } finally {
    if (deviceTimer) clearInterval(deviceTimer);
    batcher.close();
    await sender.stop();
    await metricsServer?.close();
    if (evidenceTmp) rmSync(evidenceTmp, { recursive: true, force: true });
    spool.unlock();
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    log.flush();
  }
}

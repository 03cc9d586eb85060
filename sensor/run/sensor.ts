import { randomUUID } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { AlertRecord } from '../../contract/types.js';
import { ExitCode } from '../../contract/errors.js';
import { EventsRefusedError, UsageError, type SpoolNoSpaceError } from '../errors.js';
import { Pipeline } from '../pipeline/pipeline.js';
import type { AnalysisOptions } from '../pipeline/setup.js';
import { phonehomeVersion } from '../util/paths.js';
import { Batcher, Sender, SPACE_RETRY_MS, type SensorInfo } from './deliver.js';
import { Drain, type DrainOptions } from './drain.js';
import { Events } from './events.js';
import { EvidenceSender, removeEvidenceLeftovers, type EvidenceSpace } from './evidence.js';
import { InputReader, inputKind, type InputKind, type InputOptions } from './inputs.js';
import { SensorMetrics } from './metrics.js';
import { requeueRejected } from './resend.js';
import { Spool } from './spool.js';

export { inputKind, type InputKind } from './inputs.js';

/** Where requests to stop come from (the command: SIGTERM, SIGINT). */
export interface StopRequests {
  /**
   * Calls onStop with the request's name (logged) when a stop is requested;
   * what a second request does is the caller's business. Returns the
   * function that stops listening.
   */
  listen(onStop: (signal: string) => void): () => void;
}

export interface SensorOptions extends AnalysisOptions, Omit<InputOptions, 'input'>, DrainOptions {
  /** what to read; null: nothing (--resend-rejected alone delivers the spool) */
  input: string | null;
  /** collector base URL */
  collector: string;
  token: string;
  /** PEM certificates to trust for an https collector (--ca) */
  ca?: Buffer;
  /** move the batches of rejected/ back into the queue before anything else */
  resendRejected?: boolean;
  /** sent with every batch and on every log line */
  name: string;
  spoolDir: string;
  spoolMaxBytes: number;
  /** null: no metrics endpoint; 0: any free port (logged) */
  metricsPort: number | null;
  metricsHost: string;
  /** after an unclean stop, read again at most this many bytes of files read since the last clean one (0: none) */
  rebuildMaxBytes: number;
  log: Logger;
  /** none: the run ends only when its input does */
  stop?: StopRequests;
}


type MetricsServer = Awaited<ReturnType<SensorMetrics['serve']>>;

/** The parts of one sensor run. */
interface Run {
  o: SensorOptions;
  pipeline: Pipeline;
  spool: Spool;
  metrics: SensorMetrics;
  sender: Sender;
  batcher: Batcher;
  events: Events;
  evidence: EvidenceSender;
  drain: Drain;
  inputs: InputReader;
  sensorInfo: SensorInfo;
}

/**
 * `phonehome sensor`: reads captures continuously through one long-lived
 * pipeline and delivers flows, alerts, devices and evidence to a collector
 * through an on-disk spool. Returns the exit code.
 */
export async function runSensor(o: SensorOptions): Promise<number> {
  const kind = o.input === null ? null : inputKind(o.input);
  const version = phonehomeVersion();
  const run = await assemble(o, kind, version);
  const unlisten = o.stop?.listen((signal) => run.drain.stop(signal));
  let metricsServer: MetricsServer | null = null;
  const intelTimer = watchIntel(run.pipeline, o.log);
  try {
    if (o.metricsPort !== null) metricsServer = await serveMetrics(run.metrics, o.metricsHost, o.metricsPort, o.log);
    o.log.info({ input: o.input, kind, collector: o.collector, spool: run.spool.dir, spool_batches: run.spool.batches, once: o.once, version }, 'sensor started');
    for (const entry of run.spool.foreign) o.log.warn({ entry }, `${entry} is not a spool batch: skipped (move it out of the queue folder)`);
    if (o.resendRejected) requeueRejected(run.spool, () => batchPrefix(run.sensorInfo), o.log);
    run.batcher.start();
    run.sender.start();
    run.drain.watch();
    if (o.input !== null && kind !== null) await run.inputs.readAll({ ...o, input: o.input }, kind);
    run.drain.inputEnded();
    return await finish(run);
  } finally {
    if (intelTimer) clearInterval(intelTimer);
    run.drain.close();
    await run.batcher.close();
    await run.sender.stop();
    await metricsServer?.close();
    run.evidence.dispose();
    run.spool.unlock();
    unlisten?.();
  }
}

/** A new batch's body up to its events array. */
function batchPrefix(sensor: SensorInfo): string {
  return `${JSON.stringify({ batch_id: randomUUID(), sensor: sensor() }).slice(0, -1)},"events":[`;
}

/** A watched directory is live while a capture in it was written to within this (tcpdump rotating into it). */
const LIVE_WINDOW_MS = 5 * 60_000;
const LIVE_CHECK_MS = 5000;

/**
 * Whether the input is being written now, so that lag (wall clock minus
 * capture time) means something: stdin always; a directory while a capture
 * in it was modified within the last 5 minutes; a file never (it is read to
 * its end). A directory of old captures being replayed reports no lag.
 */
function liveness(input: string | null, kind: InputKind | null): () => boolean {
  if (kind === 'stdin') return () => true;
  if (kind !== 'dir' || input === null) return () => false;
  let checkedAt = -Infinity;
  let live = false;
  return () => {
    const now = Date.now();
    if (now - checkedAt < LIVE_CHECK_MS) return live;
    checkedAt = now;
    live = false;
    try {
      for (const e of readdirSync(input, { withFileTypes: true })) {
        if (e.name.startsWith('.') || !e.isFile()) continue;
        if (now - statSync(join(input, e.name)).mtimeMs < LIVE_WINDOW_MS) return (live = true);
      }
    } catch {
      // the directory went away: not live
    }
    return live;
  };
}

/** Builds the pipeline and the delivery behind it; throws before anything is read when configuration or spool are unusable. */
async function assemble(o: SensorOptions, kind: InputKind | null, version: string): Promise<Run> {
  const { log } = o;
  // The pipeline emits only while reading, long after the batcher below exists.
  const events = new Events((e) => batcher.add(e));
  // A device evicted from the inventory (past --max-devices) goes out as an update before it is forgotten.
  const pipeline = await Pipeline.create(o, { flow: (r) => events.flow(r), alert: (a) => events.alert(a), device: (d) => events.evicted(d) });
  for (const n of pipeline.notes) log.warn({ note: n }, 'device profiles: note');
  for (const n of pipeline.setup.intel.notes) log.warn({ note: n }, 'threat-intel feeds: note');
  const spool = openSpool(o);
  removeEvidenceLeftovers(spool.dir);
  const live = liveness(o.input, kind);
  const lagSeconds = (): number | null => (pipeline.lastPacketTs !== null && live() ? Math.max(0, Date.now() / 1000 - pipeline.lastPacketTs) : null);
  const an = pipeline.meter;
  const metrics = new SensorMetrics({
    // Packets read again after an unclean stop were counted by the run that first read them.
    packets: (): number => an.packets - inputs.rereadPackets,
    bytes: () => an.bytes,
    decodeWarnings: () => an.warnings.counts,
    flowsActive: () => an.table.size,
    spoolBatches: () => spool.batches,
    spoolBytes: () => spool.bytes,
    lagSeconds,
    inputKind: kind ?? undefined,
  });
  const sensorInfo: SensorInfo = () => {
    const lag = lagSeconds();
    return { name: o.name, version, lag_s: lag === null ? null : Math.round(lag * 1000) / 1000 };
  };
  const sender = new Sender(spool, { url: o.collector, token: o.token, ca: o.ca, sensor: sensorInfo }, log, metrics);
  const batcher = new Batcher(spool, sensorInfo, log, metrics, () => sender.notify());
  const drain = new Drain(o, spool, batcher, sender, log);
  const evidence = new EvidenceSender(spool.dir, pipeline, events, log, kind !== 'stdin' && kind !== null, evidenceSpace(spool, batcher, drain));
  const inputs: InputReader = new InputReader({
    pipeline, batcher, drain, evidence, log, spool,
    checkpoint: () => checkpoint({ pipeline, events, evidence }),
    // Feeds that changed are read again before each file, so that file meets the new indicators.
    beforeFile: () => reloadIntel(pipeline, log),
    devices: () => events.devices(pipeline.devices()),
    rebuildMaxBytes: o.once || kind !== 'dir' || o.rebuildMaxBytes <= 0 ? null : o.rebuildMaxBytes,
    mute: (on) => (events.muted = on),
  });
  return { o, pipeline, spool, metrics, sender, batcher, events, evidence, drain, inputs, sensorInfo };
}

/**
 * Evidence captures are cut in the spool directory: they count against its
 * bound, and a full disk makes the cut wait (and reading with it), retried
 * on a timer until there is room or a stop's deadline passes. With no batch
 * queued, no delivery will free room: the capture is given up at once (its
 * alerts say so) rather than holding the alerts back.
 */
function evidenceSpace(spool: Spool, batcher: Batcher, drain: Drain): EvidenceSpace {
  return {
    hold: (bytes) => spool.holdExternal(bytes),
    release: (bytes) => spool.releaseExternal(bytes),
    async full(e: SpoolNoSpaceError) {
      batcher.noSpace(e);
      if (spool.batches === 0 || Date.now() >= drain.deadline()) return false;
      await drain.pause(Math.min(SPACE_RETRY_MS, Math.max(0, drain.deadline() - Date.now())));
      return Date.now() < drain.deadline();
    },
  };
}

function openSpool(o: SensorOptions): Spool {
  try {
    const spool = new Spool(resolve(o.spoolDir), o.spoolMaxBytes);
    if (spool.staleLock) o.log.warn({ spool: spool.dir }, spool.staleLock);
    return spool;
  } catch (e) {
    throw new UsageError(`--spool ${o.spoolDir}: ${(e as Error).message}`);
  }
}

async function serveMetrics(metrics: SensorMetrics, host: string, port: number, log: Logger): Promise<MetricsServer> {
  const server = await metrics.serve(host, port).catch((e: Error) => {
    throw new UsageError(`--metrics-port ${port} on ${host}: ${e.message}`);
  });
  log.info({ host, port: server.port }, `metrics on http://${host}:${server.port}/metrics`);
  return server;
}

/** What a file boundary sends: beacons scored so far, grown alerts (saying what their captures lack), new evidence, device updates. Returns the alerts. */
async function checkpoint(r: Pick<Run, 'pipeline' | 'events' | 'evidence'>): Promise<AlertRecord[]> {
  const alerts = r.pipeline.alerts();
  // Cut first: an alert goes out saying what its capture lacks.
  await r.evidence.send(alerts);
  for (const a of alerts) r.events.alert(a);
  r.events.devices(r.pipeline.devices());
  return alerts;
}

/** Threat-intel feed files are also checked for changes on this clock (stdin has no file boundaries). */
export const INTEL_CHECK_MS = 10_000;

function watchIntel(pipeline: Pipeline, log: Logger): NodeJS.Timeout | null {
  if (pipeline.setup.intel.files.length === 0) return null;
  return setInterval(() => void reloadIntel(pipeline, log), INTEL_CHECK_MS).unref();
}

/** Reads changed feeds again; one that cannot be used is logged and keeps the indicators it had. */
async function reloadIntel(pipeline: Pipeline, log: Logger): Promise<void> {
  const intel = pipeline.setup.intel;
  if (intel.files.length === 0) return;
  try {
    for (const r of await intel.refresh()) {
      if (!r.ok) {
        log.error({ file: r.file, code: r.error.code }, `${r.error.message}: the feed keeps the indicators it had`);
        continue;
      }
      log.info({ file: r.file, indicators: r.indicators }, 'threat-intel feed reloaded');
      for (const n of r.notes) log.warn({ note: n }, 'threat-intel feeds: note');
    }
  } catch (e) {
    log.error({ err: e }, 'threat-intel feeds could not be checked');
  }
}

/** After the input: sends what is left, delivers until done or the drain deadline, logs the summary; returns the exit code. */
async function finish(run: Run): Promise<ExitCode> {
  const { o, pipeline, spool, sender, batcher, drain, inputs } = run;
  // End of input (or a stop): every live flow ends, beacons are scored over everything read.
  pipeline.flushFlows();
  const alerts = await checkpoint(run);
  if (Number.isFinite(drain.deadline())) sender.hurry();
  const allSpooled = await drain.spooled();
  // --once: the files are remembered only now that all they produced is in the spool.
  if (allSpooled) inputs.markRead();
  // Everything read has ended and is in the spool: a restart need not read anything again.
  if (allSpooled) inputs.stoppedCleanly();
  await batcher.close();
  if (!allSpooled) {
    o.log.error({ events: batcher.pending, spool: spool.queueDir }, `the spool (or its disk) stayed full until --drain-timeout: ${batcher.pending} events could not be spooled (a watched directory's unfinished files are read again by the next run; other input is lost)`);
  }
  await drain.delivered();
  const left = spool.batches;
  const an = pipeline.meter;
  o.log.info({
    packets: an.packets, bytes: an.bytes, flows: an.flows, alerts: alerts.length, devices: an.inventory.size,
    delivered_batches: sender.delivered.batches, delivered_events: sender.delivered.events, spooled_batches: left, signal: drain.stopSignal,
  }, 'sensor stopped');
  let code: ExitCode = ExitCode.OK;
  if (left > 0) {
    const msg = `${left} batch(es) not delivered to ${o.collector}: they stay in ${spool.queueDir} and are sent first by the next run`;
    if (o.once) {
      process.stderr.write(`phonehome: ${msg}\n`);
      code = ExitCode.PARTIAL;
    } else o.log.warn({ spooled_batches: left }, msg);
  }
  if (reportUndelivered(run)) code = ExitCode.PARTIAL;
  if (!allSpooled || (o.once && inputs.failed)) code = ExitCode.PARTIAL;
  if (inputs.notCapture) throw inputs.notCapture;
  return code;
}

/** Events refused by the collector, lost in garbled spool files or evidence not cut: one line on stderr; true when there were any. */
function reportUndelivered(run: Run): boolean {
  const { events, files } = run.sender.undelivered;
  const evidence = run.evidence.dropped;
  if (events === 0 && evidence === 0) return false;
  const parts: string[] = [];
  if (events > 0) {
    const where = files.length === 1 ? files[0] : `${files.length} files in ${run.spool.rejectedDir}`;
    parts.push(`${events} event(s) were refused by the collector or lost in a garbled spool file: they are kept in ${where} (the error log gives each reason; 'phonehome sensor --resend-rejected' sends them again)`);
  }
  if (evidence > 0) parts.push(`the evidence captures of ${evidence} alert(s) could not be written (the disk of ${run.spool.dir} stayed full)`);
  const e = new EventsRefusedError(parts.join('; '));
  run.o.log.error({ code: e.code, refused_events: events, files, evidence_not_written: evidence }, e.message);
  process.stderr.write(`phonehome: ${e.message}\n`);
  return true;
}

import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { AlertRecord } from '../../contract/types.js';
import { ExitCode } from '../../contract/errors.js';
import { UsageError } from '../errors.js';
import { Pipeline } from '../pipeline/pipeline.js';
import type { AnalysisOptions } from '../pipeline/setup.js';
import { packageRoot } from '../util/paths.js';
import { Batcher, Sender } from './deliver.js';
import { Drain, type DrainOptions } from './drain.js';
import { Events } from './events.js';
import { EvidenceSender, removeEvidenceLeftovers } from './evidence.js';
import { InputReader, inputKind, type InputKind, type InputOptions } from './inputs.js';
import { SensorMetrics } from './metrics.js';
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

export interface SensorOptions extends AnalysisOptions, InputOptions, DrainOptions {
  /** collector base URL */
  collector: string;
  token: string;
  /** sent with every batch and on every log line */
  name: string;
  spoolDir: string;
  spoolMaxBytes: number;
  /** null: no metrics endpoint; 0: any free port (logged) */
  metricsPort: number | null;
  metricsHost: string;
  log: Logger;
  /** none: the run ends only when its input does */
  stop?: StopRequests;
}

export function sensorVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
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
}

/**
 * `phonehome sensor`: reads captures continuously through one long-lived
 * pipeline and delivers flows, alerts, devices and evidence to a collector
 * through an on-disk spool. Returns the exit code.
 */
export async function runSensor(o: SensorOptions): Promise<number> {
  const kind = inputKind(o.input);
  const version = sensorVersion();
  const run = await assemble(o, kind, version);
  const unlisten = o.stop?.listen((signal) => run.drain.stop(signal));
  let metricsServer: MetricsServer | null = null;
  try {
    if (o.metricsPort !== null) metricsServer = await serveMetrics(run.metrics, o.metricsHost, o.metricsPort, o.log);
    o.log.info({ input: o.input, kind, collector: o.collector, spool: run.spool.dir, spool_batches: run.spool.batches, once: o.once, version }, 'sensor started');
    run.batcher.start();
    run.sender.start();
    await run.inputs.readAll(o, kind);
    run.drain.inputEnded();
    return await finish(run);
  } finally {
    run.batcher.close();
    await run.sender.stop();
    await metricsServer?.close();
    run.evidence.dispose();
    run.spool.unlock();
    unlisten?.();
  }
}

/** Builds the pipeline and the delivery behind it; throws before anything is read when configuration or spool are unusable. */
async function assemble(o: SensorOptions, kind: InputKind, version: string): Promise<Run> {
  const { log } = o;
  // The pipeline emits only while reading, long after the batcher below exists.
  const events = new Events((e) => batcher.add(e));
  const pipeline = await Pipeline.create(o, { flow: (r) => events.flow(r), alert: (a) => events.alert(a) });
  for (const n of pipeline.notes) log.warn({ note: n }, 'device profiles: note');
  const spool = openSpool(o);
  removeEvidenceLeftovers(spool.dir);
  const live = kind !== 'file';
  const lagSeconds = (): number | null => (live && pipeline.lastPacketTs !== null ? Math.max(0, Date.now() / 1000 - pipeline.lastPacketTs) : null);
  const an = pipeline.meter;
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
  const sensorInfo = () => ({ name: o.name, version, lag_s: lagSeconds() === null ? null : Math.round(lagSeconds()! * 1000) / 1000 });
  const batcher = new Batcher(spool, sensorInfo, log, metrics, () => sender.notify());
  const evidence = new EvidenceSender(spool.dir, pipeline, events, log, kind !== 'stdin');
  const drain = new Drain(o, spool, batcher, sender, log);
  const inputs = new InputReader({
    pipeline, batcher, drain, evidence, log, spool,
    checkpoint: () => checkpoint({ pipeline, events, evidence }),
    devices: () => events.devices(pipeline.devices()),
  });
  return { o, pipeline, spool, metrics, sender, batcher, events, evidence, drain, inputs };
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

/** What a file boundary sends: beacons scored so far, grown alerts, evidence of new alerts, device updates. Returns the alerts. */
async function checkpoint(r: Pick<Run, 'pipeline' | 'events' | 'evidence'>): Promise<AlertRecord[]> {
  const alerts = r.pipeline.alerts();
  for (const a of alerts) r.events.alert(a);
  await r.evidence.send(alerts);
  r.events.devices(r.pipeline.devices());
  return alerts;
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
  batcher.close();
  if (!allSpooled) {
    o.log.error({ events: batcher.pending, spool: spool.queueDir }, `the spool stayed full: ${batcher.pending} events could not be spooled and are lost`);
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
  if (!allSpooled || (o.once && inputs.failed)) code = ExitCode.PARTIAL;
  if (inputs.notCapture) throw inputs.notCapture;
  return code;
}

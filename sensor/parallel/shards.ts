import { Worker } from 'node:worker_threads';
import type { DeviceRecord } from '../../contract/types.js';
import type { PacketSink } from '../capture/packet.js';
import { readCaptureFile, type Pace, type ReadResult } from '../capture/reader.js';
import type { DecodeWarnings } from '../decode/warnings.js';
import { DEFAULT_MAX_DEVICES, Inventory } from '../devices/inventory.js';
import { GeoIp } from '../enrich/geoip.js';
import { DEFAULT_MAX_FLOWS } from '../flows/table.js';
import type { MeterOptions } from '../pipeline/meter.js';
import { Dispatcher } from './dispatch.js';
import { EpochMerger, type ShardedSinks } from './merge.js';
import { Router } from './route.js';
import { ShardPipeline } from './shard.js';
import { captureError, type DoneMessage, type FromWorker, type ShardTask, type ToWorker } from './messages.js';

export interface ShardedOptions {
  meter: Pick<MeterOptions, 'timeouts' | 'maxFlows' | 'localNetworks' | 'maxDevices'>;
  geoip: string[];
}


/** One input (a file, stdin), read through the given sink at the given pace. */
export type ShardedInput = (sink: PacketSink, pace: Pace) => Promise<ReadResult>;

/**
 * What the shards analyse: capture files, which every shard reads for itself,
 * or inputs (stdin) this thread reads once and hands out packet by packet.
 */
export type ShardedInputs = { files: string[] } | { streams: ShardedInput[] };

export interface ShardedResult {
  files: ReadResult[];
  packets: number;
  bytes: number;
  flows: number;
  dnsMessages: number;
  warnings: Record<string, number>;
  devices: DeviceRecord[];
}

/**
 * Epochs this thread's own shard may run ahead of the slowest worker before
 * it waits: bounds what waits in memory. Workers send at least every few
 * epochs (MAX_QUIET_EPOCHS in worker.ts), so this does not stall on them.
 */
const MAX_LEAD_EPOCHS = 8;

/**
 * Analyses inputs in `count` shards: shard 0 in this thread, the others in
 * worker threads. Each packet goes to the shard its flow hashes to (see
 * Router): either every shard reads the files and keeps its own packets, or
 * this thread reads a stream and hands the workers theirs. The flows coming
 * back are released epoch by epoch once every shard has delivered the epoch,
 * sorted as one meter sorts them, so the flows, DNS messages, devices and
 * therefore alerts are those of a single meter (except which flows a full
 * table evicts: each shard holds max-flows/count).
 */
export async function analyzeSharded(inputs: ShardedInputs, count: number, opts: ShardedOptions, sinks: ShardedSinks): Promise<ShardedResult> {
  const consumed = new Int32Array(new SharedArrayBuffer(4 * count));
  const taken = new Int32Array(new SharedArrayBuffer(4 * count));
  // Devices meet here: what the shards evict as they go, and at the end what they still hold. With
  // a device sink this inventory is bounded too, and hands on the records it lets go of.
  const devices = new Inventory(opts.meter.maxDevices ?? DEFAULT_MAX_DEVICES, sinks.device);
  const merger = new EpochMerger(count, taken, { ...sinks, evicted: (list) => devices.absorb(list) });
  const maxFlows = Math.ceil((opts.meter.maxFlows ?? DEFAULT_MAX_FLOWS) / count);
  // Shard 0 runs here, between reads, and needs no messages: its epochs go straight to the merge.
  const local: ShardPipeline = new ShardPipeline({ ...opts.meter, maxFlows }, sinks.lines, sinks.allFlows, await GeoIp.open(opts.geoip), (n) => {
    merger.collect(local.take());
    merger.delivered(0, n);
  });
  const pool = new WorkerPool(count, merger);
  const dispatcher =
    'streams' in inputs
      ? new Dispatcher(count, consumed, (w, buf, len) => pool.post(w, { type: 'packets', buf, len }, [buf]), () => pool.failure, local)
      : null;
  pool.start((i) => ({
    index: i, count, files: 'files' in inputs ? inputs.files : null, meter: { ...opts.meter, maxFlows }, geoip: opts.geoip, lines: sinks.lines, allFlows: sinks.allFlows,
    consumed: consumed.buffer as SharedArrayBuffer, taken: taken.buffer as SharedArrayBuffer,
  }), dispatcher);

  const files: ReadResult[] = [];
  let read: { packets: number; bytes: number; warnings: DecodeWarnings };
  try {
    read = dispatcher ? await readStreams(inputs as { streams: ShardedInput[] }, dispatcher, pool, files) : await readFiles(inputs as { files: string[] }, count, local, pool, files);
    const { lastEpoch: _, ...mine } = local.finish();
    merger.collect(local.take());
    pool.done[0] = mine;
    merger.delivered(0, Infinity);
    await pool.finished;
  } catch (e) {
    pool.fail(e as Error);
    throw e;
  }
  return result(files, read, pool.done as Omit<DoneMessage, 'type'>[], devices);
}

/** This thread reads the streams and hands each worker its packets. */
async function readStreams(inputs: { streams: ShardedInput[] }, dispatcher: Dispatcher, pool: WorkerPool, files: ReadResult[]): Promise<Dispatcher> {
  for (const input of inputs.streams) files.push(await input(dispatcher.sink, () => dispatcher.pace()));
  dispatcher.finish();
  pool.end();
  return dispatcher;
}

/** Every shard reads the files; this one waits when it is far ahead of the slowest worker. */
async function readFiles(inputs: { files: string[] }, count: number, local: ShardPipeline, pool: WorkerPool, files: ReadResult[]): Promise<Router> {
  const router: Router = new Router(count, (w, kind, p) => w === 0 && local.routed(kind, p, router.ok, router.packets), local.decoded);
  const pace = async () => {
    await new Promise<void>((r) => setImmediate(r));
    while (!pool.failure && local.meter.epoch - pool.merger.slowestWorker() > MAX_LEAD_EPOCHS) await pool.progress;
    if (pool.failure) throw pool.failure;
  };
  for (const path of inputs.files) files.push(await readCaptureFile(path, router.sink, pace));
  return router;
}

function result(files: ReadResult[], read: { packets: number; bytes: number; warnings: DecodeWarnings }, done: Omit<DoneMessage, 'type'>[], inventory: Inventory): ShardedResult {
  const warnings: Record<string, number> = { ...read.warnings.counts };
  for (const d of done) {
    for (const [k, n] of Object.entries(d.warnings)) warnings[k] = (warnings[k] ?? 0) + n;
    inventory.absorb(d.devices);
  }
  return {
    files,
    packets: read.packets,
    bytes: read.bytes,
    flows: done.reduce((n, d) => n + d.flows, 0),
    dnsMessages: done.reduce((n, d) => n + d.dnsMessages, 0),
    warnings,
    devices: inventory.records(),
  };
}

/** The worker threads of shards 1..count-1: their messages, their end, and the first failure of any. */
class WorkerPool {
  readonly done: (Omit<DoneMessage, 'type'> | null)[];
  failure: Error | null = null;
  /** resolves when every worker is done; rejects at the first failure */
  readonly finished: Promise<void>;
  /** resolved at each message from a worker: what this thread's shard waits on when it is far ahead */
  progress: Promise<void>;
  private readonly workers: Worker[] = [];
  private allDone: () => void = () => {};
  private failed: (e: Error) => void = () => {};
  private progressed: () => void = () => {};
  private dispatcher: Dispatcher | null = null;

  constructor(
    private readonly count: number,
    readonly merger: EpochMerger,
  ) {
    this.done = new Array(count).fill(null);
    this.finished = new Promise<void>((resolve, reject) => {
      this.allDone = resolve;
      this.failed = reject;
    });
    this.finished.catch(() => {});
    this.progress = new Promise<void>((r) => (this.progressed = r));
  }

  start(taskOf: (i: number) => ShardTask, dispatcher: Dispatcher | null): void {
    this.dispatcher = dispatcher;
    for (let i = 1; i < this.count; i++) {
      const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: taskOf(i) });
      this.workers.push(w);
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => {
        if (!this.done[i]) this.fail(new Error(`shard worker ${i} exited (code ${code}) before it finished`));
      });
      w.on('message', (m: FromWorker) => this.onMessage(i, m));
    }
    if (this.count === 1) this.allDone();
  }

  post(worker: number, m: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.workers[worker - 1].postMessage(m, transfer);
  }

  /** The stream has ended: every worker finishes what it was given. */
  end(): void {
    for (const w of this.workers) w.postMessage({ type: 'end' } satisfies ToWorker);
  }

  fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const w of this.workers) void w.terminate();
    this.failed(e);
    this.progressed();
  }

  private onMessage(i: number, m: FromWorker): void {
    if (this.failure) return;
    try {
      this.progressed();
      this.progress = new Promise<void>((r) => (this.progressed = r));
      if (m.type === 'failed') return this.fail(m.capture ? captureError(m.capture) : new Error(`shard worker ${i} failed: ${m.message}`));
      if (m.type === 'free') return this.dispatcher?.recycle(i, m.buf);
      if (m.type === 'batch') {
        this.merger.collect(m);
        return this.merger.delivered(i, m.through, true);
      }
      this.done[i] = m;
      this.merger.delivered(i, Infinity);
      if (this.done.every((d, j) => j === 0 || d !== null)) this.allDone();
    } catch (e) {
      this.fail(e as Error);
    }
  }
}

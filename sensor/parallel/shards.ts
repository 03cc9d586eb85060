import { Worker } from 'node:worker_threads';
import type { DeviceRecord, FlowRecord } from '../../contract/types.js';
import { compareFlowKeys, type AnalyzerOptions } from '../analyzer.js';
import type { PacketSink } from '../capture/packet.js';
import { readCaptureFile, type Pace, type ReadResult } from '../capture/reader.js';
import type { DecodeWarnings } from '../decode/warnings.js';
import { Inventory, type DeviceFacts } from '../devices/inventory.js';
import { GeoIp } from '../enrich/geoip.js';
import { DEFAULT_MAX_FLOWS } from '../flows/table.js';
import { Dispatcher } from './dispatch.js';
import { Router } from './route.js';
import { ShardAnalyzer } from './shard-analyzer.js';
import { captureError, type DnsItem, type DoneMessage, type EndedFlow, type FromWorker, type ShardTask, type ToWorker } from './messages.js';

export interface ShardedOptions {
  analyzer: Pick<AnalyzerOptions, 'timeouts' | 'maxFlows'>;
  geoip: string[];
}

export interface ShardedSinks {
  /**
   * Every flow, in the order one analyzer gives them: its JSON line when
   * `lines` is set, and the enriched record when detection judges it.
   */
  flow: (line: string | null, judged: [rec: FlowRecord, facts: DeviceFacts, resolved: boolean] | null) => void;
  /** DNS messages as JSON lines, in packet order; only asked for when lines are */
  dnsLine?: (line: string) => void;
  lines: boolean;
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
 * sorted as one analyzer sorts them, so the flows, DNS messages, devices and
 * therefore alerts are those of a single analyzer (except which flows a full
 * table evicts: each shard holds max-flows/count).
 */
export async function analyzeSharded(inputs: ShardedInputs, count: number, opts: ShardedOptions, sinks: ShardedSinks): Promise<ShardedResult> {
  const consumed = new Int32Array(new SharedArrayBuffer(4 * count));
  const taken = new Int32Array(new SharedArrayBuffer(4 * count));
  const through: number[] = new Array(count).fill(-1);
  const done: (Omit<DoneMessage, 'type'> | null)[] = new Array(count).fill(null);
  const pending = new Map<number, { flows: EndedFlow[]; dns: DnsItem[] }>();
  let next = 0;
  let failure: Error | null = null;
  let allDone: () => void = () => {};
  let failed: (e: Error) => void = () => {};
  const finished = new Promise<void>((resolve, reject) => {
    allDone = resolve;
    failed = reject;
  });
  finished.catch(() => {});
  /** resolved at each message from a worker: what this thread's shard waits on when it is far ahead */
  let progressed: () => void = () => {};
  let progress = new Promise<void>((r) => (progressed = r));

  /** per worker, the `through` of each batch received and not yet released */
  const unreleased: number[][] = Array.from({ length: count }, () => []);
  const release = () => {
    const upto = Math.min(...through);
    const epochs = upto === Infinity ? [...pending.keys()].sort((a, b) => a - b) : null;
    for (;;) {
      let e: number;
      if (epochs) {
        if (epochs.length === 0) break;
        e = epochs.shift()!;
      } else {
        if (next > upto) break;
        e = next++;
      }
      const got = pending.get(e);
      if (!got) continue;
      pending.delete(e);
      got.flows.sort((a, b) => compareFlowKeys(a[1], a[2], a[3], b[1], b[2], b[3]));
      for (const [, , , , line, judged] of got.flows) sinks.flow(line, judged);
      if (sinks.dnsLine) {
        got.dns.sort((a, b) => a[1] - b[1]);
        for (const [, , line] of got.dns) sinks.dnsLine(line);
      }
    }
    // A worker may send more once its batches are released, not merely received:
    // otherwise a faster worker piles results up here while this thread's shard catches up.
    for (let i = 1; i < count; i++) {
      const q = unreleased[i];
      let n = 0;
      while (n < q.length && (upto === Infinity || q[n] < next)) n++;
      if (n === 0) continue;
      q.splice(0, n);
      Atomics.add(taken, i, n);
      Atomics.notify(taken, i);
    }
  };
  const collect = (items: { flows: EndedFlow[]; dns: DnsItem[] }) => {
    for (const f of items.flows) slot(pending, f[0]).flows.push(f);
    for (const d of items.dns) slot(pending, d[0]).dns.push(d);
  };

  const maxFlows = Math.ceil((opts.analyzer.maxFlows ?? DEFAULT_MAX_FLOWS) / count);
  // Shard 0 runs here, between reads, and needs no messages: its epochs go straight to the merge.
  const local: ShardAnalyzer = new ShardAnalyzer({ ...opts.analyzer, maxFlows }, sinks.lines, await GeoIp.open(opts.geoip), (n) => {
    collect(local.take());
    through[0] = n;
    release();
  });

  const workers: Worker[] = [];
  const dispatcher =
    'streams' in inputs
      ? new Dispatcher(count, consumed, (w, buf, len) => workers[w - 1].postMessage({ type: 'packets', buf, len } satisfies ToWorker, [buf]), () => failure, local)
      : null;
  const fail = (e: Error) => {
    if (failure) return;
    failure = e;
    for (const w of workers) void w.terminate();
    failed(e);
    progressed();
  };
  for (let i = 1; i < count; i++) {
    const task: ShardTask = { index: i, count, files: 'files' in inputs ? inputs.files : null, analyzer: { ...opts.analyzer, maxFlows }, geoip: opts.geoip, lines: sinks.lines, consumed: consumed.buffer as SharedArrayBuffer, taken: taken.buffer as SharedArrayBuffer };
    const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: task });
    workers.push(w);
    w.on('error', fail);
    w.on('exit', (code) => {
      if (!done[i]) fail(new Error(`shard worker ${i} exited (code ${code}) before it finished`));
    });
    w.on('message', (m: FromWorker) => {
      if (failure) return;
      try {
        progressed();
        progress = new Promise<void>((r) => (progressed = r));
        if (m.type === 'failed') return fail(m.capture ? captureError(m.capture) : new Error(`shard worker ${i} failed: ${m.message}`));
        if (m.type === 'free') return dispatcher?.recycle(i, m.buf);
        if (m.type === 'batch') {
          collect(m);
          through[i] = m.through;
          unreleased[i].push(m.through);
          return release();
        }
        done[i] = m;
        through[i] = Infinity;
        release();
        if (done.every((d, j) => j === 0 || d !== null)) allDone();
      } catch (e) {
        fail(e as Error);
      }
    });
  }
  if (count === 1) allDone();

  const files: ReadResult[] = [];
  let read: { packets: number; bytes: number; warnings: DecodeWarnings };
  try {
    if (dispatcher && 'streams' in inputs) {
      for (const input of inputs.streams) files.push(await input(dispatcher.sink, () => dispatcher.pace()));
      dispatcher.finish();
      for (const w of workers) w.postMessage({ type: 'end' } satisfies ToWorker);
      read = dispatcher;
    } else {
      // Every shard reads the files; this one waits when it is far ahead of the slowest worker.
      const router: Router = new Router(count, (w, kind, p) => w === 0 && local.routed(kind, p, router.ok, router.packets), local.decoded);
      const pace = async () => {
        await new Promise<void>((r) => setImmediate(r));
        while (!failure && local.analyzer.epoch - Math.min(...through.slice(1)) > MAX_LEAD_EPOCHS) await progress;
        if (failure) throw failure;
      };
      for (const path of (inputs as { files: string[] }).files) files.push(await readCaptureFile(path, router.sink, pace));
      read = router;
    }
    const { lastEpoch: _, ...mine } = local.finish();
    collect(local.take());
    done[0] = mine;
    through[0] = Infinity;
    release();
    await finished;
  } catch (e) {
    fail(e as Error);
    throw e;
  }
  const warnings: Record<string, number> = { ...read.warnings.counts };
  const inventory = new Inventory();
  for (const d of done) {
    for (const [k, n] of Object.entries(d!.warnings)) warnings[k] = (warnings[k] ?? 0) + n;
    inventory.absorb(d!.devices);
  }
  return {
    files,
    packets: read.packets,
    bytes: read.bytes,
    flows: done.reduce((n, d) => n + d!.flows, 0),
    dnsMessages: done.reduce((n, d) => n + d!.dnsMessages, 0),
    warnings,
    devices: inventory.records(),
  };
}

function slot(pending: Map<number, { flows: EndedFlow[]; dns: DnsItem[] }>, epoch: number) {
  let s = pending.get(epoch);
  if (!s) pending.set(epoch, (s = { flows: [], dns: [] }));
  return s;
}

import { Worker } from 'node:worker_threads';
import type { DeviceRecord, FlowRecord } from '../../contract/types.js';
import { compareFlowKeys, type AnalyzerOptions } from '../analyzer.js';
import type { PacketSink } from '../capture/packet.js';
import type { Pace, ReadResult } from '../capture/reader.js';
import { Inventory, type DeviceFacts } from '../devices/inventory.js';
import { DEFAULT_MAX_FLOWS } from '../flows/table.js';
import { Dispatcher } from './dispatch.js';
import { captureError, readResult, type DnsItem, type DoneMessage, type EndedFlow, type FromWorker, type ShardTask, type ToWorker } from './messages.js';

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
 * Analyses inputs with `count` worker threads. Each packet goes to the shard
 * its flow hashes to (see Router): either every shard reads the files and
 * keeps its own packets, or this thread reads a stream and hands them out.
 * The flows coming back are released epoch by epoch once every shard has
 * delivered the epoch, sorted as one analyzer sorts them, so the flows, DNS
 * messages, devices and therefore alerts are those of a single analyzer
 * (except which flows a full table evicts: each shard holds max-flows/count).
 */
export async function analyzeSharded(inputs: ShardedInputs, count: number, opts: ShardedOptions, sinks: ShardedSinks): Promise<ShardedResult> {
  const consumed = new Int32Array(new SharedArrayBuffer(4 * count));
  const taken = new Int32Array(new SharedArrayBuffer(4 * count));
  const through: number[] = new Array(count).fill(-1);
  const done: (DoneMessage | null)[] = new Array(count).fill(null);
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
  };

  const workers: Worker[] = [];
  const dispatcher = 'streams' in inputs ? new Dispatcher(count, consumed, (w, buf, len) => workers[w].postMessage({ type: 'packets', buf, len } satisfies ToWorker, [buf]), () => failure) : null;
  const fail = (e: Error) => {
    if (failure) return;
    failure = e;
    for (const w of workers) void w.terminate();
    failed(e);
  };
  for (let i = 0; i < count; i++) {
    const maxFlows = Math.ceil((opts.analyzer.maxFlows ?? DEFAULT_MAX_FLOWS) / count);
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
        if (m.type === 'failed') return fail(m.capture ? captureError(m.capture) : new Error(`shard worker ${i} failed: ${m.message}`));
        if (m.type === 'free') return dispatcher?.recycle(i, m.buf);
        if (m.type === 'batch') {
          for (const f of m.flows) slot(pending, f[0]).flows.push(f);
          for (const d of m.dns) slot(pending, d[0]).dns.push(d);
          through[i] = m.through;
          Atomics.add(taken, i, 1);
          Atomics.notify(taken, i);
          return release();
        }
        done[i] = m;
        through[i] = Infinity;
        release();
        if (done.every((d) => d !== null)) allDone();
      } catch (e) {
        fail(e as Error);
      }
    });
  }

  let files: ReadResult[] = [];
  try {
    if (dispatcher && 'streams' in inputs) {
      for (const input of inputs.streams) files.push(await input(dispatcher.sink, () => dispatcher.pace()));
      dispatcher.finish();
      for (const w of workers) w.postMessage({ type: 'end' } satisfies ToWorker);
    }
    await finished;
  } catch (e) {
    fail(e as Error);
    throw e;
  }
  // Shards that read the files each read all of it: the first one's count stands for all.
  const read = done[0]!.read ?? { files: null, packets: dispatcher!.packets, bytes: dispatcher!.bytes, warnings: dispatcher!.warnings.counts };
  if (read.files) files = read.files.map(readResult);
  const warnings: Record<string, number> = { ...read.warnings };
  const inventory = new Inventory();
  for (const d of done as DoneMessage[]) {
    for (const [k, n] of Object.entries(d.warnings)) warnings[k] = (warnings[k] ?? 0) + n;
    inventory.absorb(d.devices);
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

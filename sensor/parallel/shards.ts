import { Worker } from 'node:worker_threads';
import type { DeviceRecord, FlowRecord } from '../../contract/types.js';
import { compareFlowKeys, type AnalyzerOptions } from '../analyzer.js';
import type { ReadResult } from '../capture/reader.js';
import { Inventory, type DeviceFacts } from '../devices/inventory.js';
import { captureError, type DnsItem, type DoneMessage, type EndedFlow, type ShardTask, type WorkerMessage } from './messages.js';

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
 * Analyses files in `count` worker threads, one shard of the devices each
 * (see shardOf), and merges what they find back into one stream: an epoch's
 * flows are released once every shard has delivered it, sorted as one
 * analyzer sorts them, so the flows, DNS messages, devices and therefore the
 * alerts are those of a single analyzer (except which flows a full table
 * evicts: each shard holds max-flows / count).
 */
export function analyzeSharded(files: string[], count: number, opts: ShardedOptions, sinks: ShardedSinks): Promise<ShardedResult> {
  const acks = new Int32Array(new SharedArrayBuffer(4 * count));
  const through: number[] = new Array(count).fill(-1);
  const done: (DoneMessage | null)[] = new Array(count).fill(null);
  const pending = new Map<number, { flows: EndedFlow[]; dns: DnsItem[] }>();
  let next = 0;

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
      // Flows that cannot raise an alert and are not written out travel as keys only; their packet count is then 0.
      got.flows.sort((a, b) => compareFlowKeys(a[1], a[2], a[3], b[1], b[2], b[3]));
      for (const [, , , , line, judged] of got.flows) sinks.flow(line, judged);
      if (sinks.dnsLine) {
        got.dns.sort((a, b) => a[1] - b[1]);
        for (const [, , line] of got.dns) sinks.dnsLine(line);
      }
    }
  };

  return new Promise((resolve, reject) => {
    const workers: Worker[] = [];
    let failed = false;
    const fail = (e: Error) => {
      if (failed) return;
      failed = true;
      for (const w of workers) void w.terminate();
      reject(e);
    };
    for (let i = 0; i < count; i++) {
      const task: ShardTask = { files, shard: { index: i, count }, analyzer: opts.analyzer, geoip: opts.geoip, lines: sinks.lines, acks: acks.buffer as SharedArrayBuffer };
      const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: task });
      workers.push(w);
      w.on('error', fail);
      w.on('exit', (code) => {
        if (!done[i]) fail(new Error(`shard worker ${i} exited (code ${code}) before it finished`));
      });
      w.on('message', (m: WorkerMessage) => {
        if (failed) return;
        try {
          if (m.type === 'failed') {
            fail(m.capture ? captureError(m.capture) : new Error(`shard worker ${i} failed: ${m.message}`));
            return;
          }
          if (m.type === 'batch') {
            for (const f of m.flows) slot(pending, f[0]).flows.push(f);
            for (const d of m.dns) slot(pending, d[0]).dns.push(d);
            through[i] = m.through;
            Atomics.add(acks, i, 1);
            Atomics.notify(acks, i);
            release();
            return;
          }
          done[i] = m;
          through[i] = Infinity;
          release();
          if (done.every((d) => d !== null)) resolve(combine(done as DoneMessage[]));
        } catch (e) {
          fail(e as Error);
        }
      });
    }
  });
}

function slot(pending: Map<number, { flows: EndedFlow[]; dns: DnsItem[] }>, epoch: number) {
  let s = pending.get(epoch);
  if (!s) pending.set(epoch, (s = { flows: [], dns: [] }));
  return s;
}

/** Every shard read every packet: file results and packet counts come from the first; the rest add up. */
function combine(done: DoneMessage[]): ShardedResult {
  const warnings: Record<string, number> = {};
  const inventory = new Inventory();
  for (const d of done) {
    for (const [k, n] of Object.entries(d.warnings)) warnings[k] = (warnings[k] ?? 0) + n;
    inventory.absorb(d.devices);
  }
  return {
    files: done[0].files.map((f) => ({ ...f, error: f.error ? captureError(f.error) : null })),
    packets: done[0].packets,
    bytes: done[0].bytes,
    flows: done.reduce((n, d) => n + d.flows, 0),
    dnsMessages: done.reduce((n, d) => n + d.dnsMessages, 0),
    warnings,
    devices: inventory.records(),
  };
}

import { parentPort, workerData } from 'node:worker_threads';
import { Analyzer } from '../analyzer.js';
import { CaptureError } from '../capture/errors.js';
import { readCaptureFile } from '../capture/reader.js';
import { judges } from '../detect/engine.js';
import { enrichFlow } from '../enrich/flows.js';
import { GeoIp } from '../enrich/geoip.js';
import { serialError, type BatchMessage, type DnsItem, type EndedFlow, type FileResult, type ShardTask, type WorkerMessage } from './messages.js';

/** Batches sent but not yet taken by the main thread before this worker waits: bounds memory when the main thread falls behind. */
const MAX_AHEAD = 2;
/** Flows and DNS messages per batch: fewer, larger messages cost the two threads less. */
const BATCH_ITEMS = 2048;
/** Epochs a batch waits for items at most, so the main thread can release what the other shards delivered. */
const MAX_QUIET_EPOCHS = 64;

/**
 * One shard of `phonehome analyze --workers N`: reads every input (framing
 * is cheap next to analysis), analyses the packets it owns and sends its
 * flows to the main thread epoch by epoch.
 */
async function run(task: ShardTask): Promise<void> {
  const port = parentPort!;
  const acks = new Int32Array(task.acks);
  const post = (m: WorkerMessage) => port.postMessage(m);
  const geo = await GeoIp.open(task.geoip);
  let flows: EndedFlow[] = [];
  let dns: DnsItem[] = [];
  let sent = 0;
  let quiet = 0;
  const send = (through: number) => {
    while (sent - Atomics.load(acks, task.shard.index) >= MAX_AHEAD) Atomics.wait(acks, task.shard.index, Atomics.load(acks, task.shard.index), 1000);
    const m: BatchMessage = { type: 'batch', through, flows, dns };
    post(m);
    sent++;
    flows = [];
    dns = [];
    quiet = 0;
  };
  const analyzer: Analyzer = new Analyzer(
    {
      flow: (r, facts, resolved) => {
        const judged = judges(r, facts);
        if (!judged && !task.lines) return;
        enrichFlow(r, geo);
        flows.push([analyzer.epoch, r.ts, r.uid, r.src_pkts + r.dst_pkts, task.lines ? JSON.stringify(r) : null, judged ? [r, facts, resolved] : null]);
      },
      dns: task.lines ? (r, packet) => dns.push([analyzer.epoch, packet, JSON.stringify(r)]) : undefined,
      outboundOnly: !task.lines,
      epoch: (n) => {
        if (flows.length + dns.length >= BATCH_ITEMS || ++quiet >= MAX_QUIET_EPOCHS) send(n);
      },
    },
    { ...task.analyzer, shard: task.shard },
  );
  const files: FileResult[] = [];
  for (const f of task.files) {
    const r = await readCaptureFile(f, analyzer.onPacket);
    files.push({ ...r, error: r.error ? serialError(r.error) : null });
  }
  analyzer.finish();
  send(analyzer.epoch - 1);
  post({
    type: 'done', files, packets: analyzer.packets, bytes: analyzer.bytes, flows: analyzer.flows, dnsMessages: analyzer.dnsMessages,
    warnings: { ...analyzer.warnings.counts }, devices: analyzer.inventory.snapshot(),
  });
}

run(workerData as ShardTask).catch((e: unknown) => {
  parentPort!.postMessage({
    type: 'failed', capture: e instanceof CaptureError ? serialError(e) : null, message: e instanceof Error ? (e.stack ?? e.message) : String(e),
  } satisfies WorkerMessage);
});

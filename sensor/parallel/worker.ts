import { parentPort, workerData } from 'node:worker_threads';
import { CaptureError } from '../errors.js';
import { newRawPacket } from '../capture/packet.js';
import { readCaptureFile } from '../capture/reader.js';
import { GeoIp } from '../enrich/geoip.js';
import { serialCaptureError, type BatchMessage, type FromWorker, type ShardTask, type ToWorker } from './messages.js';
import { Router } from './route.js';
import { ShardPipeline } from './shard.js';
import { HEADER, Kind, recordSize } from './records.js';

/** Result batches sent but not yet released by the merging thread before this worker waits: bounds memory when that thread falls behind. */
const MAX_AHEAD = 2;
/** Flows and DNS messages per batch: fewer, larger messages cost the two threads less. */
const BATCH_ITEMS = 2048;
/** Epochs a batch waits for items at most, so the merging thread can release what the other shards delivered. */
const MAX_QUIET_EPOCHS = 4;

/**
 * One shard of `--workers N` in a worker thread (shard 0 runs in the thread
 * that merges): analyses its own packets and the shared ones every shard
 * reads, sweeping and ending epochs when the router says, and sends its
 * flows back epoch by epoch. It reads capture files itself, or takes packets
 * from the thread reading a stream.
 */
async function run(task: ShardTask): Promise<void> {
  const port = parentPort!;
  const consumed = new Int32Array(task.consumed);
  const taken = new Int32Array(task.taken);
  const me = task.index;
  const post = (m: FromWorker) => port.postMessage(m);
  const geo = await GeoIp.open(task.geoip);
  let sent = 0;
  let quiet = 0;
  const send = (through: number) => {
    while (sent - Atomics.load(taken, me) >= MAX_AHEAD) Atomics.wait(taken, me, Atomics.load(taken, me), 1000);
    const m: BatchMessage = { type: 'batch', through, ...shard.take() };
    post(m);
    sent++;
    quiet = 0;
  };
  const shard: ShardPipeline = new ShardPipeline(task.meter, task.lines, task.allFlows, geo, (n) => {
    if (shard.flows.length + shard.dns.length >= BATCH_ITEMS || ++quiet >= MAX_QUIET_EPOCHS) send(n);
  });
  const finish = () => {
    const { lastEpoch, ...done } = shard.finish();
    send(lastEpoch);
    post({ type: 'done', ...done });
    port.close();
  };

  if (task.files) {
    // Each shard reads and decodes every packet of the files, but nothing
    // crosses threads except results: no one thread reads, decodes and copies
    // for all (that thread, busier than a whole one-thread run, set the pace).
    const router: Router = new Router(task.count, (w, kind, p) => w === me && shard.routed(kind, p, router.ok, router.packets), shard.decoded);
    for (const path of task.files) {
      try {
        await readCaptureFile(path, router.sink);
      } catch (e) {
        if (!(e instanceof CaptureError)) throw e;
        return post({ type: 'failed', message: e.message, capture: serialCaptureError(e) });
      }
    }
    return finish();
  }

  const pkt = newRawPacket();

  const packets = (ab: ArrayBuffer, len: number) => {
    const buf = Buffer.from(ab, 0, len);
    const u32 = new Uint32Array(ab, 0, len >> 2);
    const f64 = new Float64Array(ab, 0, len >> 3);
    pkt.data = buf;
    for (let o = 0; o < len; ) {
      const w = o >> 2;
      const kind = u32[w] & 0xff;
      const caplen = u32[w + 1];
      pkt.linktype = u32[w] >>> 8;
      pkt.caplen = caplen;
      pkt.wirelen = u32[w + 2];
      pkt.tsSec = u32[w + 3];
      pkt.tsNsec = u32[w + 4];
      pkt.off = o + HEADER;
      shard.apply(kind, pkt, f64[(o >> 3) + 3]);
      o += recordSize(caplen);
    }
    Atomics.add(consumed, me, 1);
    Atomics.notify(consumed, me);
    port.postMessage({ type: 'free', buf: ab } satisfies FromWorker, [ab]);
  };

  port.on('message', (m: ToWorker) => {
    try {
      if (m.type === 'packets') return packets(m.buf, m.len);
      finish();
    } catch (e) {
      fail(e);
    }
  });
}

function fail(e: unknown): void {
  parentPort!.postMessage({ type: 'failed', message: e instanceof Error ? (e.stack ?? e.message) : String(e) } satisfies FromWorker);
}

run(workerData as ShardTask).catch(fail);

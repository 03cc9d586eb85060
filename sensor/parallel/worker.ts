import { parentPort, workerData } from 'node:worker_threads';
import { Analyzer } from '../analyzer.js';
import { CaptureError } from '../capture/errors.js';
import { newRawPacket, type RawPacket } from '../capture/packet.js';
import { readCaptureFile } from '../capture/reader.js';
import { judges } from '../detect/engine.js';
import { enrichFlow } from '../enrich/flows.js';
import { GeoIp } from '../enrich/geoip.js';
import { serialCaptureError, serialReadResult, type BatchMessage, type DnsItem, type DoneMessage, type EndedFlow, type FromWorker, type SerialReadResult, type ShardTask, type ToWorker } from './messages.js';
import { Router } from './route.js';
import { HEADER, Kind, recordSize } from './records.js';

/** Result batches sent but not yet taken by the main thread before this worker waits: bounds memory when it falls behind. */
const MAX_AHEAD = 2;
/** Flows and DNS messages per batch: fewer, larger messages cost the two threads less. */
const BATCH_ITEMS = 2048;
/** Epochs a batch waits for items at most, so the main thread can release what the other shards delivered. */
const MAX_QUIET_EPOCHS = 64;

/**
 * One shard of `--workers N`: analyses its own packets and the shared ones
 * every shard reads, sweeping and ending epochs when the router says, and
 * sends its flows back epoch by epoch. It reads capture files itself, or
 * takes packets from the thread reading a stream.
 */
async function run(task: ShardTask): Promise<void> {
  const port = parentPort!;
  const consumed = new Int32Array(task.consumed);
  const taken = new Int32Array(task.taken);
  const me = task.index;
  const post = (m: FromWorker) => port.postMessage(m);
  const geo = await GeoIp.open(task.geoip);
  let flows: EndedFlow[] = [];
  let dns: DnsItem[] = [];
  let sent = 0;
  let quiet = 0;
  const send = (through: number) => {
    while (sent - Atomics.load(taken, me) >= MAX_AHEAD) Atomics.wait(taken, me, Atomics.load(taken, me), 1000);
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
    { ...task.analyzer, shardWorker: true },
  );
  const apply = (kind: Kind, p: RawPacket) => {
    if (kind === Kind.Owned) analyzer.onPacket(p);
    else if (kind === Kind.Shared) analyzer.sharedPacket(p);
    else if (kind === Kind.Sweep) analyzer.sweep(p.tsSec + p.tsNsec / 1e9);
    else analyzer.epochEnd();
  };
  const finish = (read: Pick<DoneMessage, 'read'>['read']) => {
    analyzer.finish();
    send(analyzer.epoch - 1);
    post({ type: 'done', flows: analyzer.flows, dnsMessages: analyzer.dnsMessages, warnings: { ...analyzer.warnings.counts }, devices: analyzer.inventory.snapshot(), read });
    port.close();
  };

  if (task.files) {
    // Each shard reads and decodes every packet of the files, but nothing
    // crosses threads except results: no one thread reads, decodes and copies
    // for all (that thread, busier than a whole one-thread run, set the pace).
    // The router decodes into the analyzer's struct, so a packet is decoded once.
    const router: Router = new Router(
      task.count,
      (w, kind, p) => {
        if (w !== me) return;
        analyzer.packetIndex = router.packets;
        if (kind === Kind.Owned) analyzer.analyse(p, router.ok);
        else if (kind === Kind.Shared) analyzer.analyseShared(router.ok);
        else apply(kind, p);
      },
      analyzer.decoded,
    );
    const files: SerialReadResult[] = [];
    for (const path of task.files) {
      try {
        files.push(serialReadResult(await readCaptureFile(path, router.sink)));
      } catch (e) {
        if (!(e instanceof CaptureError)) throw e;
        return post({ type: 'failed', message: e.message, capture: serialCaptureError(e) });
      }
    }
    return finish({ files, packets: router.packets, bytes: router.bytes, warnings: { ...router.warnings.counts } });
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
      analyzer.packetIndex = f64[(o >> 3) + 3];
      apply(kind, pkt);
      o += recordSize(caplen);
    }
    Atomics.add(consumed, me, 1);
    Atomics.notify(consumed, me);
    port.postMessage({ type: 'free', buf: ab } satisfies FromWorker, [ab]);
  };

  port.on('message', (m: ToWorker) => {
    try {
      if (m.type === 'packets') return packets(m.buf, m.len);
      finish(null);
    } catch (e) {
      fail(e);
    }
  });
}

function fail(e: unknown): void {
  parentPort!.postMessage({ type: 'failed', message: e instanceof Error ? (e.stack ?? e.message) : String(e) } satisfies FromWorker);
}

run(workerData as ShardTask).catch(fail);

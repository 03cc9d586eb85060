// EpochMerger: the shards' flows and DNS messages, held by the epoch they
// ended in, are released only once every shard has delivered that epoch, and
// then in the order one flow meter hands them over, whichever shard each came
// from and however the shards' deliveries interleave. A worker may send more
// once its batches are released, not merely received.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../../contract/types.js';
import { readCaptureFile } from '../../../sensor/capture/reader.js';
import { EpochMerger } from '../../../sensor/parallel/merge.js';
import type { DnsItem, EndedFlow } from '../../../sensor/parallel/messages.js';
import { FlowMeter } from '../../../sensor/pipeline/meter.js';
import { fixture } from '../../helpers/corpus.js';

interface Reference {
  /** flows as one meter hands them over, with the epoch each ended in */
  flows: { epoch: number; rec: FlowRecord }[];
  /** DNS messages in packet order, with their epoch and packet index */
  dns: { epoch: number; packet: number; line: string }[];
  lastEpoch: number;
}

/** One flow meter over real captures read in a row: the order the merged output must have. */
async function reference(): Promise<Reference> {
  const ref: Reference = { flows: [], dns: [], lastEpoch: 0 };
  const m: FlowMeter = new FlowMeter({
    flow: (rec) => ref.flows.push({ epoch: m.epoch, rec }),
    dns: (r, packet) => ref.dns.push({ epoch: m.epoch, packet, line: JSON.stringify(r) }),
  });
  for (const f of ['D-LinkCam', 'HueBridge', 'HueSwitch', 'Withings'].map(fixture)) await readCaptureFile(f, m.onPacket);
  m.finish();
  ref.lastEpoch = m.epoch;
  return ref;
}

const REF = reference();

/** A shard's share: the flows and DNS messages it would have produced, by epoch. */
function shares(ref: Reference, count: number, shardOf: (key: string) => number) {
  const byShard = Array.from({ length: count }, () => new Map<number, { flows: EndedFlow[]; dns: DnsItem[] }>());
  const slot = (w: number, e: number) => byShard[w].get(e) ?? byShard[w].set(e, { flows: [], dns: [] }).get(e)!;
  for (const { epoch, rec } of ref.flows) {
    slot(shardOf(rec.uid), epoch).flows.push([epoch, rec.ts, rec.uid, rec.src_pkts + rec.dst_pkts, JSON.stringify(rec), null]);
  }
  for (const d of ref.dns) slot(shardOf(String(d.packet)), d.epoch).dns.push([d.epoch, d.packet, d.line]);
  return byShard;
}

const hash = (s: string) => [...s].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0, 7);

describe('EpochMerger', () => {
  it('releases an epoch only once every shard delivered it, in one meter\'s order, however shards split and interleave', async () => {
    const ref = await REF;
    expect(ref.lastEpoch).toBeGreaterThan(10);
    expect(ref.flows.length).toBeGreaterThan(300);
    expect(ref.dns.length).toBeGreaterThan(100);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 5 }), fc.integer(), fc.array(fc.nat(), { minLength: 200, maxLength: 200 }), async (count, seed, choices) => {
        const byShard = shares(ref, count, (k) => hash(`${seed}|${k}`) % count);
        const flowsOut: string[] = [];
        const dnsOut: string[] = [];
        const taken = new Int32Array(new SharedArrayBuffer(4 * count));
        const merger = new EpochMerger(count, taken, {
          flow: (line, judged) => {
            expect(judged).toBeNull();
            flowsOut.push(JSON.parse(line!).uid);
          },
          dnsLine: (line) => dnsOut.push(line),
          lines: true,
        });
        // Each shard delivers its epochs in batches of 1 to 4 epochs; the next shard to deliver is drawn.
        const next = new Array(count).fill(0);
        const sent: number[][] = Array.from({ length: count }, () => []);
        let step = 0;
        const upto = () => Math.min(...merger.through);
        const check = () => {
          const u = upto();
          expect(flowsOut).toEqual(ref.flows.filter((f) => f.epoch <= u).map((f) => f.rec.uid));
          expect(dnsOut).toEqual(ref.dns.filter((d) => d.epoch <= u).map((d) => d.line));
          for (let w = 1; w < count; w++) expect(taken[w], `worker ${w}`).toBe(sent[w].filter((t) => t <= u).length);
          expect(merger.slowestWorker()).toBe(Math.min(...merger.through.slice(1)));
        };
        while (next.some((e) => e <= ref.lastEpoch)) {
          const open = next.map((e, w) => [e, w]).filter(([e]) => e <= ref.lastEpoch).map(([, w]) => w);
          const w = open[choices[step++ % choices.length] % open.length];
          const through = Math.min(ref.lastEpoch, next[w] + (choices[(step * 7) % choices.length] % 4));
          const batch = { flows: [] as EndedFlow[], dns: [] as DnsItem[] };
          for (let e = next[w]; e <= through; e++) {
            const s = byShard[w].get(e);
            // A shard sorts nothing for the merger: its epoch's items may come in any order.
            if (s) batch.flows.push(...[...s.flows].reverse()), batch.dns.push(...[...s.dns].reverse());
          }
          merger.collect(batch);
          merger.delivered(w, through, w > 0);
          if (w > 0) sent[w].push(through);
          next[w] = through + 1;
          check();
        }
        // Every shard done: all of it, in order.
        for (let w = 0; w < count; w++) merger.delivered(w, Infinity);
        expect(flowsOut).toEqual(ref.flows.map((f) => f.rec.uid));
        expect(dnsOut).toEqual(ref.dns.map((d) => d.line));
        for (let w = 1; w < count; w++) expect(taken[w]).toBe(sent[w].length);
      }),
      { numRuns: 40 },
    );
  }, 60_000);

  it('holds everything while one shard has delivered nothing; its "done" releases the rest, epochs in order', async () => {
    const ref = await REF;
    const byShard = shares(ref, 2, (k) => hash(k) % 2);
    const out: string[] = [];
    const taken = new Int32Array(new SharedArrayBuffer(8));
    const merger = new EpochMerger(2, taken, { flow: (line) => out.push(JSON.parse(line!).uid), lines: true });
    // Shard 1 sends everything, epoch by epoch; shard 0 (this thread's) is still reading.
    for (let e = 0; e <= ref.lastEpoch; e++) {
      const s = byShard[1].get(e);
      if (s) merger.collect(s);
      merger.delivered(1, e, true);
    }
    expect(out).toEqual([]);
    expect(taken[1]).toBe(0);
    for (let e = 0; e <= ref.lastEpoch; e++) {
      const s = byShard[0].get(e);
      if (s) merger.collect(s);
    }
    merger.delivered(0, Infinity);
    expect(out).toEqual(ref.flows.map((f) => f.rec.uid));
    expect(taken[1]).toBe(ref.lastEpoch + 1);
  });
});

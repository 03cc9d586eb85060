// Router: what each of N shards sees of the input. Every frame of a
// conversation (tshark's tcp.stream or udp.stream), in both directions, goes
// to one shard; the frames every shard reads (DNS answers, DHCP, SSDP, ARP)
// go to all of them; and every shard is told, at the same packet, that idle
// flows are swept (every 10 s of capture time) or an epoch ends (every 16384
// packets), where one thread's meter ends its epochs.
import { describe, expect, it } from 'vitest';
import type { RawPacket } from '../../../sensor/capture/packet.js';
import { readCaptureFile } from '../../../sensor/capture/reader.js';
import { Router } from '../../../sensor/parallel/route.js';
import { Kind } from '../../../sensor/parallel/records.js';
import { FlowMeter } from '../../../sensor/pipeline/meter.js';
import { packet, udpFrame, type Endpoint } from '../../helpers/build.js';
import { fixture } from '../../helpers/corpus.js';
import { capture } from '../../helpers/detection.js';
import { SHARED_FACTS_FILTER } from '../../helpers/tshark.js';
import { tsharkFields } from '../decode/frames.js';

const FIXTURES = ['HueBridge', 'D-LinkCam', 'EdimaxCam1', 'HueSwitch', 'TP-LinkPlugHS110', 'WeMoSwitch', 'Withings'].map(fixture);

interface Routed {
  /** per packet (0-based index into the input): [shard, kind] of every delivery */
  deliveries: [number, Kind][][];
  router: Router;
}

/** Every file through one Router of `count` shards, recording what each shard is handed. */
async function route(files: string[], count: number): Promise<Routed> {
  const deliveries: [number, Kind][][] = [];
  const router: Router = new Router(count, (w: number, kind: Kind, _p: RawPacket) => {
    (deliveries[router.packets - 1] ??= []).push([w, kind]);
  });
  for (const f of files) await readCaptureFile(f, router.sink);
  return { deliveries, router };
}

const owners = (d: [number, Kind][] | undefined) => (d ?? []).filter(([, k]) => k === Kind.Owned).map(([w]) => w);
const sharedTo = (d: [number, Kind][] | undefined) => (d ?? []).filter(([, k]) => k === Kind.Shared).map(([w]) => w).sort();
const markers = (r: Routed, kind: Kind) => r.deliveries.flatMap((d, i) => (d.some(([, k]) => k === kind) ? [i + 1] : []));

describe('Router', () => {
  it("every frame of a TCP or UDP conversation goes to one shard, both directions; every IP frame to exactly one owner", async () => {
    for (const file of FIXTURES) {
      const frames = await tsharkFields(file, ['frame.number', 'frame.len', 'tcp.stream', 'udp.stream', 'ip.version', 'ipv6.version', 'arp.opcode', 'icmp.type', 'icmpv6.type']);
      for (const count of [2, 3, 4]) {
        const r = await route([file], count);
        expect(r.router.packets, file).toBe(frames.length);
        expect(r.router.bytes, file).toBe(frames.reduce((n, f) => n + Number(f['frame.len']), 0));
        const streamShard = new Map<string, number>();
        let ip = 0;
        frames.forEach((f, i) => {
          const own = owners(r.deliveries[i]);
          if (f['ip.version'] || f['ipv6.version']) {
            ip++;
            expect(own, `${file} frame ${i + 1}`).toHaveLength(1);
            expect(own[0]).toBeGreaterThanOrEqual(0);
            expect(own[0]).toBeLessThan(count);
          } else expect(own, `${file} frame ${i + 1} is not IP`).toEqual([]);
          const stream = f['tcp.stream'] ? `tcp ${f['tcp.stream']}` : f['udp.stream'] ? `udp ${f['udp.stream']}` : null;
          if (!stream || f['icmp.type'] || f['icmpv6.type']) return;
          expect(streamShard.get(stream) ?? own[0], `${file} ${stream} frame ${i + 1}`).toBe(own[0]);
          streamShard.set(stream, own[0]);
        });
        expect(ip, file).toBeGreaterThan(frames.length / 2);
        // The conversations are spread: with several, more than one shard owns some.
        if (streamShard.size > 20) expect(new Set(streamShard.values()).size, `${file} over ${count}`).toBeGreaterThan(1);
      }
    }
  }, 60_000);

  it('DNS answers, DHCP, SSDP, neighbour discovery (as tshark finds them) and ARP go to every shard: owned by one, shared with the others; nothing else is shared', async () => {
    const count = 3;
    let sharedFacts = 0;
    let arp = 0;
    for (const file of FIXTURES) {
      const shared = new Set((await tsharkFields(file, ['frame.number'], ['-Y', SHARED_FACTS_FILTER])).map((f) => Number(f['frame.number'])));
      const arps = new Set((await tsharkFields(file, ['frame.number'], ['-Y', 'arp'])).map((f) => Number(f['frame.number'])));
      const r = await route([file], count);
      r.deliveries.forEach((d, i) => {
        const n = i + 1;
        const own = owners(d);
        const others = sharedTo(d);
        if (shared.has(n)) {
          expect([...own, ...others].sort(), `${file} frame ${n}`).toEqual([0, 1, 2]);
          expect(own, `${file} frame ${n}`).toHaveLength(1);
          sharedFacts++;
        } else if (arps.has(n)) {
          expect([own, others], `${file} ARP frame ${n}`).toEqual([[], [0, 1, 2]]);
          arp++;
        } else expect(others, `${file} frame ${n}`).toEqual([]);
      });
    }
    expect(sharedFacts).toBeGreaterThan(100);
    expect(arp).toBeGreaterThan(10);
  }, 60_000);

  it('tells every shard to sweep at the first packet of each new 10 s of capture time, before handing out that packet', async () => {
    const a: Endpoint = { mac: '02:00:00:00:00:01', ip: '192.168.1.20', port: 40000 };
    const b: Endpoint = { mac: '02:00:00:00:00:02', ip: '52.1.1.1', port: 123 };
    const t0 = 1_700_000_000;
    const file = capture(Array.from({ length: 35 }, (_, i) => packet(t0 + i, udpFrame(a, b, Buffer.alloc(48)))));
    const r = await route([file], 3);
    // packets 11, 21 and 31 are the first at t0 + 10, 20 and 30 s
    expect(markers(r, Kind.Sweep)).toEqual([11, 21, 31]);
    expect(markers(r, Kind.Epoch)).toEqual([]);
    for (const n of [11, 21, 31]) {
      const d = r.deliveries[n - 1];
      expect(d.filter(([, k]) => k === Kind.Sweep).map(([w]) => w)).toEqual([0, 1, 2]);
      // the marker first, then the packet to its owner
      expect(d.slice(3).map(([, k]) => k)).toEqual([Kind.Owned]);
    }
  });

  it('ends an epoch for every shard every 16384 packets when no sweep does', async () => {
    const a: Endpoint = { mac: '02:00:00:00:00:01', ip: '192.168.1.20', port: 40000 };
    const b: Endpoint = { mac: '02:00:00:00:00:02', ip: '52.1.1.1', port: 123 };
    const t0 = 1_700_000_000;
    // 40,000 packets in 4 s: no sweep falls due
    const file = capture(Array.from({ length: 40_000 }, (_, i) => packet(t0 + i * 1e-4, udpFrame({ ...a, port: 1024 + (i % 50_000) }, b, Buffer.alloc(8)))));
    const r = await route([file], 2);
    expect(markers(r, Kind.Sweep)).toEqual([]);
    expect(markers(r, Kind.Epoch)).toEqual([16384, 32768]);
    for (const n of [16384, 32768]) expect(r.deliveries[n - 1].filter(([, k]) => k === Kind.Epoch).map(([w]) => w)).toEqual([0, 1]);
  });

  it("ends epochs at the packets where one thread's flow meter ends them, over every bundled capture read in a row", async () => {
    const meterEpochs: number[] = [];
    const m: FlowMeter = new FlowMeter({ epoch: () => meterEpochs.push(m.packets) });
    for (const f of FIXTURES) await readCaptureFile(f, m.onPacket);
    const r = await route(FIXTURES, 4);
    const routed = [...markers(r, Kind.Sweep), ...markers(r, Kind.Epoch)].sort((x, y) => x - y);
    expect(routed.length).toBeGreaterThan(10);
    expect(routed).toEqual(meterEpochs);
    expect(r.router.packets).toBe(m.packets);
  });
});

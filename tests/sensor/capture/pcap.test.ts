// phonehome frames classic pcap itself (pcap-parser re-buffers every chunk and
// emits an object per packet, too slow for the sensor's hot path); pcap-parser,
// the reference reader, must see exactly the same packets in every corpus file.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_CAPLEN, newRawPacket } from '../../../sensor/capture/packet.js';
import { PcapParser } from '../../../sensor/capture/pcap.js';
import { readCaptureFile } from '../../../sensor/capture/reader.js';
import { phonehome } from '../../helpers/cli.js';
import { fixture, oracleCaptures } from '../../helpers/corpus.js';
import { readWithPcapParser, writePcap } from '../../helpers/pcap.js';

const digest = (tsSec: number, usec: number, caplen: number, wirelen: number, data: Buffer) =>
  `${tsSec}.${usec} ${caplen} ${wirelen} ${createHash('sha1').update(data).digest('hex')}`;

describe('classic pcap framing', () => {
  it('is packet-for-packet identical to pcap-parser on every corpus file (timestamps, lengths, bytes)', async () => {
    const files = oracleCaptures();
    let total = 0;
    for (const f of files) {
      const reference = (await readWithPcapParser(f)).packets.map((p) => digest(p.tsSec, p.tsUsec, p.data.length, p.wirelen, p.data));
      const ours: string[] = [];
      const r = await readCaptureFile(f, (p) => {
        ours.push(digest(p.tsSec, p.tsNsec / 1000, p.caplen, p.wirelen, p.data.subarray(p.off, p.off + p.caplen)));
      });
      expect(r.error, f).toBeNull();
      expect(ours, f).toEqual(reference);
      total += ours.length;
    }
    expect(total).toBeGreaterThan(files.length);
  }, 300_000);
});

// Tools that rewrite or merge captures can leave a header snap length smaller
// than the records they wrote; tshark reads such records whole (tcpdump cuts
// them to the snap length), and so does phonehome, with one warning per file.
describe('records longer than the header snap length', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'phonehome-snap-'));
  /** The fixture with its header's snap length set to `snaplen`. */
  const withSnap = (name: string, snaplen: number) => {
    const b = readFileSync(fixture('HueBridge'));
    b.writeUInt32LE(snaplen, 16);
    const f = join(tmp, name);
    writeFileSync(f, b);
    return f;
  };
  const tsharkCount = (file: string) => execFileSync('tshark', ['-n', '-r', file, '-T', 'fields', '-e', 'frame.len'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim().split('\n').length;

  it('are read whole: the same packets as with the original header, as many as tshark reads', async () => {
    const small = withSnap('snap64.pcap', 64);
    const read = async (f: string) => {
      const seen: string[] = [];
      const r = await readCaptureFile(f, (p) => seen.push(digest(p.tsSec, p.tsNsec / 1000, p.caplen, p.wirelen, p.data.subarray(p.off, p.off + p.caplen))));
      return { r, seen };
    };
    const original = await read(fixture('HueBridge'));
    const cut = await read(small);
    expect(cut.r.error).toBeNull();
    expect(cut.seen).toEqual(original.seen);
    expect(cut.seen.length).toBe(tsharkCount(small));
    expect(cut.seen.some((d) => Number(d.split(' ')[1]) > 64)).toBe(true);
    // analyze reads them all, exit 0
    const run = phonehome(['analyze', small, '--no-profiles', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as { stats: { packets: number } }).stats.packets).toBe(tsharkCount(small));
  });

  it('gives one warning per file: how many records, the first one and its length', () => {
    const data = Buffer.alloc(100, 0xab);
    const f = join(tmp, 'three-long.pcap');
    writePcap(f, 1, [20, 100, 40, 100].map((n, i) => ({ tsSec: i, tsUsec: 0, data: data.subarray(0, n), wirelen: n })));
    const b = readFileSync(f);
    b.writeUInt32LE(50, 16);
    const parser = new PcapParser(f, b);
    const lengths: number[] = [];
    // fed in two chunks, the second long record cut between them, as a stream arrives
    const cutAt = 24 + (16 + 20) + (16 + 100) + (16 + 40) + 30;
    const used = parser.parse(b, 24, cutAt, 24, newRawPacket(), (p) => lengths.push(p.caplen));
    parser.parse(b.subarray(used), 0, b.length - used, used, newRawPacket(), (p) => lengths.push(p.caplen));
    expect(lengths).toEqual([20, 100, 40, 100]);
    expect(parser.warnings).toEqual([`${f}: 2 record(s) longer than the header's snap length 50 (the first at byte ${24 + 16 + 20}, 100 bytes); read whole, up to ${MAX_CAPLEN} bytes`]);
  });

  it('a record longer than the hard limit is still corrupt, whatever the header claims', async () => {
    const f = join(tmp, 'huge.pcap');
    writePcap(f, 1, [{ tsSec: 1, tsUsec: 0, data: Buffer.alloc(60), wirelen: 60 }]);
    const b = readFileSync(f);
    b.writeUInt32LE(0xffffffff, 16);
    b.writeUInt32LE(MAX_CAPLEN + 1, 24 + 8);
    writeFileSync(f, b);
    const r = await readCaptureFile(f, () => {});
    expect(r.error?.code).toBe('CORRUPT_RECORD');
    expect(r.error?.message).toContain(`record claims ${MAX_CAPLEN + 1} captured bytes`);
  });
});

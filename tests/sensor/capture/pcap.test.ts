// phonehome frames classic pcap itself (pcap-parser re-buffers every chunk and
// emits an object per packet, too slow for the sensor's hot path); pcap-parser,
// the reference reader, must see exactly the same packets in every corpus file.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readCaptureFile } from '../../../sensor/capture/reader.js';
import { oracleCaptures } from '../../helpers/corpus.js';
import { readWithPcapParser } from '../../helpers/pcap.js';

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

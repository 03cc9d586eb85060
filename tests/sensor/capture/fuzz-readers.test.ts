// Readers and the whole per-packet pipeline never throw, hang or read outside
// a frame, whatever bytes they are given: random files, mutated real captures,
// random frames on every link type.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FlowMeter } from '../../../sensor/pipeline/meter.js';
import { CaptureError } from '../../../sensor/errors.js';
import { newRawPacket } from '../../../sensor/capture/packet.js';
import { readCaptureFile } from '../../../sensor/capture/reader.js';
import { fixture } from '../../helpers/corpus.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-fuzz-'));
let n = 0;

async function readBytes(bytes: Uint8Array): Promise<void> {
  const f = join(tmp, `f${n++}`);
  writeFileSync(f, bytes);
  const a = new FlowMeter({ flow: () => {}, dns: () => {} });
  try {
    const r = await readCaptureFile(f, a.onPacket);
    if (r.error) expect(r.error).toBeInstanceOf(CaptureError);
  } catch (e) {
    // Only "not a capture" may be thrown, before anything is read.
    expect(e).toBeInstanceOf(CaptureError);
    expect((e as CaptureError).code).toBe('NOT_A_CAPTURE');
  }
  a.finish();
}

const PCAP_HEADER = Buffer.from('d4c3b2a1020004000000000000000000ffff000001000000', 'hex');
const PCAPNG_SHB = Buffer.from('0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000', 'hex');

describe('readers on hostile input', () => {
  it('random bytes after a pcap or pcapng header', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(PCAP_HEADER, PCAPNG_SHB), fc.uint8Array({ maxLength: 4096 }), async (head, body) => {
        await readBytes(Buffer.concat([head, body]));
      }),
      { numRuns: 300 },
    );
  });

  it('real captures with random bytes overwritten, cut or duplicated', async () => {
    const real = readFileSync(fixture('HueBridge')).subarray(0, 60_000);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ at: fc.nat({ max: real.length - 1 }), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 40 }),
        fc.nat({ max: real.length }),
        async (edits, cut) => {
          const b = Buffer.from(real.subarray(0, Math.max(cut, 24)));
          for (const e of edits) if (e.at >= 24 && e.at < b.length) b[e.at] = e.value;
          await readBytes(b);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('the per-packet pipeline on hostile frames', () => {
  it('random frames on every link type, inside a larger buffer, never throw', () => {
    const linktypes = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 9999];
    fc.assert(
      fc.property(fc.constantFrom(...linktypes), fc.uint8Array({ maxLength: 600 }), fc.uint8Array({ maxLength: 64 }), (lt, frame, junk) => {
        const a = new FlowMeter({ flow: () => {}, dns: () => {} });
        const buf = Buffer.concat([Buffer.from(junk), Buffer.from(frame), Buffer.from(junk)]);
        const p = newRawPacket();
        p.data = buf;
        p.off = junk.length;
        p.caplen = frame.length;
        p.wirelen = frame.length;
        p.linktype = lt;
        a.onPacket(p);
        a.finish();
      }),
      { numRuns: 3000 },
    );
  });

  it('IPv4/IPv6 headers with random fields over random payloads never throw', () => {
    const eth4 = Buffer.from('ffffffffffff0011223344550800', 'hex');
    const eth6 = Buffer.from('ffffffffffff00112233445586dd', 'hex');
    fc.assert(
      fc.property(fc.boolean(), fc.uint8Array({ minLength: 0, maxLength: 200 }), fc.constantFrom(6, 17, 1, 58, 0, 43, 44, 60, 51, 59), (v6, rest, proto) => {
        const ip = Buffer.from(rest);
        if (ip.length > 0) ip[0] = (v6 ? 0x60 : 0x45) | (ip[0] & 0x0f);
        if (!v6 && ip.length > 9) ip[9] = proto;
        if (v6 && ip.length > 6) ip[6] = proto;
        const frame = Buffer.concat([v6 ? eth6 : eth4, ip]);
        const a = new FlowMeter({ flow: () => {}, dns: () => {} });
        const p = newRawPacket();
        p.data = frame;
        p.caplen = frame.length;
        p.wirelen = frame.length;
        p.linktype = 1;
        a.onPacket(p);
        a.finish();
      }),
      { numRuns: 3000 },
    );
  });
});

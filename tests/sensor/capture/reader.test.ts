// The same packets give the same flows whatever container they arrive in
// (pcap, nanosecond pcap, big-endian pcap, pcapng, gzip), and the readers
// never throw, hang or read outside a frame, whatever bytes they are given:
// random files and mutated real captures.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../../contract/types.js';
import { firstTimestamp, readCaptureFile } from '../../../sensor/capture/reader.js';
import { CaptureError } from '../../../sensor/errors.js';
import { FlowMeter } from '../../../sensor/pipeline/meter.js';
import { fixture } from '../../helpers/corpus.js';
import { readWithPcapParser, writePcap } from '../../helpers/pcap.js';
import { phonehomeView } from '../../helpers/phonehome.js';

const formatsTmp = mkdtempSync(join(tmpdir(), 'phonehome-formats-'));

/** Captures with DNS, TLS, HTTP, DHCP and mDNS traffic from different devices. */
function samples(): string[] {
  return ['TP-LinkPlugHS110', 'HueBridge', 'EdimaxCam1', 'WeMoSwitch', 'D-LinkCam', 'Withings'].map(fixture);
}

const flowKey = (f: FlowRecord) => `${f.proto} ${f.src_ip}:${f.src_port} ${f.dst_ip}:${f.dst_port} ${f.ts}`;
const sorted = (flows: FlowRecord[]) => [...flows].sort((a, b) => flowKey(a).localeCompare(flowKey(b)));

describe('capture formats', () => {
  let files: string[] = [];
  beforeAll(() => {
    files = samples();
  });

  it('pcap, nanosecond pcap, big-endian pcap, pcapng and gzip give identical flows, DNS and devices', async () => {
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const f of files) {
      const base = join(formatsTmp, basename(f, '.pcap'));
      execFileSync('editcap', ['-F', 'nsecpcap', f, `${base}.ns.pcap`]);
      execFileSync('editcap', ['-F', 'pcapng', f, `${base}.pcapng`]);
      execFileSync('editcap', ['-F', 'pcapng', `${base}.ns.pcap`, `${base}.ns.pcapng`]);
      writeFileSync(`${base}.pcap.gz`, gzipSync(readFileSync(f)));
      writeFileSync(`${base}.pcapng.gz`, gzipSync(readFileSync(`${base}.pcapng`)));
      const { linktype, packets } = await readWithPcapParser(f);
      writePcap(`${base}.be.pcap`, linktype, packets, true);
      const reference = await phonehomeView([f]);
      expect(reference.flows.length).toBeGreaterThan(0);
      for (const variant of ['.ns.pcap', '.pcapng', '.ns.pcapng', '.pcap.gz', '.pcapng.gz', '.be.pcap']) {
        const v = await phonehomeView([base + variant]);
        expect(v.read[0].error, variant).toBeNull();
        expect(v.read[0].packets, variant).toBe(packets.length);
        expect(sorted(v.flows), `${f} as ${variant}`).toEqual(sorted(reference.flows));
        expect(v.dns, `${f} as ${variant}`).toEqual(reference.dns);
        expect(v.devices, `${f} as ${variant}`).toEqual(reference.devices);
      }
    }
  }, 120_000);
});

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

describe('firstTimestamp', () => {
  /** The first packet's time as tshark reads it. */
  const tsharkFirst = (file: string) =>
    Number(execFileSync('tshark', ['-n', '-r', file, '-c', '1', '-T', 'fields', '-e', 'frame.time_epoch'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim());

  it('is the time of the first packet of a pcap or pcapng file, and null for a capture without packets', async () => {
    for (const f of samples()) {
      const ng = join(formatsTmp, `${basename(f, '.pcap')}.first.pcapng`);
      execFileSync('editcap', ['-F', 'pcapng', f, ng]);
      for (const file of [f, ng]) expect(await firstTimestamp(file), file).toBeCloseTo(tsharkFirst(f), 6);
    }
    const empty = join(formatsTmp, 'no-packets.pcap');
    writePcap(empty, 1, []);
    expect(await firstTimestamp(empty)).toBeNull();
  });

  // A gzip capture is ordered by its first packet like any other: the reader's
  // early stop at that packet is the consumer's, not a read error.
  it('is the time of the first packet of a gzip capture too', async () => {
    const f = fixture('Withings');
    const gz = join(formatsTmp, 'first.pcap.gz');
    writeFileSync(gz, gzipSync(readFileSync(f)));
    expect(await firstTimestamp(gz)).toBeCloseTo(tsharkFirst(f), 6);
  });
});

// Memory follows live flows, not packets: ten times the packets in the same
// flows costs no more memory, and a flood of distinct flows is held to
// --max-flows while every flow is still written out.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packet, udpFrame } from '../../helpers/build.js';
import { phonehome } from '../../helpers/cli.js';
import { writePcap, type TestPacket } from '../../helpers/pcap.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-mem-'));
const T0 = 1_700_000_000;

function capture(name: string, packets: number, flows: number): string {
  const pkts: TestPacket[] = [];
  const payload = Buffer.alloc(40);
  for (let i = 0; i < packets; i++) {
    const f = i % flows;
    const src = { mac: '02:00:00:00:00:01', ip: `10.${(f >> 16) & 255}.${(f >> 8) & 255}.${f & 255}`, port: 1024 + (f % 60000) };
    pkts.push(packet(T0 + i * 1e-5, udpFrame(src, { mac: '02:00:00:00:00:02', ip: '198.51.100.7', port: 9999 }, payload)));
  }
  const file = join(tmp, name);
  writePcap(file, 1, pkts);
  return file;
}

function analyze(file: string, extra: string[] = []) {
  const out = join(tmp, `${file.split('/').pop()}-${extra.join('')}`);
  const r = phonehome(['analyze', file, '--out', out, ...extra]);
  expect(r.code, r.stderr).toBe(0);
  const stats = JSON.parse(readFileSync(join(out, 'stats.json'), 'utf8'));
  const flows = readFileSync(join(out, 'flows.jsonl'), 'utf8').split('\n').filter(Boolean).length;
  return { rss: stats.peak_rss_bytes as number, flows, packets: stats.packets as number };
}

describe('memory', () => {
  it('ten times the packets in the same 20 flows needs no more memory', () => {
    const small = analyze(capture('small.pcap', 60_000, 20));
    const large = analyze(capture('large.pcap', 600_000, 20));
    expect(large.packets).toBe(600_000);
    expect([small.flows, large.flows]).toEqual([20, 20]);
    console.log(`peak RSS: 60k packets ${(small.rss / 2 ** 20).toFixed(0)} MiB, 600k packets ${(large.rss / 2 ** 20).toFixed(0)} MiB`);
    expect(large.rss - small.rss).toBeLessThan(40 * 2 ** 20);
  }, 120_000);

  it('a flood of 300,000 distinct flows stays bounded by --max-flows and every flow is written', () => {
    const flood = capture('flood.pcap', 300_000, 300_000);
    const bounded = analyze(flood, ['--max-flows', '5000']);
    const unbounded = analyze(flood, ['--max-flows', '1000000']);
    expect(bounded.flows).toBe(300_000);
    expect(unbounded.flows).toBe(300_000);
    console.log(`peak RSS: flood with --max-flows 5000 ${(bounded.rss / 2 ** 20).toFixed(0)} MiB, unbounded ${(unbounded.rss / 2 ** 20).toFixed(0)} MiB`);
    expect(unbounded.rss - bounded.rss).toBeGreaterThan(50 * 2 ** 20);
  }, 180_000);
});

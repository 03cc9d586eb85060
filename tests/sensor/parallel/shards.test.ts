// `analyze --workers N` spreads packets over threads by a symmetric hash and
// merges them back: every output must be what one thread writes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { phonehome } from '../../helpers/cli.js';
import { CORPUS_DIR, corpusAvailable, FIXTURES } from '../../helpers/corpus.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-workers-'));
const OUTPUTS = ['flows.jsonl', 'dns.jsonl', 'alerts.jsonl', 'devices.json'];

function run(input: string, workers: number, extra: string[] = []): { dir: string; stdout: string; stderr: string; code: number | null } {
  const dir = join(tmp, `${input.replace(/\W/g, '_')}-${workers}-${extra.length}`);
  const r = phonehome(['analyze', input, '--out', dir, '--workers', String(workers), ...extra]);
  return { dir, ...r };
}

const statsOf = (dir: string) => {
  const s = JSON.parse(readFileSync(join(dir, 'stats.json'), 'utf8'));
  delete s.peak_rss_bytes;
  return s;
};

function expectSameOutputs(a: string, b: string): void {
  for (const f of OUTPUTS) expect(readFileSync(join(b, f), 'utf8'), f).toBe(readFileSync(join(a, f), 'utf8'));
  expect(statsOf(b)).toEqual(statsOf(a));
}

describe('analyze --workers', () => {
  it('writes byte for byte what one thread writes, for 2 and 3 workers (bundled real captures)', () => {
    const one = run(FIXTURES, 1);
    expect(one.code, one.stderr).toBe(0);
    const flows = readFileSync(join(one.dir, 'flows.jsonl'), 'utf8').split('\n').filter(Boolean);
    expect(flows.length).toBeGreaterThan(300);
    for (const n of [2, 3]) {
      const many = run(FIXTURES, n);
      expect(many.code, many.stderr).toBe(0);
      expectSameOutputs(one.dir, many.dir);
      expect(many.stdout).toBe(one.stdout);
    }
  }, 120_000);

  it('reads a capture on stdin with workers as one thread reads the file', () => {
    const file = join(FIXTURES, readdirSync(FIXTURES).filter((f) => f.endsWith('.pcap')).sort()[0]);
    const one = run(file, 1);
    const dir = join(tmp, 'stdin-2');
    const two = phonehome(['analyze', '-', '--out', dir, '--workers', '2'], readFileSync(file));
    expect(two.code, two.stderr).toBe(0);
    for (const f of OUTPUTS) expect(readFileSync(join(dir, f), 'utf8'), f).toBe(readFileSync(join(one.dir, f), 'utf8'));
    const stats = statsOf(dir);
    expect(stats.files).toEqual([{ ...statsOf(one.dir).files[0], file: '-' }]);
  }, 60_000);

  it('reads files and stdin together (the reading thread hands out packets) as one thread does', () => {
    // With stdin among the inputs the files go through the reading thread too, not the shards' own reads.
    const pcaps = readdirSync(FIXTURES).filter((f) => f.endsWith('.pcap')).sort();
    const files = pcaps.slice(1).map((f) => join(FIXTURES, f));
    const stdin = readFileSync(join(FIXTURES, pcaps[0]));
    const dirs = [1, 2, 3].map((n) => {
      const dir = join(tmp, `mixed-${n}`);
      const r = phonehome(['analyze', ...files, '-', '--out', dir, '--workers', String(n)], stdin);
      expect(r.code, r.stderr).toBe(0);
      return dir;
    });
    // Files in the order of their first packet, then stdin.
    const read = statsOf(dirs[0]).files.map((f: { file: string; packets: number }) => [f.file, f.packets > 0]);
    expect(read.map(([f]: [string]) => f).sort()).toEqual([...files, '-'].sort());
    expect(read.at(-1)).toEqual(['-', true]);
    for (const d of dirs.slice(1)) expectSameOutputs(dirs[0], d);
  }, 120_000);

  it('reads pcapng (two interfaces, two link types) and gzip with workers as one thread does', () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.pcap')).sort().slice(0, 2).map((f) => join(FIXTURES, f));
    // One pcapng with both captures as two interfaces, the second re-encapsulated as Linux cooked (SLL).
    const sll = join(tmp, 'sll.pcap');
    execFileSync('editcap', ['-T', 'linux-sll', files[1], sll]);
    const ng = join(tmp, 'two-interfaces.pcapng');
    execFileSync('mergecap', ['-F', 'pcapng', '-w', ng, files[0], sll]);
    const gz = join(tmp, 'capture.pcap.gz');
    writeFileSync(gz, gzipSync(readFileSync(files[0])));
    for (const input of [ng, gz]) {
      const one = run(input, 1);
      const two = run(input, 2);
      expect(one.code, one.stderr).toBe(0);
      expect(two.code, two.stderr).toBe(0);
      expectSameOutputs(one.dir, two.dir);
    }
    expect(statsOf(run(ng, 2).dir).files[0].linktypes.sort()).toEqual([1, 113]);
  }, 60_000);

  it.runIf(corpusAvailable())('writes what one thread writes over the whole IoT Sentinel corpus', () => {
    const one = run(CORPUS_DIR, 1);
    const two = run(CORPUS_DIR, 2);
    expect(one.code, one.stderr).toBe(0);
    expect(two.code, two.stderr).toBe(0);
    expect(statsOf(one.dir).packets).toBeGreaterThan(100_000);
    expectSameOutputs(one.dir, two.dir);
  }, 300_000);

  it('without --out, prints the same summary as with it and as one thread (flows nobody judges are not built)', () => {
    const withOut = phonehome(['analyze', FIXTURES, '--json']);
    const noOut = phonehome(['analyze', FIXTURES, '--json', '--workers', '2']);
    const strip = (t: string) => {
      const j = JSON.parse(t);
      delete j.stats.peak_rss_bytes;
      return j;
    };
    expect(withOut.code).toBe(0);
    expect(strip(noOut.stdout)).toEqual(strip(withOut.stdout));
    expect(strip(withOut.stdout).alerts.length).toBeGreaterThan(0);
  }, 60_000);

  it('reports a corrupt record exactly as one thread does: same exit code, message and packets before it', () => {
    const good = readFileSync(join(FIXTURES, readdirSync(FIXTURES).find((f) => f.endsWith('.pcap'))!));
    // A record header claiming 1 MiB right after the first record: corrupt from there on.
    const firstLen = good.readUInt32LE(24 + 8);
    const bad = Buffer.from(good);
    bad.writeUInt32LE(1 << 20, 24 + 16 + firstLen + 8);
    const file = join(tmp, 'corrupt.pcap');
    writeFileSync(file, bad);
    const one = run(file, 1);
    const two = run(file, 2);
    expect(one.code).toBe(1);
    expect(two.code).toBe(1);
    expect(two.stderr).toBe(one.stderr);
    expect(two.stderr).toMatch(/corrupt\.pcap at byte \d+: record claims 1048576 captured bytes/);
    expect(statsOf(two.dir)).toEqual(statsOf(one.dir));
  }, 60_000);

  it('rejects a file that is not a capture, and a bad worker count, with the one-thread message and exit code 2', () => {
    const file = join(tmp, 'notes.txt');
    writeFileSync(file, 'not a capture\n');
    const one = phonehome(['analyze', file]);
    const two = phonehome(['analyze', file, '--workers', '2']);
    expect(one.code).toBe(2);
    expect(two.code).toBe(2);
    expect(two.stderr).toBe(one.stderr);
    for (const n of ['0', 'two', '1.5']) {
      const r = phonehome(['analyze', FIXTURES, '--workers', n]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`--workers must be a whole number from 1 to 64, got '${n}'`);
    }
  });
});

// Bad input gets one clear line (which file, which byte, what was found), the
// documented exit code, and never costs what was readable.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture } from '../../helpers/corpus.js';
import { phonehome } from '../../helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-bad-'));

function noStackTrace(stderr: string): void {
  expect(stderr).not.toMatch(/\n\s+at /);
  expect(stderr).not.toMatch(/internal error/);
}

/** tshark's count of the packets it can read from a file (it stops at damage, as we do). */
function tsharkPackets(file: string): number {
  let out = '';
  try {
    out = execFileSync('tshark', ['-n', '-r', file, '-T', 'fields', '-e', 'frame.number'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  } catch (e) {
    out = (e as { stdout: Buffer }).stdout.toString();
  }
  return out.split('\n').filter(Boolean).length;
}

/** Offsets of every record in a little-endian classic pcap. */
function recordOffsets(buf: Buffer): number[] {
  const out: number[] = [];
  for (let o = 24; o + 16 <= buf.length; o += 16 + buf.readUInt32LE(o + 8)) out.push(o);
  return out;
}

describe('inputs that are not captures', () => {
  it('a text file: exit 2, one line naming the file and what it starts with', () => {
    const f = join(tmp, 'notes.txt');
    writeFileSync(f, '# not a capture\nhello\n');
    const r = phonehome(['analyze', f]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(f);
    expect(r.stderr).toContain('not a pcap or pcapng capture');
    expect(r.stderr).toContain('23 20 6e 6f');
    noStackTrace(r.stderr);
  });

  it('an empty file: exit 2, says it is empty', () => {
    const f = join(tmp, 'empty.pcap');
    writeFileSync(f, '');
    const r = phonehome(['analyze', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${f}`);
    expect(r.stderr).toContain('empty');
    noStackTrace(r.stderr);
  });

  it('a directory of text files: exit 2 naming the directory', () => {
    const d = join(tmp, 'texts');
    mkdirSync(d);
    writeFileSync(join(d, 'a.txt'), 'aaaa');
    writeFileSync(join(d, 'b.txt'), 'bbbb');
    const r = phonehome(['analyze', d]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(d);
    expect(r.stderr).toContain('2 file(s), none of them a pcap or pcapng capture');
    noStackTrace(r.stderr);
  });

  it('a missing file, an unknown option and a bad number: exit 2 with one line', () => {
    for (const args of [['analyze', join(tmp, 'nope.pcap')], ['analyze', '--frobnicate', 'x'], ['analyze', '--max-flows', 'lots', 'x'], ['bogus']]) {
      const r = phonehome(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      noStackTrace(r.stderr);
    }
  });

  it('stdin that is not a capture: exit 2', () => {
    const r = phonehome(['analyze', '-'], Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('-');
    expect(r.stderr).toContain('not a pcap or pcapng capture');
  });

  it('--help explains the command with an example', () => {
    const r = phonehome(['analyze', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Example');
    expect(r.stdout).toContain('--out DIR');
  });
});

describe('damaged captures', () => {
  const source = () => fixture('TP-LinkPlugHS110');

  it('a truncated last record: every complete packet analysed, a warning with the byte offset, exit 0', () => {
    const buf = readFileSync(source());
    const offsets = recordOffsets(buf);
    const last = offsets[offsets.length - 1];
    const f = join(tmp, 'cut.pcap');
    writeFileSync(f, buf.subarray(0, last + 20));
    const out = join(tmp, 'cut-out');
    const r = phonehome(['analyze', f, '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${f}: capture ends inside a record at byte ${last}`);
    const stats = JSON.parse(readFileSync(join(out, 'stats.json'), 'utf8'));
    expect(stats.truncated).toBe(true);
    expect(stats.packets).toBe(offsets.length - 1);
    expect(stats.packets).toBe(tsharkPackets(f));
  });

  it('a corrupt record: that file stops at the named offset, the next file is still read, exit 1', () => {
    const buf = Buffer.from(readFileSync(source()));
    const offsets = recordOffsets(buf);
    const bad = offsets[Math.floor(offsets.length / 2)];
    buf.writeUInt32LE(0x7fffffff, bad + 8);
    const corrupt = join(tmp, 'corrupt.pcap');
    writeFileSync(corrupt, buf);
    const good = fixture('HueBridge');
    const out = join(tmp, 'corrupt-out');
    const r = phonehome(['analyze', corrupt, good, '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${corrupt} at byte ${bad}`);
    noStackTrace(r.stderr);
    const stats = JSON.parse(readFileSync(join(out, 'stats.json'), 'utf8'));
    const c = stats.files.find((x: { file: string }) => x.file === corrupt);
    const g = stats.files.find((x: { file: string }) => x.file === good);
    expect(c.packets).toBe(offsets.indexOf(bad));
    expect(c.packets).toBe(tsharkPackets(corrupt));
    expect(g.packets).toBe(tsharkPackets(good));
    expect(g.error).toBeNull();
    expect(statSync(join(out, 'flows.jsonl')).size).toBeGreaterThan(0);
  });

  it('a gzip capture cut short: complete packets analysed, reported as truncated', () => {
    const gz = join(tmp, 'cut.pcap.gz');
    const full = execFileSync('gzip', ['-c', source()]);
    writeFileSync(gz, full.subarray(0, Math.floor(full.length * 0.7)));
    const out = join(tmp, 'gz-out');
    const r = phonehome(['analyze', gz, '--out', out]);
    expect(r.code).toBe(0);
    const stats = JSON.parse(readFileSync(join(out, 'stats.json'), 'utf8'));
    expect(stats.truncated).toBe(true);
    expect(stats.packets).toBeGreaterThan(0);
  });
});

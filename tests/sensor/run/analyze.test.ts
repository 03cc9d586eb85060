// `phonehome analyze` over its inputs: a live stream on stdin (tcpdump -w -)
// and a directory of rotated files give what the same packets give as one
// file; a damaged capture is read up to the damage (which file, which byte),
// is reported in stats.json with the documented exit code, and never costs
// what was readable, in it or in the next file.
import { execFileSync, execSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, phonehome } from '../../helpers/cli.js';
import { fixture } from '../../helpers/corpus.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-analyze-'));

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

const lines = (f: string) => readFileSync(f, 'utf8').split('\n').filter(Boolean).sort();

describe('stdin and rotated files', () => {
  // the largest capture in the corpus: DNS, TLS, mDNS, SSDP from a Hue bridge and switch
  const capture = () => fixture('HueSwitch');

  it('tcpdump -w - | phonehome analyze - gives the same flows, DNS and devices as the file', () => {
    const f = capture();
    const fromFile = join(tmp, 'file');
    const fromPipe = join(tmp, 'pipe');
    expect(phonehome(['analyze', f, '--out', fromFile]).code).toBe(0);
    execSync(`tcpdump -n -r '${f}' -w - 2>/dev/null | '${process.execPath}' '${CLI}' analyze - --out '${fromPipe}'`);
    expect(lines(join(fromPipe, 'flows.jsonl'))).toEqual(lines(join(fromFile, 'flows.jsonl')));
    expect(lines(join(fromPipe, 'dns.jsonl'))).toEqual(lines(join(fromFile, 'dns.jsonl')));
    expect(readFileSync(join(fromPipe, 'devices.json'), 'utf8')).toEqual(readFileSync(join(fromFile, 'devices.json'), 'utf8'));
    expect(lines(join(fromFile, 'flows.jsonl')).length).toBeGreaterThan(10);
  });

  it('a capture rotated into several files (given in any order) gives the flows of the whole capture', () => {
    const f = capture();
    const dir = join(tmp, 'rotated');
    mkdirSync(dir);
    // editcap -c splits by packet count, as tcpdump -C/-G would by size or time.
    execFileSync('editcap', ['-c', '500', f, join(dir, 'part.pcap')]);
    const parts = execFileSync('ls', [dir]).toString().trim().split('\n');
    expect(parts.length).toBeGreaterThan(2);
    const whole = join(tmp, 'whole');
    const split = join(tmp, 'split');
    expect(phonehome(['analyze', f, '--out', whole]).code).toBe(0);
    expect(phonehome(['analyze', ...parts.reverse().map((p) => join(dir, p)), '--out', split]).code).toBe(0);
    expect(lines(join(split, 'flows.jsonl'))).toEqual(lines(join(whole, 'flows.jsonl')));
    const viaDir = join(tmp, 'dir');
    expect(phonehome(['analyze', dir, '--out', viaDir]).code).toBe(0);
    expect(lines(join(viaDir, 'flows.jsonl'))).toEqual(lines(join(whole, 'flows.jsonl')));
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

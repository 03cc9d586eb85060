// A live stream on stdin (tcpdump -w -) and a directory of rotated files give
// what the same packets give as one file.
import { execFileSync, execSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, phonehome } from '../../helpers/cli.js';
import { fixture } from '../../helpers/corpus.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-stdin-'));

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

// The command line's edge: an input mistake a user can fix is one line on
// stderr (which file, what was found) and exit 2, never a stack trace.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, phonehome } from '../helpers/cli.js';
import { fixture } from '../helpers/corpus.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-bad-'));

function noStackTrace(stderr: string): void {
  expect(stderr).not.toMatch(/\n\s+at /);
  expect(stderr).not.toMatch(/internal error/);
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
});

describe('messages that quote a name', () => {
  it('write the control characters in it as escapes: a file name cannot drive the terminal', () => {
    const name = join(tmp, 'x\x1b]0;owned\x07\x1b[2J\u009b.pcap');
    writeFileSync(name, 'not a capture\n');
    const r = phonehome(['analyze', name]);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    expect(r.stderr).toContain(`${tmp}/x\\x1b]0;owned\\x07\\x1b[2J\\u009b.pcap`);
    noStackTrace(r.stderr);
  });
});

describe('a reader that goes away', () => {
  it('analyze piped into a reader that closed (| head): exit 0, no EPIPE stack trace', async () => {
    const child = spawn(process.execPath, [CLI, 'analyze', '--json', fixture('HueBridge')], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((ok) => child.on('close', ok));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});

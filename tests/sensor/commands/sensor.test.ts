// `phonehome sensor`'s arguments: every mistake is one line naming the option
// and exit 2, before anything is read; --help documents the options, the
// completion rule of a watched directory and examples.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { phonehome } from '../../helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-sensor-args-'));
let n = 0;
const fresh = (name: string) => {
  const d = join(tmp, `${name}-${++n}`);
  mkdirSync(d, { recursive: true });
  return d;
};

describe('bad arguments', () => {
  const dir = fresh('args');
  const notCapture = join(dir, 'notes.txt');
  writeFileSync(notCapture, 'hello\n');
  const base = ['--collector', 'http://127.0.0.1:9', '--token', 't', '--spool', join(dir, 'spool')];
  const cases: [string, string[], RegExp][] = [
    ['no input', [...base], /needs --input/],
    ['no collector', ['--input', '-', '--token', 't'], /needs --collector/],
    ['collector not a URL', ['--input', '-', '--collector', 'collector:8080', '--token', 't'], /--collector must be an http/],
    ['no token', ['--input', '-', '--collector', 'http://127.0.0.1:9'], /needs --token/],
    ['bad port', ['--input', '-', ...base, '--metrics-port', 'abc'], /--metrics-port must be a port/],
    ['bad settle', ['--input', '-', ...base, '--settle', '0'], /--settle must be a positive number/],
    ['bad spool size', ['--input', '-', ...base, '--spool-max-mb', 'lots'], /--spool-max-mb must be a positive/],
    ['bad log level', ['--input', '-', ...base, '--log-level', 'loud'], /--log-level must be one of/],
    ['unknown option', ['--input', '-', ...base, '--bogus'], /Unknown option '--bogus'/],
    ['positional', ['capture.pcap', ...base], /no positional arguments/],
    ['missing input', ['--input', join(dir, 'nope.pcap'), ...base], /nope\.pcap: no such file or directory/],
    ['input not a capture', ['--input', notCapture, ...base], /notes\.txt.*not a pcap or pcapng capture/],
    ['bad countries', ['--input', '-', ...base, '--watch-countries', 'China'], /--watch-countries takes ISO/],
  ];
  it.each(cases)('%s: one line, exit 2', (_name, args, message) => {
    const r = phonehome(['sensor', ...args], Buffer.alloc(0));
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^phonehome: /);
    expect(r.stderr).toMatch(message);
  });

  it('--help documents the options, the completion rule and examples', () => {
    const r = phonehome(['sensor', '--help']);
    expect(r.code).toBe(0);
    for (const s of ['--input', '--collector', '--token', '--spool', '--spool-max-mb', '--metrics-port', '--once', '--settle', '--geoip', 'Examples:', 'tcpdump']) {
      expect(r.stdout).toContain(s);
    }
    expect(r.stdout).toMatch(/size has\s+not changed for --settle/);
  });
});

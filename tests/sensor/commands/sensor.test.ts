// `phonehome sensor`'s arguments: every mistake is one line naming the option
// and exit 2, before anything is read; --help documents the options, the
// completion rule of a watched directory and examples.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { phonehome } from '../../helpers/cli.js';
import { fixture } from '../../helpers/corpus.js';
import { FakeCollector, startSensor, TOKEN } from '../run/helpers.js';

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
  const emptyFile = join(dir, 'empty');
  writeFileSync(emptyFile, '\n');
  writeFileSync(join(dir, 'words.txt'), 'two words\n');
  const base = ['--collector', 'http://127.0.0.1:9', '--token', 't', '--spool', join(dir, 'spool')];
  const cases: [string, string[], RegExp][] = [
    ['no input', [...base], /needs --input/],
    ['no collector', ['--input', '-', '--token', 't'], /needs --collector/],
    ['collector not a URL', ['--input', '-', '--collector', 'collector:8080', '--token', 't'], /--collector must be an http/],
    ['no token', ['--input', '-', '--collector', 'http://127.0.0.1:9'], /needs a token: --token-file FILE, PHONEHOME_TOKEN/],
    ['token twice', ['--input', '-', ...base, '--token-file', notCapture], /--token or --token-file, not both/],
    ['token file missing', ['--input', '-', '--collector', 'http://127.0.0.1:9', '--token-file', join(dir, 'none')], /--token-file .*none: cannot be read \(ENOENT\)/],
    ['token file empty', ['--input', '-', '--collector', 'http://127.0.0.1:9', '--token-file', emptyFile], /--token-file .*empty: the file is empty/],
    ['token file of several words', ['--input', '-', '--collector', 'http://127.0.0.1:9', '--token-file', notCapture.replace('notes.txt', 'words.txt')], /whitespace inside it/],
    ['credentials in the URL', ['--input', '-', '--collector', 'https://lab:secret@collector', '--token', 't'], /must not carry a user or password/],
    ['--ca with http', ['--input', '-', ...base, '--ca', notCapture], /--ca applies to an https:\/\/ collector/],
    ['--ca not PEM', ['--input', '-', '--collector', 'https://127.0.0.1:9', '--token', 't', '--ca', notCapture], /--ca .*notes\.txt: expected PEM certificates/],
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
    for (const s of ['--input', '--collector', '--token', '--token-file', '--ca', '--resend-rejected', '--spool', '--spool-max-mb', '--metrics-port', '--once', '--settle', '--geoip', 'Examples:', 'tcpdump']) {
      expect(r.stdout).toContain(s);
    }
    expect(r.stdout).toMatch(/size has\s+not changed for --settle/);
  });
});

describe('the token', () => {
  it('from --token-file or PHONEHOME_TOKEN authenticates, and never appears in the logs, even at trace level', async () => {
    const c = await new FakeCollector().start();
    try {
      const dir = fresh('token');
      const file = join(dir, 'token');
      writeFileSync(file, `${TOKEN}\n`);
      const fromFile = startSensor(['--input', fixture('Withings'), '--collector', c.url, '--token-file', file, '--spool', join(dir, 'a'), '--once', '--log-level', 'trace']);
      expect(await fromFile.exit).toBe(0);
      const fromEnv = startSensor(['--input', fixture('Withings'), '--collector', c.url, '--spool', join(dir, 'b'), '--once', '--log-level', 'trace'], { env: { PHONEHOME_TOKEN: TOKEN } });
      expect(await fromEnv.exit).toBe(0);
      expect(c.requests.length).toBeGreaterThan(1);
      expect(c.requests.every((r) => r.status === 200)).toBe(true);
      for (const r of [fromFile, fromEnv]) expect(r.stderr()).not.toContain(TOKEN);
    } finally {
      await c.close();
    }
  }, 20_000);
});

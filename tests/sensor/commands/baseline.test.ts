// `phonehome baseline reset`: --help explains it with examples; a call without
// --state, or without (or with both) --device and --all, a bad MAC, or a file
// it cannot read is exit 2 with one line; a device without a baseline is
// reported, not an error. (Forgetting a learnt device end to end:
// tests/sensor/detect/rules/new-behaviour.test.ts.)
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { phonehome } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/detection.js';

const A = '02:00:00:00:00:0a';

describe('phonehome baseline', () => {
  it('--help explains reset with examples, and the main help lists the command', () => {
    const r = phonehome(['baseline', '--help']);
    expect(r.code).toBe(0);
    for (const s of ['reset', '--state DIR', '--device MAC', '--all', 'Examples:', 'phonehome baseline reset --state']) expect(r.stdout).toContain(s);
    expect(phonehome(['baseline', 'reset', '--help']).stdout).toBe(r.stdout);
    expect(phonehome(['--help']).stdout).toMatch(/\n {2}baseline {3}reset the learnt baselines/);
  });

  it('mistakes are one line and exit 2', () => {
    const dir = tempDir('state');
    for (const [args, message] of [
      [['frobnicate'], "unknown baseline command 'frobnicate'"],
      [['reset', '--device', A], 'baseline reset needs --state DIR'],
      [['reset', '--state', dir], 'needs --device MAC (repeatable) or --all, not both'],
      [['reset', '--state', dir, '--device', A, '--all'], 'needs --device MAC (repeatable) or --all, not both'],
      [['reset', '--state', dir, '--device', 'my-camera'], "--device takes a MAC such as 00:17:88:24:76:ff (or a device's address), got 'my-camera'"],
    ] as const) {
      const r = phonehome(['baseline', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.startsWith('phonehome: ') && r.stderr.indexOf('\n') === r.stderr.length - 1, r.stderr).toBe(true);
      expect(r.stderr).toContain(message);
    }
    writeFileSync(join(dir, 'baseline.json'), 'not json');
    const r = phonehome(['baseline', 'reset', '--state', dir, '--all']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^phonehome: .*baseline\.json: not JSON .*; the next run with --state .* moves it aside and learns again\n$/);
    expect(readFileSync(join(dir, 'baseline.json'), 'utf8')).toBe('not json');
  });

  it('a device without a baseline, or a folder without a file, is reported and exit 0; MACs are taken in any case and with dashes', () => {
    const dir = tempDir('state');
    const r = phonehome(['baseline', 'reset', '--state', dir, '--device', '02-00-00-00-00-0A']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${A}: no baseline in ${join(dir, 'baseline.json')}\n`);
  });
});

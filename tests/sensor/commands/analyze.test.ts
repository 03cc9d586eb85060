// `phonehome analyze`'s command: --help explains it, a call without input is
// one line and exit 2, and --json prints the run's stats, devices and alerts:
// what --out writes in stats.json, devices.json and alerts.jsonl.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { phonehome } from '../../helpers/cli.js';
import { fixture } from '../../helpers/corpus.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-analyze-command-'));

describe('phonehome analyze', () => {
  it('--help explains the command with an example', () => {
    const r = phonehome(['analyze', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Example');
    expect(r.stdout).toContain('--out DIR');
  });

  it('without a capture, a directory or -: one line naming what it needs, exit 2', () => {
    const r = phonehome(['analyze', '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^phonehome: analyze needs at least one capture, directory or '-'/);
    expect(r.stdout).toBe('');
  });

  it('--json prints the stats, devices and alerts that --out writes for the same run', () => {
    const out = join(tmp, 'out');
    const capture = fixture('HueBridge');
    const r = phonehome(['analyze', capture, '--json', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const printed = JSON.parse(r.stdout) as { stats: Record<string, unknown>; devices: unknown[]; alerts: unknown[] };
    expect(Object.keys(printed).sort()).toEqual(['alerts', 'devices', 'stats']);
    expect(printed.stats).toEqual(JSON.parse(readFileSync(join(out, 'stats.json'), 'utf8')));
    expect(printed.devices).toEqual(JSON.parse(readFileSync(join(out, 'devices.json'), 'utf8')));
    const written = readFileSync(join(out, 'alerts.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(printed.alerts).toEqual(written);
    // The capture has alerts and devices: the comparison compared something.
    expect(written.length).toBeGreaterThan(0);
    expect(printed.devices.length).toBeGreaterThan(0);
    expect((printed.stats.files as { file: string }[]).map((f) => f.file)).toEqual([capture]);
  });
});

describe('phonehome analyze warnings', () => {
  it('write the control characters of a file name as escapes', () => {
    const name = join(tmp, 'cut\x1b[2J\u009b.pcap');
    const whole = readFileSync(fixture('HueBridge'));
    writeFileSync(name, whole.subarray(0, whole.length - 10));
    const r = phonehome(['analyze', name, '--no-profiles']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`phonehome: warning: ${tmp}/cut\\x1b[2J\\u009b.pcap: capture ends inside a record`);
    expect(r.stderr + r.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
  });
});

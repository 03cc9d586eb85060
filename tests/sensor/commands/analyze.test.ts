// `phonehome analyze`'s command: --help explains it, a call without input is
// one line and exit 2, and --json prints the run's stats, devices and alerts:
// what --out writes in stats.json, devices.json and alerts.jsonl.
import { mkdtempSync, readFileSync } from 'node:fs';
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

// The collector refuses some events of a batch (its ingest contract lists
// them in a 200 answer): the sensor stores the others, keeps the refused ones
// with their reasons in the spool's rejected/ folder, counts and logs them,
// and exits 1 naming how many and where, with --once and at a stop in
// continuous mode. --resend-rejected delivers them once the collector takes
// them: in the end the collector holds every flow analyze reports.
import { copyFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../contract/types.js';
import { fixture } from '../helpers/corpus.js';
import { analyzed, freshDirs, logLines, TOKEN, useSensorRig, waitFor, type FakeCollector } from '../sensor/run/helpers.js';

const fresh = freshDirs('phonehome-refused-');
const { collector, sensor } = useSensorRig(['--token', TOKEN]);

/** Refuses UDP flows, as a collector whose validation rejects them would. */
async function picky(): Promise<FakeCollector> {
  const c = await collector();
  c.refuse = (e) => (e.kind === 'flow' && (e.data as FlowRecord).proto === 'udp' ? { code: 'flow_invalid', reason: `flow ${(e.data as FlowRecord).uid}: udp is not taken here` } : null);
  return c;
}

const keptIn = (spool: string) =>
  readdirSync(join(spool, 'rejected')).flatMap((f) => (JSON.parse(readFileSync(join(spool, 'rejected', f), 'utf8')) as { events: { key: string }[]; refused: { key: string; code: string }[] }).refused);

describe('collector refusing events', () => {
  const capture = fixture('HueBridge');
  const { flows } = analyzed(fresh('analyze'), [capture]);
  const udp = flows.filter((f) => f.proto === 'udp');

  it('--once: the others are stored, the refused kept with their reasons, exit 1 naming how many and where; --resend-rejected sends them', async () => {
    expect(udp.length).toBeGreaterThan(0);
    const c = await picky();
    const spool = fresh('spool');
    const r = sensor(['--input', capture, '--collector', c.url, '--spool', spool, '--once']);
    expect(await r.exit).toBe(1);
    expect(c.flows().map((f) => f.uid).sort()).toEqual(flows.filter((f) => f.proto !== 'udp').map((f) => f.uid).sort());
    const kept = keptIn(spool);
    expect(kept.map((k) => k.key).sort()).toEqual(udp.map((f) => `flow:${f.uid}`).sort());
    expect(new Set(kept.map((k) => k.code))).toEqual(new Set(['flow_invalid']));
    const errors = logLines(r.stderr()).filter((l) => l.level === 50 && typeof l.refused === 'number');
    expect(errors.reduce((s, l) => s + (l.refused as number), 0)).toBe(udp.length);
    expect(String(errors[0].msg)).toMatch(/flow_invalid: \d+: flow \S+: udp is not taken here/);
    expect(r.stderr()).toContain(`phonehome: ${udp.length} event(s) were refused by the collector`);
    expect(r.stderr()).toMatch(/kept in .*rejected/);

    c.refuse = null;
    const again = sensor(['--resend-rejected', '--collector', c.url, '--spool', spool]);
    expect(await again.exit).toBe(0);
    expect(c.flows().map((f) => f.uid).sort()).toEqual(flows.map((f) => f.uid).sort());
    expect(readdirSync(join(spool, 'rejected'))).toEqual([]);
  }, 30_000);

  it('continuous: the exit at a stop is 1 when anything was refused during the run', async () => {
    const c = await picky();
    const dir = fresh('watched');
    copyFileSync(capture, join(dir, '1.pcap'));
    const spool = fresh('spool');
    const r = sensor(['--input', dir, '--collector', c.url, '--spool', spool, '--settle', '0.2']);
    await waitFor('the file to be processed', () => logLines(r.stderr()).some((l) => l.msg === 'file processed'), 15_000);
    r.child.kill('SIGTERM');
    expect(await r.exit).toBe(1);
    expect(keptIn(spool).map((k) => k.key).sort()).toEqual(udp.map((f) => `flow:${f.uid}`).sort());
    expect(r.stderr()).toContain(`phonehome: ${udp.length} event(s) were refused by the collector`);
  }, 30_000);
});

// Garbled spool files: a batch damaged on disk while the collector was down
// is found by its checksum before it is sent; the file is reported with its
// path, every event still whole is delivered, the original is kept in
// rejected/ and the run exits 1. A directory named like a batch in queue/ is
// skipped with a warning instead of failing every start.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture } from '../helpers/corpus.js';
import { analyzed, FakeCollector, freshDirs, logLines, TOKEN, useSensorRig } from '../sensor/run/helpers.js';

const fresh = freshDirs('phonehome-garbled-');
const { collector, sensor } = useSensorRig(['--token', TOKEN]);

describe('garbled spool files', () => {
  it('the damaged batch is reported with its path, its whole events are sent, the original kept; exit 1', async () => {
    const capture = fixture('HueBridge');
    const spool = fresh('spool');
    const gone = await new FakeCollector().start();
    const deadUrl = gone.url;
    await gone.close();
    expect(await sensor(['--input', capture, '--collector', deadUrl, '--spool', spool, '--once', '--drain-timeout', '0.5']).exit).toBe(1);
    const queue = join(spool, 'queue');
    const files = readdirSync(queue).sort();
    expect(files.length).toBeGreaterThan(0);
    // One byte of one flow of the first batch changes on disk.
    const path = join(queue, files[0]);
    const text = readFileSync(path);
    const at = text.indexOf('"flow:') + 8;
    text[at] ^= 0x04;
    writeFileSync(path, text);
    const damagedKey = /"key":"(flow:[^"]+)"/.exec(readFileSync(path, 'utf8').slice(at - 10))![1];
    // And a directory named like a batch.
    mkdirSync(join(queue, '0000000000009999.json'));

    const c = await collector();
    const r = sensor(['--input', capture, '--collector', c.url, '--spool', spool, '--once']);
    expect(await r.exit, r.stderr()).toBe(1);
    const logs = logLines(r.stderr());
    expect(logs.find((l) => l.level === 40 && String(l.msg).includes('0000000000009999.json is not a spool batch'))).toBeDefined();
    const garbled = logs.find((l) => l.code === 'SPOOL_GARBLED')!;
    expect(garbled).toMatchObject({ level: 50, file: path });
    expect(String(garbled.msg)).toContain(`spool file ${path} is garbled`);
    expect(readdirSync(join(spool, 'rejected'))).toEqual([files[0].replace('.json', '.garbled')]);
    expect(readFileSync(join(spool, 'rejected', files[0].replace('.json', '.garbled')))).toEqual(text);
    // Every flow analyze reports arrived (the second run read the capture again), except that none was sent damaged.
    const { flows } = analyzed(fresh('analyze'), [capture]);
    const got = new Set(c.flows().map((f) => f.uid));
    expect(flows.every((f) => got.has(f.uid))).toBe(true);
    expect(c.events().some((e) => e.key === damagedKey)).toBe(true);
    expect(c.events().filter((e) => e.kind === 'flow').every((e) => flows.some((f) => `flow:${f.uid}` === e.key))).toBe(true);
    expect(r.stderr()).toMatch(/phonehome: 1 event\(s\) were refused by the collector or lost in a garbled spool file/);
  }, 30_000);
});

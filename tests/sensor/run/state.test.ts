// What a watched directory remembers across restarts (run/state.ts,
// SPOOL/state.json): files read, by path, size and mtime; a grown classic
// pcap read on from its offset; several files remembered in one write; and a
// state file that cannot be trusted (cut, emptied, edited) moved aside with
// one error line, the sensor going on as on a first start.
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessedFiles } from '../../../sensor/run/state.js';
import { fixture } from '../../helpers/corpus.js';
import { analyzed, FakeCollector, logLines, startSensor, TOKEN } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-state-'));
let n = 0;
const fresh = () => {
  const d = join(tmp, String(++n));
  mkdirSync(d);
  return d;
};
const collectors: FakeCollector[] = [];
afterEach(async () => {
  for (const c of collectors.splice(0)) await c.close();
});

describe('processed files', () => {
  it('remembers processed files by path, size and mtime, and forgets deleted ones', () => {
    const dir = fresh();
    const p = new ProcessedFiles(dir);
    p.mark('/cap/1.pcap', 10, 5);
    p.mark('/cap/2.pcap', 10, 6);
    const again = new ProcessedFiles(dir);
    expect(again.state('/cap/1.pcap', 10, 5)).toEqual({ kind: 'done' });
    // Changed, and no offset to read on from: a new file.
    expect(again.state('/cap/1.pcap', 10, 7)).toEqual({ kind: 'new' });
    again.prune(new Set(['/cap/2.pcap']), '/cap/');
    expect(new ProcessedFiles(dir).state('/cap/1.pcap', 10, 5)).toEqual({ kind: 'new' });
    expect(new ProcessedFiles(dir).state('/cap/2.pcap', 10, 6)).toEqual({ kind: 'done' });
  });

  it('a classic pcap that grew is read on from its offset; a new file under the same name is read whole', () => {
    const dir = fresh();
    const f = join(dir, 'cap.pcap');
    const whole = readFileSync(fixture('Withings'));
    writeFileSync(f, whole.subarray(0, 5000));
    const p = new ProcessedFiles(dir);
    p.mark(f, 5000, 1, 4900);
    appendFileSync(f, whole.subarray(5000));
    expect(p.state(f, whole.length, 2)).toEqual({ kind: 'grown', resumeAt: 4900 });
    // tcpdump -W wrote another capture under the name: its first record differs.
    writeFileSync(f, readFileSync(fixture('TP-LinkPlugHS110')));
    expect(p.state(f, 14759, 3)).toEqual({ kind: 'new' });
  });

  it('several files are remembered in one write, and only the state file is left behind', () => {
    const dir = fresh();
    new ProcessedFiles(dir).markAll([{ path: '/cap/1.pcap', size: 1, mtimeMs: 1 }, { path: '/cap/2.pcap', size: 2, mtimeMs: 2 }]);
    const again = new ProcessedFiles(dir);
    expect([again.state('/cap/1.pcap', 1, 1), again.state('/cap/2.pcap', 2, 2)]).toEqual([{ kind: 'done' }, { kind: 'done' }]);
    expect(readdirSync(dir)).toEqual(['state.json']);
  });
});

describe('files to read again after an unclean stop', () => {
  /** Real files of the given sizes, marked read in order. */
  function marked(p: ProcessedFiles, dir: string, sizes: number[], prefix = ''): string[] {
    return sizes.map((size, i) => {
      const path = join(dir, `${prefix}${i}.pcap`);
      writeFileSync(path, Buffer.alloc(size));
      const st = statSync(path);
      p.mark(path, st.size, st.mtimeMs);
      return path;
    });
  }

  it('are the files read since the last clean stop, in the order read, and none once a clean stop is recorded', () => {
    const dir = fresh();
    const p = new ProcessedFiles(dir);
    marked(p, dir, [100], 'before-');
    p.closeEpoch();
    const [a, b, c] = marked(p, dir, [100, 200, 300]);
    // Restarted: the state file alone says what the run that did not stop cleanly had read.
    const again = new ProcessedFiles(dir);
    expect(again.rereadable(1 << 20)).toEqual({ files: [{ path: a, from: null, to: 100 }, { path: b, from: null, to: 200 }, { path: c, from: null, to: 300 }], skipped: 0 });
    again.closeEpoch();
    expect(new ProcessedFiles(dir).rereadable(1 << 20)).toEqual({ files: [], skipped: 0 });
  });

  it('keep to the byte budget, most recent first, and leave out files changed since they were read', () => {
    const dir = fresh();
    const p = new ProcessedFiles(dir);
    const [x, y, z] = marked(p, dir, [400, 300, 200]);
    expect(p.rereadable(550)).toEqual({ files: [{ path: y, from: null, to: 300 }, { path: z, from: null, to: 200 }], skipped: 1 });
    writeFileSync(z, Buffer.alloc(50));
    expect(p.rereadable(10_000).files.map((f) => f.path)).toEqual([x, y]);
  });
});

describe('a state file that cannot be trusted', () => {
  const bad: [string, string][] = [
    ['empty', ''],
    ['cut while written', '{"version": 1, "processed": {"/cap/1.pcap": {"size": 10, "mti'],
    ['not a state file', '[1, 2, 3]\n'],
    ['an entry without its size', '{"version": 1, "processed": {"/cap/1.pcap": {"mtime_ms": 5}}}\n'],
  ];
  for (const [what, text] of bad) {
    it(`${what}: moved aside with one error line; nothing counts as read`, () => {
      const dir = fresh();
      writeFileSync(join(dir, 'state.json'), text);
      const logs: Record<string, unknown>[] = [];
      const p = new ProcessedFiles(dir, pino({}, { write: (l: string) => logs.push(JSON.parse(l)) }), () => 1234);
      expect(p.state('/cap/1.pcap', 10, 5)).toEqual({ kind: 'new' });
      expect(readdirSync(dir)).toEqual(['state.json.corrupt-1234']);
      expect(readFileSync(join(dir, 'state.json.corrupt-1234'), 'utf8')).toBe(text);
      expect(logs).toHaveLength(1);
      expect(logs[0].level).toBe(50);
      expect(logs[0].msg).toContain(`${join(dir, 'state.json')}: unreadable state file`);
      expect(logs[0].msg).toContain('state.json.corrupt-1234');
      p.mark('/cap/1.pcap', 10, 5);
      expect(new ProcessedFiles(dir).state('/cap/1.pcap', 10, 5)).toEqual({ kind: 'done' });
    });
  }

  it('the sensor (a real process) starts on an empty state file, reads the directory and delivers it whole', async () => {
    const dir = fresh();
    copyFileSync(fixture('Withings'), join(dir, '1.pcap'));
    const spool = fresh();
    writeFileSync(join(spool, 'state.json'), '');
    const c = await new FakeCollector().start();
    collectors.push(c);
    const r = startSensor(['--input', dir, '--collector', c.url, '--token', TOKEN, '--spool', spool, '--once']);
    expect(await r.exit, r.stderr()).toBe(0);
    const errors = logLines(r.stderr()).filter((l) => (l.level as number) >= 50);
    expect(errors.map((l) => l.msg)).toEqual([expect.stringMatching(/state\.json: unreadable state file \(empty file\); moved to .*state\.json\.corrupt-\d+/)]);
    expect(readdirSync(spool).filter((f) => f.startsWith('state.json')).sort()).toEqual(['state.json', expect.stringMatching(/^state\.json\.corrupt-\d+$/)]);
    expect(c.flows()).toEqual(analyzed(fresh(), [fixture('Withings')]).flows);
  }, 20_000);
});

// The spool, in-process: batches in order across a restart, the size bound,
// rejected batches; the record of processed files a watched directory keeps
// (path, size and mtime; a grown classic pcap read on from its offset). One
// sensor per spool is tests/sensor/run/sensor.test.ts.
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SpoolFullError } from '../../../sensor/errors.js';
import { ProcessedFiles, Spool } from '../../../sensor/run/spool.js';
import { fixture } from '../../helpers/corpus.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-spool-'));
let n = 0;
const fresh = () => {
  const d = join(tmp, String(++n));
  mkdirSync(d);
  return d;
};
const batch = (i: number, pad = 0): string =>
  JSON.stringify({ batch_id: `b${i}`, sensor: { name: 's', version: '1', lag_s: null }, events: [{ kind: 'flow', key: `flow:${i}`, data: { pad: 'x'.repeat(pad) } }] });

const open: Spool[] = [];
const spoolAt = (dir: string, max = 1 << 20) => {
  const s = new Spool(dir, max);
  open.push(s);
  return s;
};
afterEach(() => {
  for (const s of open.splice(0)) s.unlock();
});

describe('spool', () => {
  it('keeps batches in order across a restart and continues the sequence', () => {
    const dir = fresh();
    const a = new Spool(dir, 1 << 20);
    expect([a.append(batch(1)), a.append(batch(2)), a.append(batch(3))]).toEqual([1, 2, 3]);
    a.remove(1);
    a.unlock();
    const b = spoolAt(dir);
    expect(b.batches).toBe(2);
    expect(b.head()!.seq).toBe(2);
    expect(JSON.parse(b.read(2)).batch_id).toBe('b2');
    expect(b.append(batch(4))).toBe(4);
    expect(readdirSync(join(dir, 'queue'))).toEqual(['0000000000000002.json', '0000000000000003.json', '0000000000000004.json']);
  });

  it('refuses a batch that would pass the bound, loudly, and takes it once space frees', async () => {
    const s = spoolAt(fresh(), 3000);
    s.append(batch(1, 2000));
    expect(() => s.append(batch(2, 2000))).toThrow(SpoolFullError);
    const space = s.waitForSpace();
    s.remove(1);
    await space;
    expect(s.append(batch(2, 2000))).toBe(2);
  });

  it('a rejected batch leaves the queue for rejected/', () => {
    const s = spoolAt(fresh());
    s.append(batch(1));
    s.append(batch(2));
    s.reject(1);
    expect(s.head()!.seq).toBe(2);
    expect(readdirSync(s.rejectedDir)).toEqual(['0000000000000001.json']);
  });
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
});

// DirWatcher: which files of a watched directory rotation has finished
// writing. A file is complete once a file named after it (numeric-aware name
// order) and modified no earlier exists, or its size and mtime have settled;
// the directory is walked as analyze walks one (its folders, links to files
// and folders followed, a link loop walked once, no dot files, not the
// spool); complete files come in first-packet order, and files that are not
// captures are skipped with the reason.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { expandInputs } from '../../../sensor/capture/inputs.js';
import type { FileState } from '../../../sensor/run/state.js';
import { byName, DirWatcher } from '../../../sensor/run/watch.js';
import { fixture } from '../../helpers/corpus.js';
import { readWithPcapParser } from '../../helpers/pcap.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-watch-'));
let n = 0;
const fresh = () => {
  const d = join(tmp, String(++n));
  mkdirSync(d);
  return d;
};
const nothingRead = (): FileState => ({ kind: 'new' });
const at = (path: string, seconds: number) => utimesSync(path, seconds, seconds);

describe('directory watcher', () => {
  it('a file is complete when a newer file exists or its size has settled', async () => {
    const dir = fresh();
    let now = 1_000_000;
    const done = new Set<string>();
    const w = new DirWatcher(dir, 10_000, (path) => ({ kind: done.has(path) ? 'done' : 'new' }), () => now);
    copyFileSync(fixture('Withings'), join(dir, '100.pcap'));
    expect((await w.scan()).ready).toEqual([]);
    now += 5_000;
    expect((await w.scan()).ready).toEqual([]);
    now += 5_000;
    expect((await w.scan()).ready.map((f) => f.path)).toEqual([join(dir, '100.pcap')]);
    done.add(join(dir, '100.pcap'));
    // Numeric name order: 200 comes before 1000, so 1000 being there completes 200.
    copyFileSync(fixture('Withings'), join(dir, '200.pcap'));
    utimesSync(join(dir, '200.pcap'), new Date(1e12), new Date(1e12));
    expect((await w.scan()).ready).toEqual([]);
    copyFileSync(fixture('TP-LinkPlugHS110'), join(dir, '1000.pcap'));
    expect((await w.scan()).ready.map((f) => f.path)).toEqual([join(dir, '200.pcap')]);
    done.add(join(dir, '200.pcap'));
    // A file still growing is not settled.
    writeFileSync(join(dir, '1000.pcap'), Buffer.alloc(100));
    now += 9_000;
    expect((await w.scan()).ready).toEqual([]);
    // --once takes everything; a file that is not a capture is skipped with the reason.
    writeFileSync(join(dir, 'notes.txt'), 'hello');
    const all = await w.scan(true);
    expect(all.skipped.map((s) => s.file.path).sort()).toEqual([join(dir, '1000.pcap'), join(dir, 'notes.txt')]);
    expect(all.ready).toEqual([]);
  });

  it('dot files and dot folders are not input; other folders are, as analyze reads them', async () => {
    const dir = fresh();
    copyFileSync(fixture('Withings'), join(dir, '.1000.pcap'));
    mkdirSync(join(dir, 'older'));
    copyFileSync(fixture('Withings'), join(dir, 'older', '1000.pcap'));
    mkdirSync(join(dir, '.hidden'));
    copyFileSync(fixture('Withings'), join(dir, '.hidden', '1000.pcap'));
    copyFileSync(fixture('HueBridge'), join(dir, '2000.pcap'));
    const w = new DirWatcher(dir, 10_000, nothingRead);
    const all = await w.scan(true);
    expect(all.ready.map((f) => f.path).sort()).toEqual([join(dir, '2000.pcap'), join(dir, 'older', '1000.pcap')]);
    expect(all.skipped).toEqual([]);
    expect([...all.present].sort()).toEqual(expandInputs([dir]).files.map((f) => f.path).sort());
  });

  it('links to files and to folders are followed, a link loop is walked once, a link to nothing and the spool are left out', async () => {
    const dir = fresh();
    const elsewhere = fresh();
    copyFileSync(fixture('Withings'), join(elsewhere, '1000.pcap'));
    mkdirSync(join(elsewhere, 'day2'));
    copyFileSync(fixture('HueBridge'), join(elsewhere, 'day2', '2000.pcap'));
    symlinkSync(join(elsewhere, '1000.pcap'), join(dir, 'a.pcap'));
    symlinkSync(join(elsewhere, 'day2'), join(dir, 'b'));
    // b/loop leads back to dir: without loop protection the walk would never end.
    symlinkSync(dir, join(elsewhere, 'day2', 'loop'));
    symlinkSync(join(elsewhere, 'gone.pcap'), join(dir, 'c.pcap'));
    mkdirSync(join(dir, 'spool', 'queue'), { recursive: true });
    writeFileSync(join(dir, 'spool', 'queue', '0000000000000001.json'), '{}');
    const w = new DirWatcher(dir, 10_000, nothingRead, Date.now, join(dir, 'spool'));
    const all = await w.scan(true);
    expect(all.ready.map((f) => f.path).sort()).toEqual([join(dir, 'a.pcap'), join(dir, 'b', '2000.pcap')]);
    expect(all.skipped).toEqual([]);
    // The size is the capture's, not the link's.
    expect(all.ready.find((f) => f.path === join(dir, 'a.pcap'))!.size).toBe(readFileSync(fixture('Withings')).length);
    // analyze walks the same files (it also reads the spool's, which it does not know).
    expect(expandInputs([dir]).files.map((f) => f.path).filter((p) => !p.includes('spool')).sort()).toEqual([join(dir, 'a.pcap'), join(dir, 'b', '2000.pcap')]);
  });

  it('a newer file completes the files of its own folder only', async () => {
    const dir = fresh();
    mkdirSync(join(dir, 'a'));
    mkdirSync(join(dir, 'b'));
    copyFileSync(fixture('Withings'), join(dir, 'a', '100.pcap'));
    copyFileSync(fixture('HueBridge'), join(dir, 'b', '200.pcap'));
    at(join(dir, 'a', '100.pcap'), 1_000_000);
    at(join(dir, 'b', '200.pcap'), 2_000_000);
    const w = new DirWatcher(dir, 10_000, nothingRead);
    expect((await w.scan()).ready).toEqual([]);
    copyFileSync(fixture('TP-LinkPlugHS110'), join(dir, 'a', '300.pcap'));
    expect((await w.scan()).ready.map((f) => f.path)).toEqual([join(dir, 'a', '100.pcap')]);
  });

  it('complete files come in the order of their first packet, then name; not-captures are skipped with the reason', async () => {
    const dir = fresh();
    // Names in the opposite order of the captures' times.
    const captures = ['HueSwitch', 'HueBridge', 'TP-LinkPlugHS110', 'Withings', 'WeMoSwitch'];
    const names = ['a.pcap', 'b.pcap', 'c.pcap', 'd.pcap', 'e.pcap'];
    captures.forEach((c, i) => copyFileSync(fixture(c), join(dir, names[i])));
    // A pcapng copy of a capture starts at the same packet: the name decides.
    execFileSync('editcap', ['-F', 'pcapng', fixture('Withings'), join(dir, 'f.pcapng')]);
    writeFileSync(join(dir, 'notes.txt'), 'MAC list\n');
    const first = new Map<string, number>();
    for (const [i, c] of captures.entries()) {
      const { packets } = await readWithPcapParser(fixture(c));
      first.set(join(dir, names[i]), packets[0].tsSec + packets[0].tsUsec / 1e6);
    }
    first.set(join(dir, 'f.pcapng'), first.get(join(dir, 'd.pcap'))!);
    const expected = [...first.keys()].sort((a, b) => first.get(a)! - first.get(b)! || (a < b ? -1 : 1));
    // The times differ: the order is not the name order.
    expect(expected).not.toEqual([...first.keys()].sort());
    const all = await new DirWatcher(dir, 10_000, nothingRead).scan(true);
    expect(all.ready.map((f) => f.path)).toEqual(expected);
    expect(all.skipped.map((s) => s.file.path)).toEqual([join(dir, 'notes.txt')]);
    expect(all.skipped[0].reason).toContain(join(dir, 'notes.txt'));
    expect(all.skipped[0].reason).toContain('not a pcap or pcapng capture');
  });

  it('a later-named file modified earlier does not complete a file; once modified later, it does', async () => {
    const dir = fresh();
    const now = 1_000_000;
    const w = new DirWatcher(dir, 60_000, nothingRead, () => now);
    copyFileSync(fixture('Withings'), join(dir, '200.pcap'));
    copyFileSync(fixture('HueBridge'), join(dir, '300.pcap'));
    at(join(dir, '200.pcap'), 2_000_000);
    // 300.pcap was last written before 200.pcap (a file copied in late, a clock step): not the writer moving on.
    at(join(dir, '300.pcap'), 1_999_000);
    expect((await w.scan()).ready).toEqual([]);
    at(join(dir, '300.pcap'), 2_000_000);
    expect((await w.scan()).ready.map((f) => f.path)).toEqual([join(dir, '200.pcap')]);
  });

  it("names are ordered as tcpdump -C rotates them: cap, cap1, cap2, ..., cap10; cap10 completes cap2", async () => {
    expect(['cap10', 'cap', 'cap2', 'cap1', 'cap11'].sort(byName)).toEqual(['cap', 'cap1', 'cap2', 'cap10', 'cap11']);
    expect(['1000.pcap', '200.pcap', '30.pcap'].sort(byName)).toEqual(['30.pcap', '200.pcap', '1000.pcap']);
    const dir = fresh();
    const done = new Set<string>();
    const w = new DirWatcher(dir, 60_000, (p) => ({ kind: done.has(p) ? 'done' : 'new' }), () => 1_000_000);
    for (const name of ['cap', 'cap1', 'cap2']) {
      copyFileSync(fixture('Withings'), join(dir, name));
      at(join(dir, name), 2_000_000);
    }
    // cap2 is the file being written: cap and cap1 are complete.
    expect((await w.scan()).ready.map((f) => f.path)).toEqual([join(dir, 'cap'), join(dir, 'cap1')]);
    done.add(join(dir, 'cap'));
    done.add(join(dir, 'cap1'));
    copyFileSync(fixture('Withings'), join(dir, 'cap10'));
    at(join(dir, 'cap10'), 2_000_000);
    expect((await w.scan()).ready.map((f) => f.path)).toEqual([join(dir, 'cap2')]);
  });

  it('a grown classic pcap is read on from the offset; a grown gzip or pcapng file is read whole', async () => {
    const dir = fresh();
    copyFileSync(fixture('Withings'), join(dir, '1.pcap'));
    execFileSync('editcap', ['-F', 'pcapng', fixture('Withings'), join(dir, '2.pcapng')]);
    writeFileSync(join(dir, '3.pcap.gz'), gzipSync(readFileSync(fixture('Withings'))));
    const w = new DirWatcher(dir, 10_000, () => ({ kind: 'grown', resumeAt: 4900 }));
    const all = await w.scan(true);
    expect(all.ready.map((f) => [f.path, f.resumeAt]).sort()).toEqual([[join(dir, '1.pcap'), 4900], [join(dir, '2.pcapng'), null], [join(dir, '3.pcap.gz'), null]]);
    for (const f of all.ready) expect(f.size, f.path).toBe(readFileSync(f.path).length);
  });

  it('a file read before is left out until it changes; then it settles again before it is complete', async () => {
    const dir = fresh();
    let now = 1_000_000;
    const f = join(dir, '100.pcap');
    copyFileSync(fixture('Withings'), f);
    let state: FileState = { kind: 'done' };
    const w = new DirWatcher(dir, 10_000, () => state, () => now);
    now += 20_000;
    expect((await w.scan(true)).ready).toEqual([]);
    // Changed since it was read: the record says so, and the settle time starts now.
    state = { kind: 'new' };
    expect((await w.scan()).ready).toEqual([]);
    now += 10_000;
    expect((await w.scan()).ready.map((x) => x.path)).toEqual([f]);
  });
});

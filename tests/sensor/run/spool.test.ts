// The spool, in-process: batches in order across a restart, the size bound
// (evidence captures included), rejected batches, the checksum line that
// finds a garbled batch and the events still whole in it, foreign entries in
// queue/ skipped. The record of processed files is tests/sensor/run/state.test.ts;
// one sensor per spool is tests/sensor/run/lock.test.ts.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SpoolFullError } from '../../../sensor/errors.js';
import { GarbledBatch, Spool } from '../../../sensor/run/spool.js';
import type { IngestBatch } from '../../../contract/types.js';
import { batchBody, freshDirs } from './helpers.js';

const fresh = freshDirs('phonehome-spool-');
const batch = batchBody;
const PREFIX = '{"batch_id":"b1","sensor":{"name":"s","version":"1","lag_s":null},"events":[';

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

  it('a rejected batch leaves the queue; what is kept of it (the refused events and why) is in rejected/', () => {
    const s = spoolAt(fresh());
    s.append(batch(1));
    s.append(batch(2));
    const record = '{"batch_id":"b1","events":[],"refused":[]}\n';
    expect(s.reject(1, record)).toBe(join(s.rejectedDir, '0000000000000001.json'));
    expect(s.head()!.seq).toBe(2);
    expect(s.batches).toBe(1);
    expect(readdirSync(s.rejectedDir)).toEqual(['0000000000000001.json']);
    expect(readFileSync(join(s.rejectedDir, '0000000000000001.json'), 'utf8')).toBe(record);
  });

  it('a batch file carries a sha256 line; the body read back is byte for byte the one appended', () => {
    const s = spoolAt(fresh());
    // names off the wire arrive as Latin-1 and astral text: the checksums are of the UTF-8 bytes
    const wide = JSON.stringify({ kind: 'dns', key: 'dns:1', data: { query: 'caf\u00e9-\u0085-😀.local' } });
    const plain = batch(1, 10);
    const body = `${plain.slice(0, plain.lastIndexOf(']'))},${wide}]}`;
    const seq = s.append(body);
    const file = readFileSync(join(s.queueDir, '0000000000000001.json'), 'utf8');
    const [line, rest] = [file.slice(0, file.indexOf('\n')), file.slice(file.indexOf('\n') + 1)];
    expect(rest).toBe(body);
    const header = JSON.parse(line);
    expect(header.sha256).toBe(createHash('sha256').update(body, 'utf8').digest('hex'));
    expect(header.events.at(-1)).toBe(createHash('sha256').update(wide, 'utf8').digest('hex').slice(0, 16));
    expect(header.events).toHaveLength(2);
    expect(s.read(seq)).toBe(body);
    expect(s.bytes).toBe(Buffer.byteLength(file));
  });

  it('a garbled batch is detected by its checksum; the events still whole are recovered, in order', () => {
    const dir = fresh();
    const a = new Spool(dir, 1 << 20);
    const events = [0, 1, 2, 3].map((i) => JSON.stringify({ kind: 'flow', key: `flow:${i}`, data: { uid: `C${i}`, n: i } }));
    const body = `{"batch_id":"b","sensor":{"name":"s","version":"1","lag_s":null},"events":[${events.join(',')}]}`;
    a.append(body);
    a.unlock();
    // One byte of the third event changes on disk ("n":2 becomes "n":7).
    const path = join(dir, 'queue', '0000000000000001.json');
    writeFileSync(path, readFileSync(path, 'utf8').replace('"uid":"C2","n":2', '"uid":"C2","n":7'));
    const b = spoolAt(dir);
    let err: unknown;
    try {
      b.read(1);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GarbledBatch);
    const g = err as GarbledBatch;
    expect(g.code).toBe('SPOOL_GARBLED');
    expect(g.path).toBe(path);
    expect(g.decoded.salvaged).toEqual([events[0], events[1], events[3]]);
    expect(g.decoded.expected).toBe(4);
    // What is whole takes the batch's place in the queue; the original is kept for a human.
    const to = b.replaceGarbled(1, `${g.decoded.prefix}${g.decoded.salvaged.join(',')}]}`, g.decoded.salvaged);
    expect(to).toBe(join(b.rejectedDir, '0000000000000001.garbled'));
    expect(readFileSync(to, 'utf8')).toContain('"n":7');
    expect((JSON.parse(b.read(1)) as IngestBatch).events.map((e) => e.key)).toEqual(['flow:0', 'flow:1', 'flow:3']);
    expect(b.head()!.seq).toBe(1);
    // A garbled original keeps its sequence number from being reused.
    b.remove(1);
    expect(b.append(batch(9))).toBe(2);
  });

  it('a batch written without a checksum line (an older sensor) is read when it is valid JSON', () => {
    const dir = fresh();
    mkdirSync(join(dir, 'queue'));
    writeFileSync(join(dir, 'queue', '0000000000000007.json'), batch(7));
    writeFileSync(join(dir, 'queue', '0000000000000008.json'), batch(8).slice(0, 40));
    const s = spoolAt(dir);
    expect(s.read(7)).toBe(batch(7));
    expect(() => s.read(8)).toThrow(/0000000000000008\.json is garbled: not valid JSON/);
  });

  it('foreign entries in queue/ (a directory named like a batch, another name) are skipped and listed, not fatal', () => {
    const dir = fresh();
    mkdirSync(join(dir, 'queue', '0000000000000003.json'), { recursive: true });
    writeFileSync(join(dir, 'queue', 'notes.txt'), 'mine\n');
    writeFileSync(join(dir, 'queue', '0000000000000002.json.tmp'), 'half');
    const s = spoolAt(dir);
    expect(s.batches).toBe(0);
    expect(s.foreign.sort()).toEqual([join(dir, 'queue', '0000000000000003.json'), join(dir, 'queue', 'notes.txt')]);
    // The directory's name is never written over: new batches come after it.
    expect(s.append(batch(1))).toBe(1);
    expect(readdirSync(join(dir, 'queue')).sort()).toEqual(['0000000000000001.json', '0000000000000003.json', 'notes.txt']);
  });

  it('a batch whose fsync is under way is not sent yet, counts against the bound, and lands in order, byte for byte', async () => {
    const dir = fresh();
    const s = spoolAt(dir, 3000);
    const events = [JSON.stringify({ kind: 'flow', key: 'flow:1', data: { name: 'café ☃ 𝄞', pad: 'x'.repeat(1500) } })];
    const landed = s.appendEventsSoon(PREFIX, events);
    // Written but not synced: delivery must not see it, and nothing may overtake it.
    expect([s.batches, s.head()]).toEqual([0, null]);
    expect(readdirSync(join(dir, 'queue'))).toEqual(['0000000000000001.json.tmp']);
    expect(() => s.append(batch(2, 1500))).toThrow(SpoolFullError);
    expect(() => s.appendEventsSoon(PREFIX, events)).toThrow(/still being written/);
    expect(await landed).toBe(1);
    expect(readdirSync(join(dir, 'queue'))).toEqual(['0000000000000001.json']);
    expect(s.head()).toEqual({ seq: 1, bytes: statSync(join(dir, 'queue', '0000000000000001.json')).size });
    expect(s.read(1)).toBe(`${PREFIX}${events[0]}]}`);
    expect(s.bytes).toBe(s.head()!.bytes);
  });

  it('a batch appended while another is being synced goes after it, as its number says', async () => {
    const s = spoolAt(fresh());
    const landed = s.appendEventsSoon(PREFIX, [JSON.stringify({ kind: 'flow', key: 'flow:1', data: {} })]);
    expect(s.append(batch(2))).toBe(2);
    expect(await landed).toBe(1);
    expect([s.batches, s.head()!.seq]).toEqual([2, 1]);
    s.remove(1);
    expect(s.head()!.seq).toBe(2);
  });

  it('a batch whose write fails after it was taken leaves nothing in the queue and gives its room back', async () => {
    const dir = fresh();
    const s = spoolAt(dir, 3000);
    const events = [JSON.stringify({ kind: 'flow', key: 'flow:1', data: { pad: 'x'.repeat(1500) } })];
    const landed = s.appendEventsSoon(PREFIX, events);
    // The queue directory goes away while the batch is synced: its rename cannot happen.
    rmSync(join(dir, 'queue'), { recursive: true });
    await expect(landed).rejects.toMatchObject({ code: 'ENOENT' });
    expect([s.batches, s.bytes, s.head()]).toEqual([0, 0, null]);
    mkdirSync(join(dir, 'queue'));
    // Its room is free again, and the next batch takes the next name.
    expect(await s.appendEventsSoon(PREFIX, events)).toBe(2);
    expect(readdirSync(join(dir, 'queue'))).toEqual(['0000000000000002.json']);
  });

  it('bytes held outside the queue (evidence captures being cut) count against the bound', () => {
    const s = spoolAt(fresh(), 3000);
    s.holdExternal(2500);
    expect(() => s.append(batch(1, 1000))).toThrow(SpoolFullError);
    s.releaseExternal(2500);
    expect(s.append(batch(1, 1000))).toBe(1);
  });
});

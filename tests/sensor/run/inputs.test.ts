// How the sensor reads its input (run/inputs.ts). As a real process, a
// watched directory: a file is read once a newer one exists and never again
// after a restart; a file that grows after it settled is read on, not twice.
// In-process, what those runs do not reach: which kind of input a path is, a
// file cut short by a stop (not remembered: the next run reads it whole), a
// grown pcapng or gzip file (read again whole, where a classic pcap is read
// on), files that are not captures (skipped once, with the reason), and a
// corrupt record or a stdin that is no capture (what the exit code is made of).
import { execFileSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertRecord, FlowRecord } from '../../../contract/types.js';
import { CaptureError } from '../../../sensor/errors.js';
import type { AnalysisOptions } from '../../../sensor/pipeline/setup.js';
import { Pipeline } from '../../../sensor/pipeline/pipeline.js';
import { Batcher, Sender } from '../../../sensor/run/deliver.js';
import { Drain } from '../../../sensor/run/drain.js';
import { Events } from '../../../sensor/run/events.js';
import { EvidenceSender } from '../../../sensor/run/evidence.js';
import { InputReader, inputKind, type InputKind, type InputOptions } from '../../../sensor/run/inputs.js';
import { SensorMetrics } from '../../../sensor/run/metrics.js';
import { Spool } from '../../../sensor/run/spool.js';
import { ProcessedFiles } from '../../../sensor/run/state.js';
import { packet, udpFrame } from '../../helpers/build.js';
import { fixture } from '../../helpers/corpus.js';
import { writePcap, type TestPacket } from '../../helpers/pcap.js';
import { analyzed, jsonl, logLines, TOKEN, useSensorRig, waitFor } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-inputs-'));
let n = 0;
const fresh = (name: string) => {
  const d = join(tmp, `${name}-${++n}`);
  mkdirSync(d, { recursive: true });
  return d;
};


const { collector, sensor } = useSensorRig();
const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.close();
});

/** Packets tshark reads from a capture (it stops at a cut record, as the sensor does). */
function tsharkCount(file: string): number {
  let out = '';
  try {
    out = execFileSync('tshark', ['-n', '-r', file, '-T', 'fields', '-e', 'frame.number'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  } catch (e) {
    out = (e as { stdout: Buffer }).stdout.toString();
  }
  return out.split('\n').filter(Boolean).length;
}

/** Where the first `count` records of a little-endian classic pcap end. */
function recordsEnd(buf: Buffer, count: number): number {
  let o = 24;
  for (let i = 0; i < count; i++) o += 16 + buf.readUInt32LE(o + 8);
  return o;
}

describe('a watched directory', () => {
  it('reads a file once a newer one exists, and never again after a restart', async () => {
    const dir = fresh('rotating');
    const spool = fresh('spool');
    const c = await collector();
    // A long settle time: only the newer-file rule can complete a file here.
    const args = ['--input', dir, '--collector', c.url, '--token', TOKEN, '--spool', spool, '--settle', '60'];
    const r = sensor(args);
    await waitFor('sensor start', () => r.stderr().includes('sensor started'));
    copyFileSync(fixture('HueBridge'), join(dir, '1473259530.pcap'));
    await new Promise((ok) => setTimeout(ok, 1500));
    expect(c.flows()).toEqual([]);
    // The writer moved on to the next file: the first one is complete.
    copyFileSync(fixture('TP-LinkPlugHS110'), join(dir, '1473259830.pcap'));
    await waitFor('first file processed', () => logLines(r.stderr()).some((l) => l.msg === 'file processed'));
    r.child.kill('SIGTERM');
    expect(await r.exit).toBe(0);
    const hue = analyzed(fresh('analyze'), [fixture('HueBridge')]);
    // Flows still live at the stop were ended and sent: the whole first file arrived.
    expect(c.flows()).toEqual(hue.flows);
    // Beacons were scored at the file boundary and again at the stop: the last version is analyze's.
    const final = c.finalAlerts();
    expect([...final.keys()].sort()).toEqual(hue.alerts.map((a) => a.id).sort());
    for (const a of hue.alerts) expect(final.get(a.id)).toEqual(a);
    // A capture per alert, cut again when the alert kept more flows (flows ended at the stop): the key names how many.
    const cuts = c.events('evidence').map((e) => e.key);
    expect(new Set(cuts).size).toBe(cuts.length);
    expect([...new Set(cuts.map((k) => k.replace(/:\d+$/, '')))].sort()).toEqual(hue.alerts.map((a) => `evidence:${a.id}`).sort());
    expect(existsSync(join(spool, 'state.json'))).toBe(true);

    // Restarted: the first file is remembered, the second (never complete before) is read now.
    const again = sensor([...args, '--once']);
    expect(await again.exit).toBe(0);
    const plug = analyzed(fresh('analyze'), [fixture('TP-LinkPlugHS110')]);
    expect(c.flows()).toEqual([...hue.flows, ...plug.flows]);
    const keys = c.events('flow').map((e) => e.key);
    expect(new Set(keys).size).toBe(keys.length);
    const processed = logLines(again.stderr()).filter((l) => l.msg === 'file processed').map((l) => l.file);
    expect(processed).toEqual([join(dir, '1473259830.pcap')]);
  }, 20_000);

  it('a file that grows after it settled (tcpdump -U on a quiet network) is read on, not twice', async () => {
    const dir = fresh('quiet');
    const spool = fresh('spool');
    const c = await collector();
    const capture = fixture('HueSwitch');
    const whole = readFileSync(capture);
    const file = join(dir, '1473260204.pcap');
    // Cut inside a record, as a writer leaves a file between two writes.
    writeFileSync(file, whole.subarray(0, 200_001));
    const r = sensor(['--input', dir, '--collector', c.url, '--token', TOKEN, '--spool', spool, '--settle', '0.3']);
    const processed = () => logLines(r.stderr()).filter((l) => l.msg === 'file processed');
    await waitFor('first part read', () => processed().length === 1);
    appendFileSync(file, whole.subarray(200_001));
    await waitFor('the rest read', () => processed().length === 2);
    expect(logLines(r.stderr()).some((l) => l.msg === 'file grew after it was read: reading on from where reading stopped')).toBe(true);
    r.child.kill('SIGTERM');
    expect(await r.exit).toBe(0);
    expect(processed().reduce((n, l) => n + (l.packets as number), 0)).toBe(2397);
    // Every packet once, in order, through one pipeline: the flows of the whole file.
    expect(c.flows()).toEqual(analyzed(fresh('analyze'), [capture]).flows);
  }, 20_000);
});

describe('a watched directory of links', () => {
  it('links to captures and to folders of captures are read, as analyze reads them', async () => {
    const dir = fresh('links');
    const store = fresh('store');
    copyFileSync(fixture('HueBridge'), join(store, '1473259530.pcap'));
    mkdirSync(join(store, 'later'));
    copyFileSync(fixture('TP-LinkPlugHS110'), join(store, 'later', '1473259830.pcap'));
    symlinkSync(join(store, '1473259530.pcap'), join(dir, 'first.pcap'));
    symlinkSync(join(store, 'later'), join(dir, 'later'));
    // A loop back to the directory itself is walked once.
    symlinkSync(dir, join(store, 'later', 'again'));
    const c = await collector();
    const r = sensor(['--input', dir, '--collector', c.url, '--token', TOKEN, '--spool', fresh('spool'), '--once']);
    expect(await r.exit, r.stderr()).toBe(0);
    const want = analyzed(fresh('analyze'), [dir]);
    expect(want.flows.length).toBeGreaterThan(0);
    expect(c.flows()).toEqual(want.flows);
    expect([...c.finalAlerts().keys()].sort()).toEqual(want.alerts.map((a) => a.id).sort());
    expect(logLines(r.stderr()).filter((l) => l.msg === 'file processed').map((l) => l.file).sort()).toEqual([join(dir, 'first.pcap'), join(dir, 'later', '1473259830.pcap')]);
  }, 20_000);
});

describe('--once: files are remembered only once everything they produced is in the spool', () => {
  it('no file counts as read before the end; a run stopped part-way remembers none, not even the files it finished', async () => {
    const dir = fresh('once');
    copyFileSync(fixture('HueBridge'), join(dir, '1.pcap'));
    copyFileSync(fixture('Withings'), join(dir, '2.pcap'));
    const files = [join(dir, '1.pcap'), join(dir, '2.pcap')];
    const states = (spoolDir: string) => files.map((f) => {
      const st = statSync(f);
      return new ProcessedFiles(spoolDir).state(f, st.size, st.mtimeMs).kind;
    });
    const spoolDir = fresh('spool');
    const whole = await rig(spoolDir);
    await whole.inputs.readAll({ input: dir, once: true, settleS: 10 }, 'dir');
    expect(processed(whole)).toHaveLength(2);
    // Read, flows spooled, but the end's alerts, devices and evidence are not: a kill now must redo both files.
    expect(states(spoolDir)).toEqual(['new', 'new']);
    whole.inputs.markRead();
    expect(states(spoolDir)).toEqual(['done', 'done']);

    const stoppedSpool = fresh('spool');
    const stopped: Rig = await rig(stoppedSpool, { onLog: (l) => l.msg === 'file processed' && stopped.drain.stop('SIGTERM') });
    await stopped.read({ input: dir }, 'dir');
    expect(processed(stopped)).toHaveLength(1);
    expect(states(stoppedSpool)).toEqual(['new', 'new']);
  });
});

/** An InputReader with the parts the sensor gives it (real pipeline, spool, batcher and drain); the sender never starts. */
interface Rig {
  inputs: InputReader;
  drain: Drain;
  batcher: Batcher;
  pipeline: Pipeline;
  logs: Record<string, any>[];
  read(o: Partial<InputOptions> & { input: string }, kind: InputKind): Promise<void>;
  close(): Promise<void>;
}

async function rig(spoolDir: string, opts: { maxBytes?: number; analysis?: AnalysisOptions; onLog?: (l: Record<string, any>) => void } = {}): Promise<Rig> {
  const logs: Record<string, any>[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => {
    logs.push(JSON.parse(l));
    opts.onLog?.(logs.at(-1)!);
  } });
  const spool = new Spool(spoolDir, opts.maxBytes ?? 1 << 30);
  const events = new Events((e) => batcher.add(e));
  const pipeline = await Pipeline.create({ profilesDir: null, ...opts.analysis }, { flow: (r) => events.flow(r), alert: (a) => events.alert(a) });
  const metrics = new SensorMetrics({ packets: () => 0, bytes: () => 0, decodeWarnings: () => ({}), flowsActive: () => 0, spoolBatches: () => 0, spoolBytes: () => 0, lagSeconds: () => null });
  const sender = new Sender(spool, { url: 'http://127.0.0.1:9', token: TOKEN }, log, metrics);
  const batcher = new Batcher(spool, () => ({ name: 'rig', version: 'test', lag_s: null }), log, metrics, () => {});
  const evidence = new EvidenceSender(spool.dir, pipeline, events, log, true);
  const drain = new Drain({ once: true, drainTimeoutS: 1 }, spool, batcher, sender, log);
  const inputs = new InputReader({ pipeline, batcher, drain, evidence, log, spool, checkpoint: async () => undefined, devices: () => undefined });
  const r: Rig = {
    inputs, drain, batcher, pipeline, logs,
    // As the sensor's end does once the last checkpoint is in the spool.
    read: async (o, kind) => {
      await inputs.readAll({ once: true, settleS: 10, ...o }, kind);
      inputs.markRead();
    },
    close: async () => {
      await batcher.close();
      await sender.stop();
      evidence.dispose();
      spool.unlock();
    },
  };
  rigs.push(r);
  return r;
}

const processed = (r: Rig) => r.logs.filter((l) => l.msg === 'file processed');

describe('inputKind', () => {
  it("'-' is stdin, a folder a watched directory, a capture (also gzip) a file", () => {
    const dir = fresh('kinds');
    const gz = join(dir, 'c.pcap.gz');
    writeFileSync(gz, gzipSync(readFileSync(fixture('Withings'))));
    expect(inputKind('-')).toBe('stdin');
    expect(inputKind(dir)).toBe('dir');
    expect(inputKind(fixture('Withings'))).toBe('file');
    expect(inputKind(gz)).toBe('file');
  });

  it('a missing path or a file that is not a capture is a CaptureError for exit 2, naming the path', () => {
    const dir = fresh('kinds');
    const missing = join(dir, 'nope.pcap');
    const notes = join(dir, 'notes.txt');
    writeFileSync(notes, 'hello\n');
    for (const [path, code, text] of [[missing, 'IO', 'no such file or directory'], [notes, 'NOT_A_CAPTURE', 'not a pcap or pcapng capture']] as const) {
      let err: unknown = null;
      try {
        inputKind(path);
      } catch (e) {
        err = e;
      }
      expect(err, path).toBeInstanceOf(CaptureError);
      expect((err as CaptureError).code).toBe(code);
      expect((err as CaptureError).exitCode).toBe(2);
      expect((err as CaptureError).message).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*${text}`));
    }
  });
});

describe('InputReader in-process', () => {
  it('a file cut short by a stop is not remembered: the next run reads it again, whole', async () => {
    // 40,000 distinct UDP flows over 200 s of capture time, with room for 100 live flows:
    // flows end (evicted) while the file is read, more than the batcher holds once the spool is full.
    const dir = fresh('stopped');
    const pkts: TestPacket[] = [];
    for (let i = 0; i < 40_000; i++) {
      const src = { mac: '02:00:00:00:00:01', ip: `10.1.${(i >> 8) & 255}.${i & 255}`, port: 1024 + (i % 60000) };
      pkts.push(packet(1_700_000_000 + i * 0.005, udpFrame(src, { mac: '02:00:00:00:00:02', ip: '198.51.100.7', port: 9999 }, Buffer.alloc(40))));
    }
    const file = join(dir, '1700000000.pcap');
    writePcap(file, 1, pkts);
    const spoolDir = fresh('spool');
    const analysis = { maxFlows: 100 };
    // A spool that takes one batch: then it is full, and nothing delivers.
    const first = await rig(spoolDir, { maxBytes: 1, analysis });
    const reading = first.read({ input: dir }, 'dir');
    await waitFor('the spool to fill and reading to pause', () => first.batcher.spoolFull && first.batcher.pending >= 2500);
    first.drain.stop('SIGTERM');
    await reading;
    const read = first.pipeline.meter.packets;
    expect(read).toBeGreaterThan(0);
    expect(read).toBeLessThan(40_000);
    expect(processed(first)).toEqual([]);
    const st = statSync(file);
    expect(new ProcessedFiles(spoolDir).state(file, st.size, st.mtimeMs)).toEqual({ kind: 'new' });
    await first.close();

    const again = await rig(spoolDir, { analysis });
    await again.read({ input: dir }, 'dir');
    expect(processed(again).map((l) => [l.file, l.packets])).toEqual([[file, 40_000]]);
    expect(again.logs.some((l) => String(l.msg).startsWith('file grew'))).toBe(false);
    expect(new ProcessedFiles(spoolDir).state(file, st.size, st.mtimeMs)).toEqual({ kind: 'done' });
  }, 60_000);

  it('a grown classic pcap is read on from where reading stopped; a grown pcapng or gzip file is read again whole', async () => {
    const source = fixture('Withings');
    const total = tsharkCount(source);
    const dir = fresh('grown');
    const parts = fresh('parts');
    const whole = readFileSync(source);
    const firstPart = join(parts, 'first30.pcap');
    writeFileSync(firstPart, whole.subarray(0, recordsEnd(whole, 30)));
    expect(tsharkCount(firstPart)).toBe(30);
    const spoolDir = fresh('spool');
    const files = { pcap: join(dir, '1.pcap'), pcapng: join(dir, '2.pcapng'), gzip: join(dir, '3.pcap.gz') };
    copyFileSync(firstPart, files.pcap);
    execFileSync('editcap', ['-F', 'pcapng', firstPart, files.pcapng]);
    writeFileSync(files.gzip, gzipSync(readFileSync(firstPart)));
    const first = await rig(spoolDir);
    await first.read({ input: dir }, 'dir');
    expect(processed(first).map((l) => [l.file, l.packets]).sort()).toEqual([[files.pcap, 30], [files.pcapng, 30], [files.gzip, 30]].sort());
    await first.close();

    // The writers went on: the classic pcap by appending records, the others rewritten whole.
    appendFileSync(files.pcap, whole.subarray(recordsEnd(whole, 30)));
    expect(tsharkCount(files.pcap)).toBe(total);
    execFileSync('editcap', ['-F', 'pcapng', source, files.pcapng]);
    writeFileSync(files.gzip, gzipSync(readFileSync(source)));
    const again = await rig(spoolDir);
    await again.read({ input: dir }, 'dir');
    expect(processed(again).map((l) => [l.file, l.packets]).sort()).toEqual([[files.pcap, total - 30], [files.pcapng, total], [files.gzip, total]].sort());
    expect(again.logs.filter((l) => String(l.msg).startsWith('file grew')).map((l) => l.file)).toEqual([files.pcap]);
  });

  it('a file in the directory that is not a capture is skipped with the reason once, and remembered', async () => {
    const dir = fresh('mixed');
    copyFileSync(fixture('Withings'), join(dir, '1.pcap'));
    writeFileSync(join(dir, 'macs.txt'), '00:24:e4:00:00:01\n');
    const spoolDir = fresh('spool');
    const first = await rig(spoolDir);
    await first.read({ input: dir }, 'dir');
    const warned = first.logs.filter((l) => String(l.msg).startsWith('skipped, not a capture'));
    expect(warned.map((l) => l.file)).toEqual([join(dir, 'macs.txt')]);
    expect(warned[0].msg).toContain('not a pcap or pcapng capture');
    expect(processed(first).map((l) => l.file)).toEqual([join(dir, '1.pcap')]);
    await first.close();
    const again = await rig(spoolDir);
    await again.read({ input: dir }, 'dir');
    expect(again.logs.filter((l) => String(l.msg).startsWith('skipped'))).toEqual([]);
    expect(processed(again)).toEqual([]);
    expect(again.inputs.failed).toBe(false);
  });

  it('a corrupt record fails the input (exit 1 with --once) and keeps what came before; a cut last record is only a warning', async () => {
    const dir = fresh('damaged');
    const buf = Buffer.from(readFileSync(fixture('Withings')));
    // the third record claims 1 MiB
    const o = recordsEnd(buf, 2);
    const corrupt = join(dir, 'corrupt.pcap');
    const bad = Buffer.from(buf);
    bad.writeUInt32LE(1 << 20, o + 8);
    writeFileSync(corrupt, bad);
    const r = await rig(fresh('spool'));
    await r.read({ input: corrupt }, 'file');
    expect(r.inputs.failed).toBe(true);
    expect(r.inputs.notCapture).toBeNull();
    expect(r.pipeline.meter.packets).toBe(2);
    expect(r.logs.find((l) => l.level === 50)).toMatchObject({ input: corrupt, code: 'CORRUPT_RECORD' });

    const cut = join(dir, 'cut.pcap');
    writeFileSync(cut, buf.subarray(0, buf.length - 10));
    const c = await rig(fresh('spool'));
    await c.read({ input: cut }, 'file');
    expect(c.inputs.failed).toBe(false);
    expect(c.pipeline.meter.packets).toBe(tsharkCount(cut));
    expect(c.logs.find((l) => l.level === 40)?.msg).toContain(`${cut}: capture ends inside a record`);
  });

  it('stdin that is not a capture is kept for the end (exit 2), and fails the input', async () => {
    const r = await rig(fresh('spool'));
    await r.read({ input: '-', stdin: Readable.from([Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]) }, 'stdin');
    expect(r.inputs.notCapture).toBeInstanceOf(CaptureError);
    expect(r.inputs.notCapture!.code).toBe('NOT_A_CAPTURE');
    expect(r.inputs.notCapture!.exitCode).toBe(2);
    expect(r.inputs.notCapture!.message).toMatch(/^-.*not a pcap or pcapng capture/);
    expect(r.inputs.failed).toBe(true);
  });
});

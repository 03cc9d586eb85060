// The sensor as a real process: an unreachable collector and a restart, a
// watched directory, SIGTERM in the middle of a live stream, /metrics, bad
// arguments.
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertRecord, FlowRecord } from '../../../contract/types.js';
import { phonehome } from '../../helpers/cli.js';
import { fixture } from '../../helpers/corpus.js';
import { FakeCollector, jsonl, logLines, startSensor, TOKEN, waitFor, type Running } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-sensor-'));
let n = 0;
const fresh = (name: string) => {
  const d = join(tmp, `${name}-${++n}`);
  mkdirSync(d, { recursive: true });
  return d;
};

/** What analyze --out writes for these captures. */
function analyzed(captures: string[]): { flows: FlowRecord[]; alerts: AlertRecord[] } {
  const out = fresh('analyze');
  const r = phonehome(['analyze', ...captures, '--out', out]);
  expect(r.code, r.stderr).toBe(0);
  return { flows: jsonl<FlowRecord>(join(out, 'flows.jsonl')), alerts: jsonl<AlertRecord>(join(out, 'alerts.jsonl')) };
}

const collectors: FakeCollector[] = [];
const running: Running[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) if (r.child.exitCode === null) r.child.kill('SIGKILL');
  for (const c of collectors.splice(0)) await c.close();
});
const collector = async (status = 200) => {
  const c = await new FakeCollector().start();
  c.status = status;
  collectors.push(c);
  return c;
};
const sensor = (args: string[], opts?: Parameters<typeof startSensor>[1]) => {
  const r = startSensor(args, opts);
  running.push(r);
  return r;
};

describe('delivery through the spool', () => {
  it('collector unreachable: batches are spooled; after a restart with the collector up, all arrive in order, once', async () => {
    const dir = fresh('captures');
    copyFileSync(fixture('HueSwitch'), join(dir, '1000.pcap'));
    const spool = fresh('spool');
    // A port nobody listens on: connection refused.
    const gone = await collector();
    const deadUrl = gone.url;
    await gone.close();
    const args = ['--input', dir, '--token', TOKEN, '--spool', spool, '--once', '--drain-timeout', '1'];
    const first = sensor([...args, '--collector', deadUrl]);
    expect(await first.exit).toBe(1);
    const errLine = first.stderr().split('\n').find((l) => l.startsWith('phonehome: '));
    expect(errLine).toMatch(/batch\(es\) not delivered .* stay in .*queue/);
    const failures = logLines(first.stderr()).filter((l) => l.reason === 'network');
    expect(failures.length).toBeGreaterThan(0);
    const queued = readdirSync(join(spool, 'queue'));
    expect(queued.length).toBeGreaterThan(0);
    expect(queued.every((f) => /^\d{16}\.json$/.test(f))).toBe(true);

    // The restart reads no capture again (state.json) and sends the spool, oldest first.
    const up = await collector();
    const second = sensor([...args, '--collector', up.url]);
    expect(await second.exit).toBe(0);
    const { flows, alerts } = analyzed([fixture('HueSwitch')]);
    expect(up.flows()).toEqual(flows);
    const keys = up.events().map((e) => e.key);
    expect(new Set(keys).size).toBe(keys.length);
    const final = up.finalAlerts();
    expect([...final.keys()].sort()).toEqual(alerts.map((a) => a.id).sort());
    for (const a of alerts) expect(final.get(a.id)).toEqual(a);
    expect(readdirSync(join(spool, 'queue'))).toEqual([]);
  }, 20_000);

  it('a batch the collector calls bad (400) is moved to rejected/, the rest is delivered', async () => {
    const c = await collector(400);
    const spool = fresh('spool');
    const r = sensor(['--input', fixture('Withings'), '--collector', c.url, '--token', TOKEN, '--spool', spool, '--once']);
    expect(await r.exit).toBe(0);
    expect(readdirSync(join(spool, 'rejected')).length).toBeGreaterThan(0);
    expect(readdirSync(join(spool, 'queue'))).toEqual([]);
    expect(logLines(r.stderr()).some((l) => l.level === 50 && l.status === 400 && String(l.body).includes('test says 400'))).toBe(true);
  }, 15_000);
});

describe('one sensor per spool', () => {
  it('a second sensor on the same spool directory is refused: one line, exit 2', async () => {
    const c = await collector();
    const spool = fresh('spool');
    const r = sensor(['--input', fresh('empty'), '--collector', c.url, '--token', TOKEN, '--spool', spool]);
    await waitFor('sensor start', () => r.stderr().includes('sensor started'));
    const second = phonehome(['sensor', '--input', fixture('Withings'), '--collector', c.url, '--token', TOKEN, '--spool', spool, '--once']);
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(new RegExp(`^phonehome: --spool .*in use by process ${r.child.pid}`));
    r.child.kill('SIGTERM');
    expect(await r.exit).toBe(0);
    // The lock goes with the sensor.
    // (a real process, not spawnSync: the collector in this process must answer)
    expect(await sensor(['--input', fixture('Withings'), '--collector', c.url, '--token', TOKEN, '--spool', spool, '--once']).exit).toBe(0);
  }, 15_000);
});

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
    const hue = analyzed([fixture('HueBridge')]);
    // Flows still live at the stop were ended and sent: the whole first file arrived.
    expect(c.flows()).toEqual(hue.flows);
    // Beacons were scored at the file boundary and again at the stop: the last version is analyze's.
    const final = c.finalAlerts();
    expect([...final.keys()].sort()).toEqual(hue.alerts.map((a) => a.id).sort());
    for (const a of hue.alerts) expect(final.get(a.id)).toEqual(a);
    expect(c.events('evidence').map((e) => e.key).sort()).toEqual(hue.alerts.map((a) => `evidence:${a.id}`).sort());
    expect(existsSync(join(spool, 'state.json'))).toBe(true);

    // Restarted: the first file is remembered, the second (never complete before) is read now.
    const again = sensor([...args, '--once']);
    expect(await again.exit).toBe(0);
    const plug = analyzed([fixture('TP-LinkPlugHS110')]);
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
    expect(c.flows()).toEqual(analyzed([capture]).flows);
  }, 20_000);
});

describe('a live stream on stdin', () => {
  it('serves /metrics while reading; SIGTERM ends every flow and delivers it', async () => {
    const capture = fixture('HueSwitch');
    const c = await collector();
    // tcpdump -U -w - stand-in: 40 % of the capture at once, then a trickle that
    // cannot finish before the stop, however slowly the sensor starts.
    const writer = spawn(process.execPath, ['-e', `
      const buf = require('fs').readFileSync(${JSON.stringify(capture)});
      let off = Math.floor(buf.length * 0.4);
      process.stdout.on('error', () => process.exit(0));
      process.stdout.write(buf.subarray(0, off));
      const tick = () => {
        if (off < buf.length) process.stdout.write(buf.subarray(off, off += 1024));
        setTimeout(tick, 100);
      };
      tick();`], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const spool = fresh('spool');
      const r = startSensor(['--input', '-', '--collector', c.url, '--token', TOKEN, '--spool', spool, '--metrics-port', '0', '--name', 'live'], {
        stdin: writer.stdout as never,
      });
      running.push(r);
      await waitFor('metrics port', () => logLines(r.stderr()).some((l) => typeof l.port === 'number'));
      const port = logLines(r.stderr()).find((l) => typeof l.port === 'number')!.port as number;
      const scrape = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      let text = '';
      for (let i = 0; i < 40 && !/^phonehome_sensor_packets_total [1-9]/m.test(text); i++) {
        text = await scrape();
        await new Promise((ok) => setTimeout(ok, 100));
      }
      for (const name of [
        'phonehome_sensor_packets_total', 'phonehome_sensor_bytes_total', 'phonehome_sensor_decode_warnings_total', 'phonehome_sensor_flows_active',
        'phonehome_sensor_spool_batches', 'phonehome_sensor_spool_bytes', 'phonehome_sensor_delivery_failures_total', 'phonehome_sensor_events_sent_total',
        'phonehome_sensor_lag_seconds', 'phonehome_sensor_spool_full_total', 'process_cpu_seconds_total', 'nodejs_heap_size_used_bytes',
      ]) expect(text, name).toContain(`# TYPE ${name} `);
      // The capture is from 2016: the sensor is years behind its packets.
      const lag = Number(/^phonehome_sensor_lag_seconds (\S+)/m.exec(text)?.[1]);
      expect(lag).toBeGreaterThan(365 * 86400);
      expect(Number(/^phonehome_sensor_flows_active (\S+)/m.exec(text)?.[1])).toBeGreaterThan(0);
      expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);

      r.child.kill('SIGTERM');
      expect(await r.exit).toBe(0);
      const stopped = logLines(r.stderr()).find((l) => l.msg === 'sensor stopped')!;
      expect(stopped).toMatchObject({ signal: 'SIGTERM', spooled_batches: 0 });
      const packets = stopped.packets as number;
      expect(packets).toBeGreaterThan(0);
      expect(packets).toBeLessThan(2397);
      // Exactly the flows analyze finds in the packets that were read.
      const prefix = join(fresh('prefix'), 'prefix.pcap');
      execFileSync('editcap', ['-r', capture, prefix, `1-${packets}`]);
      const { flows } = analyzed([prefix]);
      expect(c.flows()).toEqual(flows);
      expect(c.batches.every((b) => b.sensor.name === 'live' && typeof b.sensor.lag_s === 'number')).toBe(true);
    } finally {
      writer.kill();
    }
  }, 25_000);
});

describe('bad arguments', () => {
  const dir = fresh('args');
  const notCapture = join(dir, 'notes.txt');
  writeFileSync(notCapture, 'hello\n');
  const base = ['--collector', 'http://127.0.0.1:9', '--token', 't', '--spool', join(dir, 'spool')];
  const cases: [string, string[], RegExp][] = [
    ['no input', [...base], /needs --input/],
    ['no collector', ['--input', '-', '--token', 't'], /needs --collector/],
    ['collector not a URL', ['--input', '-', '--collector', 'collector:8080', '--token', 't'], /--collector must be an http/],
    ['no token', ['--input', '-', '--collector', 'http://127.0.0.1:9'], /needs --token/],
    ['bad port', ['--input', '-', ...base, '--metrics-port', 'abc'], /--metrics-port must be a port/],
    ['bad settle', ['--input', '-', ...base, '--settle', '0'], /--settle must be a positive number/],
    ['bad spool size', ['--input', '-', ...base, '--spool-max-mb', 'lots'], /--spool-max-mb must be a positive/],
    ['bad log level', ['--input', '-', ...base, '--log-level', 'loud'], /--log-level must be one of/],
    ['unknown option', ['--input', '-', ...base, '--bogus'], /Unknown option '--bogus'/],
    ['positional', ['capture.pcap', ...base], /no positional arguments/],
    ['missing input', ['--input', join(dir, 'nope.pcap'), ...base], /nope\.pcap: no such file or directory/],
    ['input not a capture', ['--input', notCapture, ...base], /notes\.txt.*not a pcap or pcapng capture/],
    ['bad countries', ['--input', '-', ...base, '--watch-countries', 'China'], /--watch-countries takes ISO/],
  ];
  it.each(cases)('%s: one line, exit 2', (_name, args, message) => {
    const r = phonehome(['sensor', ...args], Buffer.alloc(0));
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^phonehome: /);
    expect(r.stderr).toMatch(message);
  });

  it('--help documents the options, the completion rule and examples', () => {
    const r = phonehome(['sensor', '--help']);
    expect(r.code).toBe(0);
    for (const s of ['--input', '--collector', '--token', '--spool', '--spool-max-mb', '--metrics-port', '--once', '--settle', '--geoip', 'Examples:', 'tcpdump']) {
      expect(r.stdout).toContain(s);
    }
    expect(r.stdout).toMatch(/size has\s+not changed for --settle/);
  });
});

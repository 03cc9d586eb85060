// The sensor as a real process: an unreachable collector and a restart, one
// sensor per spool, SIGTERM in the middle of a live stream, /metrics; and
// `phonehome sensor --once` delivering what `phonehome analyze --out` writes:
// the same flows (same uids), the same alerts (same ids), the same devices.
// The watched directory is tests/sensor/run/inputs.test.ts, the command's
// arguments tests/sensor/commands/sensor.test.ts.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertRecord, DeviceRecord, FlowRecord } from '../../../contract/types.js';
import { phonehome } from '../../helpers/cli.js';
import { fixture } from '../../helpers/corpus.js';
import { analyzed, FakeCollector, jsonl, logLines, startSensor, TOKEN, useSensorRig, waitFor } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-sensor-'));
let n = 0;
const fresh = (name: string) => {
  const d = join(tmp, `${name}-${++n}`);
  mkdirSync(d, { recursive: true });
  return d;
};


const { collector, sensor } = useSensorRig();

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
    const { flows, alerts } = analyzed(fresh('analyze'), [fixture('HueSwitch')]);
    expect(up.flows()).toEqual(flows);
    const keys = up.events().map((e) => e.key);
    expect(new Set(keys).size).toBe(keys.length);
    const final = up.finalAlerts();
    expect([...final.keys()].sort()).toEqual(alerts.map((a) => a.id).sort());
    for (const a of alerts) expect(final.get(a.id)).toEqual(a);
    expect(readdirSync(join(spool, 'queue'))).toEqual([]);
  }, 20_000);

  it('a batch the collector calls bad (400) is kept in rejected/ and the run exits 1 naming how many events and where; --resend-rejected delivers them', async () => {
    const c = await collector(400);
    const spool = fresh('spool');
    const r = sensor(['--input', fixture('Withings'), '--collector', c.url, '--token', TOKEN, '--spool', spool, '--once']);
    expect(await r.exit).toBe(1);
    const rejected = readdirSync(join(spool, 'rejected'));
    expect(rejected.length).toBeGreaterThan(0);
    expect(readdirSync(join(spool, 'queue'))).toEqual([]);
    expect(logLines(r.stderr()).some((l) => l.level === 50 && l.status === 400 && String(l.body).includes('test says 400'))).toBe(true);
    const refused = logLines(r.stderr()).filter((l) => l.level === 50 && typeof l.refused === 'number').reduce((n, l) => n + (l.refused as number), 0);
    expect(refused).toBeGreaterThan(0);
    const line = r.stderr().split('\n').find((l) => l.startsWith('phonehome: '));
    expect(line).toMatch(new RegExp(`^phonehome: ${refused} event\\(s\\) were refused by the collector .* kept in .*rejected`));

    // The collector is fixed: --resend-rejected alone sends them, in order, and exits 0.
    c.status = 200;
    const again = sensor(['--resend-rejected', '--collector', c.url, '--token', TOKEN, '--spool', spool]);
    expect(await again.exit).toBe(0);
    expect(readdirSync(join(spool, 'rejected'))).toEqual([]);
    const { flows } = analyzed(fresh('analyze'), [fixture('Withings')]);
    expect(c.flows()).toEqual(flows);
    expect(c.events()).toHaveLength(refused);
  }, 20_000);
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
      const r = sensor(['--input', '-', '--collector', c.url, '--token', TOKEN, '--spool', spool, '--metrics-port', '0', '--name', 'live'], {
        stdin: writer.stdout as never,
      });
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
      const lag = Number(/^phonehome_sensor_lag_seconds\{input="stdin"\} (\S+)/m.exec(text)?.[1]);
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
      const { flows } = analyzed(fresh('analyze'), [prefix]);
      expect(c.flows()).toEqual(flows);
      expect(c.batches.every((b) => b.sensor.name === 'live' && typeof b.sensor.lag_s === 'number')).toBe(true);
    } finally {
      writer.kill();
    }
  }, 25_000);
});

describe('sensor --once on a capture file', () => {
  const onceTmp = fresh('once');
  const collector = new FakeCollector();
  beforeAll(async () => {
    await collector.start();
  });
  afterAll(() => collector.close());

  it('delivers every flow and alert exactly as analyze --out writes them', async () => {
    const capture = fixture('HueBridge');
    const out = join(onceTmp, 'analyze');
    expect(phonehome(['analyze', capture, '--out', out]).code).toBe(0);
    const flows = jsonl<FlowRecord>(join(out, 'flows.jsonl'));
    const alerts = jsonl<AlertRecord>(join(out, 'alerts.jsonl'));
    const devices = JSON.parse(readFileSync(join(out, 'devices.json'), 'utf8')) as DeviceRecord[];
    expect(alerts.some((a) => a.rule === 'beaconing')).toBe(true);

    const run = startSensor(['--input', capture, '--collector', collector.url, '--token', TOKEN, '--spool', join(onceTmp, 'spool'), '--once', '--name', 'hue-lab']);
    expect(await run.exit).toBe(0);

    // Same flows, in the same order, each once.
    expect(collector.flows()).toEqual(flows);
    expect(collector.events('flow').map((e) => e.key)).toEqual(flows.map((f) => `flow:${f.uid}`));
    // The last version of each alert is analyze's record; every version's key names its flow count.
    const final = collector.finalAlerts();
    expect([...final.keys()].sort()).toEqual(alerts.map((a) => a.id).sort());
    for (const a of alerts) expect(final.get(a.id)).toEqual(a);
    for (const e of collector.events('alert')) expect(e.key).toBe(`alert:${(e.data as AlertRecord).id}:${(e.data as AlertRecord).evidence.flows}`);
    // The inventory after the last update is analyze's devices.json.
    const lastDevice = new Map<string, DeviceRecord>();
    for (const e of collector.events('device')) {
      const d = e.data as DeviceRecord;
      lastDevice.set(d.mac ?? d.ips[0], d);
      expect(e.key).toBe(`device:${d.mac ?? d.ips[0]}:${d.last_seen}:${d.flows}`);
    }
    expect([...lastDevice.values()].sort((x, y) => String(x.mac).localeCompare(String(y.mac)))).toEqual(
      [...devices].sort((x, y) => String(x.mac).localeCompare(String(y.mac))),
    );
    // One evidence capture per alert, a real pcap.
    const evidence = collector.events('evidence');
    expect(evidence.map((e) => e.key.replace(/:\d+$/, '')).sort()).toEqual(alerts.map((a) => `evidence:${a.id}`).sort());
    for (const e of evidence) {
      const pcap = Buffer.from((e.data as { pcap_base64: string }).pcap_base64, 'base64');
      expect(pcap.readUInt32LE(0)).toBe(0xa1b2c3d4);
      expect(pcap.length).toBeGreaterThan(24 + 16);
    }
    // No key twice; every batch within the limits and named after the sensor.
    const keys = collector.events().map((e) => e.key);
    expect(new Set(keys).size).toBe(keys.length);
    for (const b of collector.batches) {
      expect(b.events.length).toBeLessThanOrEqual(500);
      expect(b.sensor.name).toBe('hue-lab');
      expect(b.sensor.lag_s).toBeNull();
      expect(b.batch_id).toMatch(/\S/);
    }
    expect(collector.requests.every((r) => r.auth === `Bearer ${TOKEN}`)).toBe(true);
    const stopped = logLines(run.stderr()).find((l) => l.msg === 'sensor stopped');
    expect(stopped).toMatchObject({ packets: 1513, spooled_batches: 0 });
  }, 20_000);
});

// `phonehome sensor --once` delivers what `phonehome analyze --out` writes:
// the same flows (same uids), the same alerts (same ids), the same devices.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertRecord, DeviceRecord, FlowRecord } from '../../../contract/types.js';
import { phonehome } from '../../helpers/cli.js';
import { fixture } from '../../helpers/corpus.js';
import { FakeCollector, jsonl, logLines, startSensor, TOKEN } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-sensor-once-'));

describe('sensor --once on a capture file', () => {
  const collector = new FakeCollector();
  beforeAll(async () => {
    await collector.start();
  });
  afterAll(() => collector.close());

  it('delivers every flow and alert exactly as analyze --out writes them', async () => {
    const capture = fixture('HueBridge');
    const out = join(tmp, 'analyze');
    expect(phonehome(['analyze', capture, '--out', out]).code).toBe(0);
    const flows = jsonl<FlowRecord>(join(out, 'flows.jsonl'));
    const alerts = jsonl<AlertRecord>(join(out, 'alerts.jsonl'));
    const devices = JSON.parse(readFileSync(join(out, 'devices.json'), 'utf8')) as DeviceRecord[];
    expect(alerts.some((a) => a.rule === 'beaconing')).toBe(true);

    const run = startSensor(['--input', capture, '--collector', collector.url, '--token', TOKEN, '--spool', join(tmp, 'spool'), '--once', '--name', 'hue-lab']);
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
    expect(evidence.map((e) => e.key).sort()).toEqual(alerts.map((a) => `evidence:${a.id}`).sort());
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

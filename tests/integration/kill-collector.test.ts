// Nothing lost: the collector is killed with SIGKILL in the middle of a
// sensor's delivery and started again; every flow and alert the sensor
// produced ends up stored exactly once. Real processes, real SQLite file.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { packet, udpFrame } from '../helpers/build.js';
import { CLI, phonehome } from '../helpers/cli.js';
import { api, SENSOR_TOKEN, startCollector } from '../helpers/collector.js';
import { fixture } from '../helpers/corpus.js';
import { readWithPcapParser, writePcap, type TestPacket } from '../helpers/pcap.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-kill-'));

/** Real device traffic plus enough distinct flows that delivery takes many batches. */
async function capture(): Promise<string> {
  const pkts: TestPacket[] = [];
  const { packets } = await readWithPcapParser(fixture('TP-LinkPlugHS110'));
  const t0 = packets[0].tsSec;
  pkts.push(...packets);
  for (let i = 0; i < 30_000; i++) {
    const src = { mac: '50:c7:bf:00:c7:03', ip: '10.10.10.20', port: 1024 + (i % 60000) };
    const dst = { mac: '00:b5:6d:06:08:ba', ip: `52.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 123 };
    pkts.push(packet(t0 + 50 + i * 0.001, udpFrame(src, dst, Buffer.alloc(48))));
  }
  const f = join(tmp, 'capture.pcap');
  writePcap(f, 1, pkts);
  return f;
}

describe('collector killed mid-delivery', () => {
  it('every flow and alert is stored exactly once after the collector comes back', async () => {
    const file = await capture();
    const reference = join(tmp, 'reference');
    expect(phonehome(['analyze', file, '--out', reference, '--no-profiles']).code).toBe(0);
    const flows = readFileSync(join(reference, 'flows.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).uid as string);
    const alerts = readFileSync(join(reference, 'alerts.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).id as string);
    expect(flows.length).toBeGreaterThan(30_000);

    const dbFile = join(tmp, 'collector.db');
    let collector = await startCollector(`sqlite:${dbFile}`, ['--log-level', 'error']);
    const port = collector.port;
    const sensor = spawn(process.execPath, [CLI, 'sensor', '--input', file, '--collector', collector.url, '--token', SENSOR_TOKEN, '--name', 'lab', '--spool', join(tmp, 'spool'), '--once', '--no-profiles', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let sensorLog = '';
    sensor.stderr!.on('data', (d) => (sensorLog += d));
    const sensorExit = new Promise<number | null>((r) => sensor.once('exit', (c) => r(c)));

    // Kill the collector once part of the events is stored, while the rest is still being sent.
    for (let i = 0; ; i++) {
      const s = await (await api(collector.url, '/api/v1/sensors')).json();
      if (s.items[0]?.events > 0) break;
      if (i > 600) throw new Error(`sensor never delivered: ${sensorLog}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await collector.kill9();
    await new Promise((r) => setTimeout(r, 1500));
    collector = await startCollector(`sqlite:${dbFile}`, ['--log-level', 'error'], port);

    expect(await sensorExit, sensorLog).toBe(0);
    await collector.stop();
    const db = new Database(dbFile, { readonly: true });
    const stored = db.prepare('SELECT uid, count(*) AS n FROM flows GROUP BY uid').all() as { uid: string; n: number }[];
    expect(stored.filter((r) => r.n > 1)).toEqual([]);
    expect(stored.map((r) => r.uid).sort()).toEqual([...flows].sort());
    const storedAlerts = (db.prepare('SELECT id FROM alerts').all() as { id: string }[]).map((r) => r.id).sort();
    expect(storedAlerts).toEqual([...alerts].sort());
    db.close();
  }, 180_000);
});

// What waits in a sensor's spool reaches the collector with every batch
// (headers read as the batch is sent): a real sensor spools its whole input
// while the collector is down, then delivers it in order, and the collector
// sees the backlog shrink batch by batch to the last one, shows it in
// /api/v1/sensors, and takes a header that is not a whole number as absent.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SPOOL_HEADERS } from '../../contract/types.js';
import { packet, udpFrame } from '../helpers/build.js';
import { api, freePort, SENSOR_TOKEN, startCollector, type RunningCollector } from '../helpers/collector.js';
import { batch } from '../helpers/events.js';
import { writePcap, type TestPacket } from '../helpers/pcap.js';
import { logLines, startSensor, waitFor } from '../sensor/run/helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-spool-depth-'));
let collector: RunningCollector | undefined;
afterAll(async () => {
  await collector?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** 3,000 UDP flows from one device: several batches of 500 events. */
function capture(): string {
  const pkts: TestPacket[] = [];
  for (let i = 0; i < 3000; i++) {
    const src = { mac: '50:c7:bf:00:c7:03', ip: '10.10.10.20', port: 1024 + i };
    pkts.push(packet(1_700_000_000 + i * 0.01, udpFrame(src, { mac: '00:b5:6d:06:08:ba', ip: '52.1.2.3', port: 123 }, Buffer.alloc(48))));
  }
  const file = join(tmp, 'flows.pcap');
  writePcap(file, 1, pkts);
  return file;
}

interface Sensor {
  name: string;
  spool_batches: number | null;
  spool_bytes: number | null;
}

describe("a sensor's spool depth", () => {
  it('reaches the collector with each batch: the backlog a sensor catches up on shrinks to its last batch', async () => {
    const port = await freePort();
    const spool = join(tmp, 'spool');
    const s = startSensor(['--input', capture(), '--collector', `http://127.0.0.1:${port}`, '--spool', spool, '--name', 'lab', '--once', '--drain-timeout', '60'], {
      env: { PHONEHOME_TOKEN: SENSOR_TOKEN },
    });
    // Nothing listens yet: every batch waits in the spool.
    await waitFor('the sensor to find the collector down', () => /unreachable/.test(s.stderr()), 20_000);
    collector = await startCollector(`sqlite:${join(tmp, 'c.db')}`, ['--log-level', 'info'], port);
    expect(await s.exit, s.stderr().slice(-2000)).toBe(0);
    const stored = logLines(collector.logs()).filter((l) => l.msg === 'batch stored').map((l) => l.spool_batches as number);
    expect(stored.length).toBeGreaterThan(3);
    // In the order sent, each batch saw what was still queued, itself included.
    expect(stored).toEqual(stored.map((_, i) => stored.length - i));
    const sensors = (await (await api(collector.url, '/api/v1/sensors')).json()).items as Sensor[];
    expect(sensors).toMatchObject([{ name: 'lab', spool_batches: 1 }]);
    expect(sensors[0].spool_bytes).toBeGreaterThan(0);
  }, 90_000);

  it('a spool header that is not a whole number is taken as absent', async () => {
    const post = (headers: Record<string, string>) =>
      api(collector!.url, '/api/v1/events', { method: 'POST', token: SENSOR_TOKEN, headers, body: JSON.stringify(batch([], `b-${Math.random()}`)) });
    expect((await post({ [SPOOL_HEADERS.batches]: '7', [SPOOL_HEADERS.bytes]: '12345' })).status).toBe(200);
    let sensors = (await (await api(collector!.url, '/api/v1/sensors')).json()).items as Sensor[];
    expect(sensors).toMatchObject([{ name: 'lab', spool_batches: 7, spool_bytes: 12345 }]);
    expect((await post({ [SPOOL_HEADERS.batches]: '-1', [SPOOL_HEADERS.bytes]: '1e9' })).status).toBe(200);
    sensors = (await (await api(collector!.url, '/api/v1/sensors')).json()).items as Sensor[];
    expect(sensors).toMatchObject([{ name: 'lab', spool_batches: null, spool_bytes: null }]);
  });
});

// The sensor's lag metric is for live input only: a watched directory of old
// captures being replayed reports no phonehome_sensor_lag_seconds; once a
// capture in it is being written now (modified within minutes), it does.
// Also: the refusal and disk-full counters exist from the start, at zero.
import { copyFileSync, mkdirSync, mkdtempSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture } from '../../helpers/corpus.js';
import { logLines, TOKEN, useSensorRig, waitFor } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-metrics-'));
const { collector, sensor } = useSensorRig();

describe('sensor metrics', () => {
  it('lag is reported only while the watched directory is being written to, not for replayed old captures', async () => {
    const dir = join(tmp, 'captures');
    mkdirSync(dir);
    const old = join(dir, '1.pcap');
    copyFileSync(fixture('Withings'), old);
    const dayAgo = Date.now() / 1000 - 86400;
    utimesSync(old, dayAgo, dayAgo);
    const c = await collector();
    const r = sensor(['--input', dir, '--collector', c.url, '--token', TOKEN, '--spool', join(tmp, 'spool'), '--metrics-port', '0', '--settle', '0.2']);
    await waitFor('the old capture', () => logLines(r.stderr()).filter((l) => l.msg === 'file processed').length === 1, 15_000);
    const port = logLines(r.stderr()).find((l) => typeof l.port === 'number')!.port as number;
    const scrape = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    let text = await scrape();
    expect(text).toMatch(/^phonehome_sensor_packets_total [1-9]/m);
    expect(text).not.toMatch(/^phonehome_sensor_lag_seconds[ {]/m);
    expect(text).toMatch(/^phonehome_sensor_events_refused_total\{reason="garbled_spool"\} 0$/m);
    expect(text).toMatch(/^phonehome_sensor_spool_write_errors_total\{code="ENOSPC"\} 0$/m);
    expect(c.batches.every((b) => b.sensor.lag_s === null)).toBe(true);

    // tcpdump writes a new capture now: the directory is live.
    copyFileSync(fixture('HueSwitch'), join(dir, '2.pcap'));
    await waitFor('the new capture', () => logLines(r.stderr()).filter((l) => l.msg === 'file processed').length === 2, 15_000);
    await new Promise((ok) => setTimeout(ok, 5200));
    text = await scrape();
    // The captures are from 2016: years behind.
    expect(Number(/^phonehome_sensor_lag_seconds\{input="dir"\} (\S+)/m.exec(text)?.[1])).toBeGreaterThan(365 * 86400);
  }, 30_000);
});

// A running sensor reads a threat-intel feed again when its file changes:
// the next capture of the watched directory meets the new indicators, and a
// new version that cannot be used is logged while the old indicators stay.
// A real sensor process, a stand-in collector, pcap files written as tcpdump
// rotates them.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AlertRecord } from '../../../contract/types.js';
import type { Endpoint } from '../../helpers/build.js';
import { ROUTER, Scenario } from '../../helpers/scenarios.js';
import { freshDirs, logLines, TOKEN, useSensorRig, waitFor } from './helpers.js';

const { collector, sensor } = useSensorRig(['--token', TOKEN]);
const fresh = freshDirs('phonehome-intel-reload-');

const T0 = 1_700_000_000;
const C2: Endpoint = { mac: ROUTER.mac, ip: '185.220.101.7', port: 443 };
const dev = (n: number): Endpoint => ({ mac: `02:7f:00:00:00:0${n}`, ip: `192.168.77.${80 + n}`, port: 43000 + n });

/**
 * A capture in which device n opens one TLS connection to the C2 address;
 * a DNS answer 30 s later moves capture time past the closed flow's linger,
 * so the flow ends, and is judged, while this file is read.
 */
function captureOf(n: number, file: string): void {
  const s = new Scenario(T0 + n * 600, 60);
  s.tls(T0 + n * 600, dev(n), C2, null);
  s.resolve(T0 + n * 600 + 30, dev(n), 'time.vendor.example', ['192.0.2.10']);
  s.write(file);
}

/** Replaces a feed as a cron job should: written aside, renamed over. */
function replace(file: string, text: string | Buffer): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

describe('threat-intel feeds in the sensor', () => {
  it('a changed feed applies from the next file on; an unusable new version is logged and the old indicators stay', async () => {
    const dir = fresh('captures');
    const feeds = fresh('feeds');
    const feed = join(feeds, 'c2.txt');
    writeFileSync(feed, 'unrelated.example\n');
    const c = await collector();
    const r = sensor(['--input', dir, '--collector', c.url, '--spool', fresh('spool'), '--settle', '0.3', '--intel', feed]);
    const processed = () => logLines(r.stderr()).filter((l) => l.msg === 'file processed').length;
    await waitFor('sensor start', () => r.stderr().includes('sensor started'));

    // Not listed yet: device 1's connection raises nothing.
    captureOf(1, join(dir, '1.pcap'));
    await waitFor('file 1', () => processed() === 1);
    replace(feed, '# now listed\n185.220.101.7\n');
    captureOf(2, join(dir, '2.pcap'));
    await waitFor('file 2', () => processed() === 2);
    expect(logLines(r.stderr()).filter((l) => l.msg === 'threat-intel feed reloaded')).toMatchObject([{ file: feed, indicators: 1 }]);

    // A broken download: logged once, and the address stays listed for device 3.
    replace(feed, Buffer.from([0x1f, 0x8b, 0x08, 0x00]));
    captureOf(3, join(dir, '3.pcap'));
    await waitFor('file 3', () => processed() === 3);
    const errors = logLines(r.stderr()).filter((l) => l.level === 50);
    expect(errors).toMatchObject([{ file: feed, code: 'INTEL_INVALID' }]);
    expect(errors[0].msg).toBe(`${feed}:1: binary data (a NUL byte): not a text feed (a compressed file must be decompressed first): the feed keeps the indicators it had`);

    r.child.kill('SIGTERM');
    expect(await r.exit).toBe(0);
    const intel = [...c.finalAlerts().values()].filter((a: AlertRecord) => a.rule === 'threat-intel');
    expect(intel.map((a) => [a.device.mac, a.evidence.intel?.indicator, a.evidence.flows]).sort()).toEqual([
      [dev(2).mac, '185.220.101.7', 1],
      [dev(3).mac, '185.220.101.7', 1],
    ]);
  }, 30_000);

  it('a feed that cannot be read at start stops the sensor with exit 2 and the file named', async () => {
    const c = await collector();
    const missing = join(fresh('feeds'), 'gone.csv');
    const r = sensor(['--input', fresh('captures'), '--collector', c.url, '--spool', fresh('spool'), '--intel', missing]);
    expect(await r.exit).toBe(2);
    expect(r.stderr()).toContain(`${missing}: cannot be read (ENOENT)`);
  }, 15_000);
});

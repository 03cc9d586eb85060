// Disk full is an expected state: the sensor's spool on a 512 KiB tmpfs fills
// while the collector is down. Reading pauses with one clear error naming the
// spool (no stack trace), the write errors are counted, and once the
// collector takes batches again the sensor resumes and delivers exactly what
// analyze finds. A SIGTERM while the disk is full ends the process within the
// drain timeout; --once with a disk that stays full gives up after it.
// Needs root (mount -t tmpfs); skipped with the reason printed otherwise.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packet, udpFrame } from '../helpers/build.js';
import { writePcap, type TestPacket } from '../helpers/pcap.js';
import { analyzed, logLines, TOKEN, useSensorRig, waitFor, type Running } from '../sensor/run/helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-disk-full-'));
const mounts: string[] = [];

/** A 512 KiB tmpfs, or the reason there cannot be one. */
function smallDisk(name: string): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', dir], { stdio: 'pipe' });
  mounts.push(dir);
  return dir;
}

function canMount(): string | null {
  if (process.getuid?.() !== 0) return 'not running as root';
  try {
    const d = smallDisk('probe');
    execFileSync('umount', [d]);
    mounts.pop();
    return null;
  } catch (e) {
    return `mount -t tmpfs failed: ${(e as Error).message.split('\n')[0]}`;
  }
}

const skip = canMount();
if (skip) console.log(`sensor-disk-full: skipped (${skip})`);

/** 6,000 UDP flows over a minute: about 3 MB of batches, six times what the disk holds. */
function capture(): string {
  const pkts: TestPacket[] = [];
  for (let i = 0; i < 6000; i++) {
    const src = { mac: '50:c7:bf:00:c7:03', ip: '10.10.10.20', port: 1024 + i };
    // One destination: the device record stays small (each event must fit the disk on its own).
    const dst = { mac: '00:b5:6d:06:08:ba', ip: '52.1.2.3', port: 123 };
    pkts.push(packet(1_600_000_000 + i * 0.01, udpFrame(src, dst, Buffer.alloc(48))));
  }
  const f = join(tmp, 'flows.pcap');
  writePcap(f, 1, pkts);
  return f;
}

const rig = useSensorRig(['--token', TOKEN, '--no-profiles']);
afterAll(() => {
  for (const m of mounts) spawnSync('umount', ['-l', m]);
});

describe.skipIf(skip !== null)('spool on a full disk', () => {
  let file = '';
  beforeAll(() => {
    file = capture();
  });

  const down = () => rig.collector(503);
  const sensor = (args: string[]) => rig.sensor(args);
  const noSpaceErrors = (r: Running) => logLines(r.stderr()).filter((l) => l.code === 'SPOOL_NO_SPACE');

  it('pauses with one clear error, counts it, and resumes when the collector frees space: every flow delivered', async () => {
    const spool = smallDisk('resume');
    const c = await down();
    const r = sensor(['--input', file, '--collector', c.url, '--spool', spool, '--once', '--drain-timeout', '30', '--metrics-port', '0']);
    await waitFor('the disk to fill', () => noSpaceErrors(r).length > 0, 20_000);
    const error = noSpaceErrors(r)[0];
    expect(error).toMatchObject({ level: 50, errno: 'ENOSPC', spool });
    expect(error.msg).toContain(`no space left on the disk of spool ${spool}`);
    const port = logLines(r.stderr()).find((l) => typeof l.port === 'number')!.port as number;
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/^phonehome_sensor_spool_write_errors_total\{code="ENOSPC"\} [1-9]/m);
    // No partial batch is left behind by a failed write.
    expect(readdirSync(join(spool, 'queue')).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    await new Promise((ok) => setTimeout(ok, 2500));
    expect(noSpaceErrors(r)).toHaveLength(1);
    c.status = 200;
    expect(await r.exit, r.stderr().slice(-3000)).toBe(0);
    expect(r.stderr()).not.toMatch(/internal error|    at /);
    const { flows } = analyzed(join(tmp, 'analyze-resume'), [file, '--no-profiles']);
    expect(c.flows().map((f) => f.uid).sort()).toEqual(flows.map((f) => f.uid).sort());
    const keys = c.events().map((e) => e.key);
    expect(new Set(keys).size).toBe(keys.length);
  }, 60_000);

  it('--once with a disk that stays full and no collector gives up after --drain-timeout: exit 1', async () => {
    const spool = smallDisk('once');
    const c = await down();
    const started = Date.now();
    const r = sensor(['--input', file, '--collector', c.url, '--spool', spool, '--once', '--drain-timeout', '2']);
    expect(await r.exit).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(noSpaceErrors(r).length).toBeGreaterThan(0);
    expect(r.stderr()).not.toMatch(/internal error/);
  }, 30_000);

  it('one SIGTERM while the disk is full ends the process within the drain timeout', async () => {
    const spool = smallDisk('sigterm');
    const input = join(tmp, 'watched');
    mkdirSync(input);
    execFileSync('cp', [file, join(input, '1.pcap')]);
    const c = await down();
    const r = sensor(['--input', input, '--collector', c.url, '--spool', spool, '--drain-timeout', '2', '--settle', '0.2', '--udp-timeout', '1']);
    await waitFor('the disk to fill', () => noSpaceErrors(r).length > 0, 20_000);
    const t = Date.now();
    r.child.kill('SIGTERM');
    const code = await r.exit;
    expect(Date.now() - t).toBeLessThan(2000 + 3000);
    expect(code).toBe(1);
    expect(logLines(r.stderr()).find((l) => l.msg === 'sensor stopped')).toMatchObject({ signal: 'SIGTERM' });
  }, 30_000);
});

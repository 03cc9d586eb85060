// The README's quick start, as a newcomer runs it: `npm start` replays the
// bundled real captures through a real sensor and collector process and
// prints commands that work. The printed curl line is parsed and used as is,
// so a wrong URL, token or path in the output fails here.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, phonehome } from '../helpers/cli.js';

const ROOT = resolve(import.meta.dirname, '../..');
const TPLINK = '50:c7:bf:00:c7:03';
const HUE = '00:17:88:24:76:ff';

interface Printed {
  url: string;
  token: string;
  dataDir: string;
}

/** The URL and token of the printed alerts curl line, and the data directory. */
function printed(stdout: string): Printed {
  const curl = /^ {2}curl -H 'Authorization: Bearer ([^']+)' (http:\/\/127\.0\.0\.1:\d+)\/api\/v1\/alerts$/m.exec(stdout);
  const data = /^Data: +(\S+)/m.exec(stdout);
  if (!curl || !data) throw new Error(`no curl line or data directory in:\n${stdout}`);
  return { token: curl[1], url: curl[2], dataDir: data[1] };
}

interface Alert { rule: string; device: { mac: string }; destination: { ip: string; country: string | null } }

async function get<T>(p: Printed, path: string, auth = true): Promise<{ status: number; body: T }> {
  const r = await fetch(`${p.url}${path}`, { headers: auth ? { authorization: `Bearer ${p.token}` } : {} });
  const text = await r.text();
  return { status: r.status, body: (r.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as T };
}

describe('npm start (phonehome demo)', () => {
  it('npm start -- --no-wait replays the samples, prints a working curl line and exits 0', () => {
    const r = spawnSync('npm', ['start', '--silent', '--', '--no-wait', '--port', '0'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    // npm itself may warn on stderr (its own configuration, updates); phonehome must not
    expect(r.stderr).not.toMatch(/phonehome/);
    expect(r.status).toBe(0);
    const p = printed(r.stdout);
    expect(r.stdout).toMatch(/Replayed tp-linkplughs110-setup-a-1\.pcap and huebridge-setup-a-1\.pcap/);
    expect(r.stdout).toMatch(new RegExp(`^  curl -H 'Authorization: Bearer ${p.token}' ${p.url}/api/v1/devices$`, 'm'));
    expect(r.stdout).toContain(`${p.url}/metrics`);
    expect(r.stdout).toContain(`${p.url}/docs`);
    expect(r.stdout).toMatch(new RegExp(`^Web UI: +${p.url}/ui `, 'm'));
    // what the shipped profiles and detection settings make of the plug and the bridge
    expect(r.stdout).toMatch(new RegExp(`undocumented-destination .*${TPLINK}.*time-b\\.nist\\.gov`));
    expect(r.stdout).toMatch(new RegExp(`beaconing .*${HUE}.*bridge\\.meethue\\.com`));
    expect(existsSync(p.dataDir)).toBe(false);
  }, 60_000);

  it('--help shows an example; bad arguments get one line and exit 2', () => {
    const help = phonehome(['demo', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: phonehome demo/);
    expect(help.stdout).toMatch(/Examples?:\n\s+npm start/);
    expect(phonehome(['--help']).stdout).toMatch(/^ {2}demo /m);
    for (const [args, message] of [
      [['--port', '99999'], /^phonehome: --port must be a port number \(0-65535\), got '99999'\n$/],
      [['--capture', '/nonexistent/x.pcap'], /^phonehome: --capture: no such file or directory '\/nonexistent\/x\.pcap'\n$/],
      [['--bogus'], /^phonehome: Unknown option '--bogus'\n$/],
    ] as const) {
      const r = phonehome(['demo', ...args]);
      expect(r.stderr).toMatch(message);
      expect(r.code).toBe(2);
    }
    const notCapture = phonehome(['demo', '--no-wait', '--port', '0', '--capture', resolve(ROOT, 'package.json')]);
    expect(notCapture.stderr).toMatch(/^phonehome: demo: the sensor could not deliver package\.json \(exit 2\): .*not a pcap or pcapng capture/);
    expect(notCapture.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(notCapture.code).toBe(2);
  }, 60_000);

  describe('kept running', () => {
    let proc: ChildProcess | undefined;
    let blocker: Server | undefined;
    afterEach(async () => {
      if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      proc = undefined;
      await new Promise<void>((r) => (blocker ? blocker.close(() => r()) : r()));
      blocker = undefined;
    });

    /** Starts the demo without --no-wait and resolves once it says the collector keeps running. */
    async function startDemo(args: string[]): Promise<{ p: Printed; out: () => string; exited: Promise<number | null> }> {
      proc = spawn(process.execPath, [CLI, 'demo', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      proc.stdout!.on('data', (d) => (out += d));
      proc.stderr!.on('data', (d) => (out += d));
      const exited = new Promise<number | null>((r) => proc!.once('exit', (c) => r(c)));
      const deadline = Date.now() + 45_000;
      while (!/press Ctrl-C/.test(out)) {
        if (proc.exitCode !== null) throw new Error(`demo exited ${proc.exitCode}: ${out}`);
        if (Date.now() > deadline) throw new Error(`demo did not finish starting: ${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return { p: printed(out), out: () => out, exited };
    }

    it('serves the alerts of the replayed plug over HTTP until SIGTERM, then stops cleanly', async () => {
      // No sample destination is in the shipped watch list (the plug's cloud is AWS in Ireland): watching IE
      // makes the embedded GeoIP database place it and raise the geo-callback alert.
      const { p, out, exited } = await startDemo(['--port', '0', '--watch-countries', 'IE']);
      expect(existsSync(p.dataDir)).toBe(true);

      const alerts = await get<{ items: Alert[] }>(p, `/api/v1/alerts?device=${TPLINK}`);
      expect(alerts.status).toBe(200);
      const geo = alerts.body.items.filter((a) => a.rule === 'geo-callback');
      expect(geo.length).toBeGreaterThan(0);
      expect(geo.every((a) => a.device.mac === TPLINK && a.destination.country === 'IE')).toBe(true);
      expect(geo.map((a) => a.destination.ip)).toContain('52.49.65.150');
      expect(alerts.body.items.map((a) => a.rule)).toContain('undocumented-destination');

      const all = await get<{ items: Alert[] }>(p, '/api/v1/alerts');
      expect(all.body.items.some((a) => a.rule === 'beaconing' && a.device.mac === HUE)).toBe(true);
      const devices = await get<{ items: { mac: string; vendor: string | null }[] }>(p, '/api/v1/devices');
      expect(devices.body.items.find((d) => d.mac === TPLINK)?.vendor).toMatch(/TP-LINK/);
      expect((await get(p, '/api/v1/alerts', false)).status).toBe(401);
      const metrics = await get<string>(p, '/metrics', false);
      expect(metrics.status).toBe(200);
      expect(metrics.body).toMatch(/^phonehome_alerts_total\{rule="geo-callback",severity="\w+",country="IE"\} [1-9]/m);
      expect((await get(p, '/docs', false)).status).toBe(200);
      // the printed web UI address leads to its login page
      const ui = await fetch(`${p.url}/ui`, { redirect: 'manual' });
      expect(ui.status).toBe(302);
      expect(ui.headers.get('location')).toMatch(/^\/ui\/login/);
      expect((await fetch(`${p.url}/ui/login`)).status).toBe(200);

      proc!.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(out()).toMatch(/SIGTERM: stopping the collector\.\n$/);
      expect(existsSync(p.dataDir)).toBe(false);
      await expect(fetch(`${p.url}/healthz`)).rejects.toThrow();
    }, 90_000);

    it('a busy --port falls back to a free one and says so', async () => {
      blocker = createServer();
      const busy = await new Promise<number>((r) => blocker!.listen(0, '127.0.0.1', () => r((blocker!.address() as { port: number }).port)));
      const { p, out, exited } = await startDemo(['--port', String(busy)]);
      const m = new RegExp(`^Port ${busy} is busy; using (\\d+) instead\\.$`, 'm').exec(out());
      expect(m).not.toBeNull();
      expect(p.url).toBe(`http://127.0.0.1:${m![1]}`);
      expect((await get(p, '/api/v1/alerts')).status).toBe(200);
      proc!.kill('SIGINT');
      expect(await exited).toBe(0);
    }, 90_000);
  });
});

// `phonehome collector` as a real process: its help, one-line refusals with
// exit code 2, where settings come from (flags over the environment over a
// config file), and a clean stop on SIGTERM.
import { spawn } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { COLLECTOR_HELP } from '../../collector/command.js';
import { CLI, phonehome } from '../helpers/cli.js';
import { freePort } from '../helpers/collector.js';
import { launch, reachable } from './launch.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-command-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SENSOR = ['--sensor-token', 'lab:lab-sensor-secret-0123456789'];
const API = ['--api-token', 'analyst-secret-0123456789'];
const db = (): string => `sqlite:${join(tmp, `c-${Math.random()}.db`)}`;

/** One line on stderr, exit code 2, no stack trace. */
function refusal(args: string[]): string {
  const r = phonehome(['collector', ...args]);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at |internal error/);
  return r.stderr.trim();
}

/** Runs the collector until it answers /healthz; returns which of the tokens the analyst API accepts, then stops it with SIGTERM. */
async function acceptedTokens(args: string[], env: NodeJS.ProcessEnv, tokens: string[]): Promise<{ accepted: string[]; code: number | null }> {
  const port = await freePort();
  const proc = spawn(process.execPath, [CLI, 'collector', '--listen', `127.0.0.1:${port}`, '--log-level', 'warn', ...args], { env: { ...process.env, ...env }, stdio: 'ignore' });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if ((await fetch(`${url}/healthz`).catch(() => null))?.ok) break;
    if (proc.exitCode !== null || i > 200) throw new Error(`collector did not start (exit ${proc.exitCode})`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const accepted: string[] = [];
  for (const t of tokens) if ((await fetch(`${url}/api/v1/sensors`, { headers: { authorization: `Bearer ${t}` } })).ok) accepted.push(t);
  proc.kill('SIGTERM');
  return { accepted, code: await exited };
}

describe('phonehome collector', () => {
  it('--help prints the usage and exits 0', () => {
    const r = phonehome(['collector', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(COLLECTOR_HELP);
  });

  it('refuses an unknown flag, missing tokens, a bad listen address and a database URL it does not know', () => {
    expect(refusal(['--colour', 'blue'])).toMatch(/^phonehome: Unknown option '--colour'$/);
    expect(refusal(['--db', db(), ...API])).toMatch(/^phonehome: no sensor can send events: give --sensor-token NAME:SECRET/);
    expect(refusal(['--db', db(), ...SENSOR])).toMatch(/^phonehome: the analyst API needs a token/);
    expect(refusal(['--listen', 'nowhere', ...SENSOR, ...API])).toBe("phonehome: --listen: listen address must be HOST:PORT or PORT, got 'nowhere'");
    const bad = refusal(['--db', 'mysql://root:hunter2@db/x', ...SENSOR, ...API]);
    expect(bad).toMatch(/^phonehome: database URL must be sqlite:PATH or postgres:\/\/\.\.\., got /);
    expect(bad).not.toContain('hunter2');
    expect(refusal(['--db', db(), ...SENSOR, ...API, '--forward-format', 'xml'])).toBe("phonehome: forward_format must be eve or ecs, got 'xml'");
    expect(refusal(['--db', db(), ...SENSOR, ...API, '--forward-syslog', 'udp://siem:514'])).toBe("phonehome: forward_syslog: must be tcp://HOST:PORT or tls://HOST:PORT, got 'udp://siem:514'");
  });

  it('a port already in use is one line with exit 2, not an internal error', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as AddressInfo).port;
    try {
      expect(refusal(['--listen', `127.0.0.1:${port}`, '--db', db(), ...SENSOR, ...API])).toBe(`phonehome: --listen 127.0.0.1:${port}: the port is in use (EADDRINUSE)`);
    } finally {
      busy.close();
    }
  });

  it('flags win over the environment, which wins over the config file; SIGTERM stops it with exit 0', async () => {
    const [fileToken, envToken, flagToken] = ['file-token-0123456789', 'env-token-0123456789', 'flag-token-0123456789'];
    const file = join(tmp, 'collector.yaml');
    writeFileSync(file, `api_token: ${fileToken}\nsensor_tokens: ['lab:lab-sensor-secret-0123456789']\n`);
    const all = [fileToken, envToken, flagToken];
    const base = ['--config', file, '--db', db()];
    expect(await acceptedTokens([...base, '--api-token', flagToken], { PHONEHOME_API_TOKEN: envToken }, all)).toEqual({ accepted: [flagToken], code: 0 });
    expect(await acceptedTokens(base, { PHONEHOME_API_TOKEN: envToken }, all)).toEqual({ accepted: [envToken], code: 0 });
    expect(await acceptedTokens(base, { PHONEHOME_API_TOKEN: '' }, all)).toEqual({ accepted: [fileToken], code: 0 });
  }, 60_000);

  it('--listen PORT listens on loopback only, and the start-up line names the address really bound', async () => {
    const c = await launch(['--listen', '0', '--db', db(), ...SENSOR, ...API], {});
    try {
      const m = /"listening":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(c.out());
      expect(m, c.out()).not.toBeNull();
      const port = Number(m![1]);
      expect(port).toBeGreaterThan(0);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      const external = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal);
      if (!external) console.log('no non-loopback IPv4 interface: only the loopback side is checked');
      else expect(await reachable(external.address, port), `${external.address}:${port}`).toBe(false);
    } finally {
      expect(await c.stop()).toBe(0);
    }
  }, 30_000);

  it('what a sensor sends reaches the log with C1 and DEL escaped: a batch id cannot drive the terminal reading the log', async () => {
    const c = await launch(['--listen', '127.0.0.1:0', '--db', db(), ...SENSOR, ...API], {});
    try {
      // 0x9b is CSI to a terminal (here "clear the screen"), 0x7f DEL; pino writes both raw.
      const batch = { batch_id: 'evil\u009b2J\u007f-batch', sensor: { name: 'lab', version: '1' }, events: [] };
      const res = await fetch(`${c.url()}/api/v1/events`, { method: 'POST', headers: { authorization: 'Bearer lab-sensor-secret-0123456789', 'content-type': 'application/json' }, body: JSON.stringify(batch) });
      expect(res.status).toBe(200);
      await new Promise((r) => setTimeout(r, 200));
      const log = c.out();
      expect(log).toContain('evil\\u009b2J\\u007f-batch');
      expect(log).not.toMatch(/[\u007f-\u009f]/);
    } finally {
      expect(await c.stop()).toBe(0);
    }
  }, 30_000);

  it('tokens from files and the environment work, and no secret reaches the log, whatever is asked', async () => {
    const secrets = { sensor: 'file-sensor-secret-0123456789', api: 'file-analyst-secret-0123456789', env: 'env-admin-secret-0123456789', metrics: 'metrics-secret-0123456789', am: 'am-password-0123456789', hook: 'hook-password-0123456789', wrong: 'wrong-secret-0123456789' };
    const sensors = join(tmp, 'sensors.tokens');
    writeFileSync(sensors, `# the lab\nlab:${secrets.sensor}\n`);
    const apiTokens = join(tmp, 'api.tokens');
    writeFileSync(apiTokens, `soc:analyst:${secrets.api}\n`);
    const args = [
      '--listen', '127.0.0.1:0', '--db', db(), '--sensor-token-file', sensors, '--api-token-file', apiTokens, '--log-level', 'trace', '--alertmanager', `http://phonehome:${secrets.am}@127.0.0.1:9/`,
      '--forward-webhook', `http://siem:${secrets.hook}@127.0.0.1:9/hook`, '--forward-syslog', 'tcp://127.0.0.1:9', '--forward-format', 'ecs',
    ];
    const c = await launch(args, { PHONEHOME_API_TOKEN: secrets.env, PHONEHOME_METRICS_TOKEN: secrets.metrics });
    try {
      const url = `http://127.0.0.1:${/"listening":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(c.out())![1]}`;
      const get = (path: string, token: string) => fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
      expect(await get('/api/v1/sensors', secrets.api)).toBe(200);
      expect(await get('/api/v1/sensors', secrets.wrong)).toBe(401);
      expect(await get('/api/v1/audit', secrets.api)).toBe(403);
      expect(await get('/api/v1/audit', secrets.env)).toBe(200);
      expect(await get('/metrics', secrets.metrics)).toBe(200);
      const post = (token: string) => fetch(`${url}/api/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ batch_id: 'b', sensor: { name: 'x', version: 't' }, events: [] }) });
      expect((await post(secrets.sensor)).status).toBe(200);
      expect((await post(secrets.wrong)).status).toBe(401);
    } finally {
      expect(await c.stop()).toBe(0);
    }
    expect(c.out()).toContain('"api_tokens":["api-token:admin","soc:analyst"]');
    // the forward targets the flags gave, the webhook's password left out
    expect(c.out()).toMatch(/"forward":\["tcp:\/\/127\.0\.0\.1:9","http:\/\/siem:[^"@]*@127\.0\.0\.1:9\/hook"\]/);
    expect(c.out()).toContain('incoming request');
    for (const [what, secret] of Object.entries(secrets)) expect(c.out(), what).not.toContain(secret);
  }, 30_000);

  it('unreadable token, certificate and key files are one line with exit 2', () => {
    const missing = join(tmp, 'nowhere', 'x');
    expect(refusal(['--db', db(), '--sensor-token-file', missing, ...API])).toBe(`phonehome: --sensor-token-file ${missing}: cannot read it (ENOENT)`);
    expect(refusal(['--db', db(), ...SENSOR, '--api-token-file', tmp])).toBe(`phonehome: --api-token-file ${tmp}: cannot read it (EISDIR)`);
    expect(refusal(['--db', db(), ...SENSOR, ...API, '--tls-cert', missing, '--tls-key', missing])).toBe(`phonehome: --tls-cert ${missing}: cannot read it (ENOENT)`);
    expect(refusal(['--db', db(), ...SENSOR, ...API, '--tls-cert', missing])).toBe('phonehome: HTTPS needs both --tls-cert and --tls-key');
    expect(refusal(['--db', db(), ...SENSOR, ...API, '--retention', 'flows=soon'])).toBe("phonehome: --retention: flows must be a number of days (0 keeps forever), got 'soon'");
  });
});

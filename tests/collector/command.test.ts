// `phonehome collector` as a real process: its help, one-line refusals with
// exit code 2, where settings come from (flags over the environment over a
// config file), and a clean stop on SIGTERM.
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { COLLECTOR_HELP } from '../../collector/command.js';
import { CLI, phonehome } from '../helpers/cli.js';
import { freePort } from '../helpers/collector.js';

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
});

import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { CLI } from './cli.js';

export const SENSOR_TOKEN = 'lab-sensor-secret-0123456789';
export const API_TOKEN = 'analyst-secret-0123456789';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RunningCollector {
  url: string;
  port: number;
  proc: ChildProcess;
  logs: () => string;
  stop(): Promise<number | null>;
  kill9(): Promise<void>;
}

/** Starts `phonehome collector` as a real process on a loopback port and waits until it answers. */
export async function startCollector(db: string, extra: string[] = [], port?: number): Promise<RunningCollector> {
  const p = port ?? (await freePort());
  const proc = spawn(process.execPath, [CLI, 'collector', '--listen', `127.0.0.1:${p}`, '--db', db, '--sensor-token', `lab:${SENSOR_TOKEN}`, '--api-token', API_TOKEN, '--log-level', 'warn', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const url = `http://127.0.0.1:${p}`;
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (proc.exitCode !== null || i > 200) throw new Error(`collector did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    port: p,
    proc,
    logs: () => out,
    stop: async () => {
      proc.kill('SIGTERM');
      return exited;
    },
    kill9: async () => {
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

export function api(url: string, path: string, init: RequestInit & { token?: string } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${init.token ?? API_TOKEN}`);
  if (init.body && !headers.has('content-type')) headers.set('content-type', 'application/json');
  return fetch(`${url}${path}`, { ...init, headers });
}

// Debian's real Prometheus and promtool (apt-get install prometheus), run as
// child processes on loopback, for the rules and dashboards tests.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from './collector.js';

export const RULES_FILE = resolve(import.meta.dirname, '../../rules/prometheus/phonehome.rules.yml');
export const EXAMPLE_CONFIG = resolve(import.meta.dirname, '../../rules/prometheus/prometheus.example.yml');

/** Absolute path of an executable on PATH; fails, saying what to install, when it is missing. */
export function which(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter).concat(['/usr/bin', '/usr/local/bin'])) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not in this directory
    }
  }
  throw new Error(`${name} not found on PATH: install Debian's prometheus package (apt-get install prometheus)`);
}

export interface ToolRun {
  code: number | null;
  output: string;
}

export function promtool(args: string[], cwd?: string): ToolRun {
  const r = spawnSync(which('promtool'), args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

export interface PromResponse<T = unknown> {
  status: 'success' | 'error';
  data: T;
  errorType?: string;
  error?: string;
  warnings?: string[];
}

export interface PromSeries {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

export interface RunningPrometheus {
  url: string;
  proc: ChildProcess;
  logs(): string;
  get<T = unknown>(path: string): Promise<PromResponse<T>>;
  /** instant query at `time` (epoch seconds, default now) */
  query(expr: string, time?: number): Promise<PromResponse<{ resultType: string; result: PromSeries[] }>>;
  queryRange(expr: string, start: number, end: number, step: number): Promise<PromResponse<{ resultType: string; result: PromSeries[] }>>;
  stop(): Promise<void>;
}

/** Starts `prometheus` with this configuration (an object written as YAML) and waits until it is ready. */
export async function startPrometheus(config: unknown): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'phonehome-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, stringify(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(which('prometheus'), [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (proc.exitCode !== null || i > 300) {
      proc.kill('SIGKILL');
      throw new Error(`prometheus did not start: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const form = async <T>(path: string, params: Record<string, string>): Promise<PromResponse<T>> => {
    const r = await fetch(`${url}${path}`, { method: 'POST', body: new URLSearchParams(params) });
    return (await r.json()) as PromResponse<T>;
  };
  return {
    url,
    proc,
    logs: () => out,
    get: async (path) => (await (await fetch(`${url}${path}`)).json()) as PromResponse<never>,
    query: (expr, time) => form('/api/v1/query', { query: expr, ...(time === undefined ? {} : { time: String(time) }) }),
    queryRange: (expr, start, end, step) => form('/api/v1/query_range', { query: expr, start: String(start), end: String(end), step: String(step) }),
    stop: async () => {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

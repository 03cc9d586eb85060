import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../util/paths.js';
import { terminalSafe, terminalSafeLines } from '../../contract/escape.js';
import { UsageError } from '../errors.js';
import { countryList, parse } from './args.js';

export const DEMO_HELP = `Usage: phonehome demo [options]

Replays sample captures of real IoT devices through a real sensor into a real
collector on this machine, then shows how to look at what they found: the
alerts and devices APIs, the metrics and the API documentation. The
collector keeps running until Ctrl-C; its database lives in a temporary
directory that is removed when it stops.

The bundled samples are setup captures of a TP-Link HS110 smart plug and a
Philips Hue bridge from the IoT Sentinel data set (MIT licence,
tests/fixtures/LICENSE-iot-sentinel). Destinations are placed with the
embedded GeoIP database and judged with the shipped profiles and detection
settings, as a deployed sensor would judge them.

Options:
  --port P               collector port on 127.0.0.1; a busy port falls back
                         to a free one (0: any free port) [8080]
  --capture SRC          replay this capture file or directory instead
  --watch-countries LIST countries whose destinations raise geo-callback alerts,
                         replacing the shipped list (CN,HK,MO,RU,BY,IR,KP)
  --no-wait              stop the collector and exit once the summary is printed
  -h, --help             show this help

Examples:
  npm start
  phonehome demo --port 9000 --capture ~/captures/camera.pcap
  phonehome demo --watch-countries IE,US     # the plug's cloud is in IE: see geo-callback alerts
`;

const options = {
  port: { type: 'string' },
  capture: { type: 'string' },
  'watch-countries': { type: 'string' },
  'no-wait': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const SAMPLES = ['tp-linkplughs110-setup-a-1.pcap', 'huebridge-setup-a-1.pcap'];
const CLI = fileURLToPath(new URL('../cli.js', import.meta.url));
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 15_000;

/** A signal arrived while the demo was still starting: stop what runs and leave. */
class Interrupted extends Error {}

/** Something the demo runs failed: one line on stderr, exit 1 (2 for input the sensor refused, as the sensor exits). */
class DemoFailure extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

interface Child {
  name: string;
  proc: ChildProcess;
  exited: Promise<number | null>;
  /** the child's last stderr lines, to explain a failure in one line */
  tail: () => string;
  /** it answered; before that a signal may end it before it installs its handlers, which is no failure */
  ready: boolean;
}

function startChild(name: string, args: string[], env: NodeJS.ProcessEnv): Child {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { name, proc, exited, tail: () => lastMessage(err), ready: false };
}

/** The last thing a child said: pino's JSON lines carry it in msg (and err.message). */
function lastMessage(stderr: string): string {
  const line = stderr.trim().split('\n').pop() ?? '';
  try {
    const j = JSON.parse(line) as { msg?: string; err?: { message?: string } };
    return [j.msg, j.err?.message].filter(Boolean).join(': ') || line;
  } catch {
    return line.replace(/^phonehome: /, '');
  }
}

async function stopChild(c: Child): Promise<number | null> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return c.exited;
  c.proc.kill('SIGTERM');
  const timer = setTimeout(() => c.proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
  const code = await c.exited;
  clearTimeout(timer);
  return code;
}

function portArg(v: string | undefined): number {
  if (v === undefined) return 8080;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) throw new UsageError(`--port must be a port number (0-65535), got '${v}'`);
  return n;
}

/** Binds and releases a port to learn whether the collector can have it; 0 asks the kernel for a free one. */
function tryPort(port: number): Promise<number | null> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' || e.code === 'EACCES' ? res(null) : rej(e)));
    s.listen(port, '127.0.0.1', () => {
      const got = (s.address() as { port: number }).port;
      s.close(() => res(got));
    });
  });
}

const token = () => randomBytes(24).toString('base64url');

interface AlertItem { rule: string; severity: string; message: string; device?: { mac?: string | null } }

export async function runDemo(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, options);
  if (v.help) {
    process.stdout.write(DEMO_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`demo takes no positional arguments (got '${positionals[0]}'); another capture is --capture FILE`);
  const requested = portArg(v.port);
  const watch = countryList(v['watch-countries']);
  let captures: string[];
  if (v.capture !== undefined) {
    if (!existsSync(v.capture)) throw new UsageError(`--capture: no such file or directory '${v.capture}'`);
    captures = [resolve(v.capture)];
  } else {
    const fixtures = join(packageRoot(), 'tests', 'fixtures');
    captures = SAMPLES.map((f) => join(fixtures, f));
    const missing = captures.find((f) => !existsSync(f));
    if (missing) throw new UsageError(`the bundled sample capture ${missing} is missing; give one with --capture FILE`);
  }

  let port = await tryPort(requested);
  if (port === null) {
    port = (await tryPort(0))!;
    process.stdout.write(`Port ${requested} is busy; using ${port} instead.\n`);
  }

  const dir = mkdtempSync(join(tmpdir(), 'phonehome-demo-'));
  const children: Child[] = [];
  let onSignal: (s: NodeJS.Signals) => void = () => {};
  const signalled = new Promise<NodeJS.Signals>((r) => (onSignal = r));
  // Installed before anything starts, so that Ctrl-C during start-up still stops the children and removes the data.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // One rejecting promise, handled once: a fresh one per wait would reject unhandled at the signal and crash the process.
  const interrupted = signalled.then((): never => {
    throw new Interrupted();
  });
  interrupted.catch(() => {});
  const untilSignal = <T>(p: Promise<T>): Promise<T> => Promise.race([p, interrupted]);

  let code = 0;
  try {
    code = await session({ port, dir, captures, watch, wait: !v['no-wait'], children, signalled, untilSignal });
  } catch (e) {
    if (e instanceof Interrupted) code = 0;
    else if (e instanceof DemoFailure) {
      process.stderr.write(`phonehome: demo: ${terminalSafeLines(e.message)}\n`);
      code = e.exitCode;
    } else throw e;
  } finally {
    // Stopped in reverse order, so the sensor (if still running) delivers before the collector goes.
    for (const c of children.reverse()) {
      const exit = await stopChild(c);
      if (c.name === 'collector' && c.ready && exit !== 0 && code === 0) {
        process.stderr.write(`phonehome: demo: the collector did not stop cleanly (exit ${exit}): ${terminalSafeLines(c.tail() || 'no message')}\n`);
        code = 1;
      }
    }
    rmSync(dir, { recursive: true, force: true });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return code;
}

interface Session {
  port: number;
  dir: string;
  captures: string[];
  watch: string[] | undefined;
  wait: boolean;
  /** every process started, for the caller to stop */
  children: Child[];
  signalled: Promise<NodeJS.Signals>;
  untilSignal: <T>(p: Promise<T>) => Promise<T>;
}

async function session(s: Session): Promise<number> {
  const url = `http://127.0.0.1:${s.port}`;
  const apiToken = token();
  const sensorToken = token();
  // Tokens go through the environment, not the command line, so they do not show in the process list.
  const collector = startChild('collector', ['collector', '--listen', `127.0.0.1:${s.port}`, '--db', `sqlite:${join(s.dir, 'phonehome.db')}`, '--log-level', 'warn'], {
    PHONEHOME_SENSOR_TOKENS: `demo:${sensorToken}`,
    PHONEHOME_API_TOKEN: apiToken,
  });
  s.children.push(collector);
  await s.untilSignal(waitReady(url, collector));
  collector.ready = true;

  // One sensor run per capture: the samples were recorded at different times, and one pipeline over
  // both would judge each device's beacons against the whole span of both, hiding the Hue bridge's.
  for (const input of s.captures) {
    const sensor = startChild(
      'sensor',
      ['sensor', '--input', input, '--collector', url, '--once', '--name', 'demo', '--spool', join(s.dir, 'spool'), '--log-level', 'warn', ...(s.watch ? ['--watch-countries', s.watch.join(',')] : [])],
      { PHONEHOME_TOKEN: sensorToken },
    );
    s.children.push(sensor);
    // --once exits 0 only after the collector accepted every batch: from here on the API shows everything.
    const sensorCode = await s.untilSignal(sensor.exited);
    if (sensorCode !== 0) throw new DemoFailure(`the sensor could not deliver ${basename(input)} (exit ${sensorCode}): ${sensor.tail() || 'no message'}`, sensorCode === 2 ? 2 : 1);
  }

  const get = async <T>(path: string): Promise<T> => {
    const r = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${apiToken}` } }).catch((e: Error) => {
      throw new DemoFailure(`GET ${url}${path}: ${e.message}`);
    });
    if (!r.ok) throw new DemoFailure(`GET ${url}${path} answered ${r.status}`);
    return (await r.json()) as T;
  };
  const alerts = (await s.untilSignal(get<{ items: AlertItem[] }>('/api/v1/alerts?limit=1000'))).items;
  const devices = (await s.untilSignal(get<{ items: unknown[] }>('/api/v1/devices'))).items;
  printSummary({ url, apiToken, captures: s.captures, dir: s.dir, alerts, devices: devices.length, wait: s.wait });
  if (!s.wait) return 0;

  const stop = await Promise.race([s.signalled, collector.exited.then(() => null)]);
  if (stop === null) throw new DemoFailure(`the collector stopped unexpectedly (exit ${collector.proc.exitCode}): ${collector.tail() || 'no message'}`);
  process.stdout.write(`\n${stop}: stopping the collector.\n`);
  return 0;
}

async function waitReady(url: string, c: Child): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    if (c.proc.exitCode !== null) throw new DemoFailure(`the collector did not start: ${c.tail() || `exit ${c.proc.exitCode}`}`);
    if (Date.now() > deadline) throw new DemoFailure(`the collector did not answer on ${url}/readyz within ${START_TIMEOUT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function printSummary(s: { url: string; apiToken: string; captures: string[]; dir: string; alerts: AlertItem[]; devices: number; wait: boolean }): void {
  const byRule = new Map<string, number>();
  for (const a of s.alerts) byRule.set(a.rule, (byRule.get(a.rule) ?? 0) + 1);
  const rules = [...byRule].map(([r, n]) => `${n} ${r}`).join(', ');
  const shown = s.alerts.slice(0, 10);
  const auth = `-H 'Authorization: Bearer ${s.apiToken}'`;
  const out = [
    `Replayed ${s.captures.map((f) => basename(f)).join(' and ')} through a sensor into a collector at ${s.url}.`,
    `Found ${s.devices} device${s.devices === 1 ? '' : 's'} and ${s.alerts.length} alert${s.alerts.length === 1 ? '' : 's'}${rules ? ` (${rules})` : ''}:`,
    // Messages name what devices sent (host and server names): inert on the terminal.
    ...shown.map((a) => terminalSafe(`  ${a.severity.padEnd(8)} ${a.rule.padEnd(24)} ${a.message}`)),
    ...(s.alerts.length > shown.length ? [`  ... and ${s.alerts.length - shown.length} more`] : []),
    '',
    `Web UI:    ${s.url}/ui (log in with the token below)`,
    'Alerts:',
    `  curl ${auth} ${s.url}/api/v1/alerts`,
    'Devices:',
    `  curl ${auth} ${s.url}/api/v1/devices`,
    `Metrics:   ${s.url}/metrics`,
    `API docs:  ${s.url}/docs`,
    `Data:      ${s.dir} (removed when the demo stops)`,
    '',
    s.wait ? 'The collector keeps running; press Ctrl-C to stop it.' : 'Stopping the collector (--no-wait).',
    '',
  ];
  process.stdout.write(out.join('\n'));
}

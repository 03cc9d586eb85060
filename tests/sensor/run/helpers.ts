// A stand-in collector (records what sensors POST) and helpers to run the
// built `phonehome sensor` as a real process.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AlertRecord, FlowRecord, IngestBatch, IngestEvent } from '../../../contract/types.js';
import { afterEach } from 'vitest';
import { CLI, phonehome } from '../../helpers/cli.js';

export const TOKEN = 'test-token-123';

export class FakeCollector {
  readonly batches: IngestBatch[] = [];
  /** every request, answered or not: status given */
  readonly requests: { status: number; auth: string | undefined }[] = [];
  /** what to answer; 200 takes the batch */
  status = 200;
  /**
   * Answers as the collector's ingest contract does: the indexes returned
   * are refused (listed in the 200 answer with code and reason), the other
   * events are stored. null: take everything.
   */
  refuse: ((e: IngestEvent, i: number) => { code: string; reason: string } | null) | null = null;
  /** the largest body taken, in events: a larger batch is answered 413 */
  maxEvents = Infinity;
  /** raw bodies of every request, as received */
  readonly bodies: string[] = [];
  private server: Server | null = null;
  port = 0;

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const auth = req.headers.authorization;
        let status = this.status;
        const raw = Buffer.concat(chunks).toString('utf8');
        this.bodies.push(raw);
        if (req.url !== '/api/v1/events' || req.method !== 'POST') status = 404;
        else if (auth !== `Bearer ${TOKEN}`) status = 401;
        else if (status === 200 && (JSON.parse(raw) as IngestBatch).events.length > this.maxEvents) status = 413;
        this.requests.push({ status, auth });
        if (status === 200) {
          const b = JSON.parse(raw) as IngestBatch;
          const refused = this.refuse ? b.events.flatMap((e, index) => {
            const r = this.refuse!(e, index);
            return r ? [{ index, key: e.key, ...r }] : [];
          }) : [];
          const gone = new Set(refused.map((r) => r.index));
          this.batches.push({ ...b, events: b.events.filter((_, i) => !gone.has(i)) });
          const answer = this.refuse ? { accepted: b.events.length - refused.length, duplicates: 0, refused } : { accepted: b.events.length, duplicates: 0 };
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
        } else {
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `test says ${status}` }));
        }
      });
    });
    await new Promise<void>((ok) => this.server!.listen(port, '127.0.0.1', ok));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((ok) => s.close(() => ok()));
  }

  events(kind?: IngestEvent['kind']): IngestEvent[] {
    const all = this.batches.flatMap((b) => b.events);
    return kind ? all.filter((e) => e.kind === kind) : all;
  }

  flows(): FlowRecord[] {
    return this.events('flow').map((e) => e.data as FlowRecord);
  }

  /** The last (largest) version of each alert, as the collector would keep it. */
  finalAlerts(): Map<string, AlertRecord> {
    const out = new Map<string, AlertRecord>();
    for (const e of this.events('alert')) {
      const a = e.data as AlertRecord;
      const had = out.get(a.id);
      if (!had || a.evidence.flows >= had.evidence.flows) out.set(a.id, a);
    }
    return out;
  }
}

export interface Running {
  child: ChildProcess;
  stderr: () => string;
  exit: Promise<number | null>;
}

/** Starts `phonehome sensor ...` as a real process. */
export function startSensor(args: string[], opts: { stdin?: 'pipe' | 'ignore'; env?: NodeJS.ProcessEnv } = {}): Running {
  const child = spawn(process.execPath, [CLI, 'sensor', ...args], { stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  child.stdout!.resume();
  const exit = new Promise<number | null>((ok) => child.on('close', (code) => ok(code)));
  return { child, stderr: () => err, exit };
}

/**
 * The sensors and fake collectors a test file starts, each stopped after its
 * test. `always`: arguments every sensor of the file gets (the token, say).
 */
export function useSensorRig(always: string[] = []) {
  const running: Running[] = [];
  const collectors: FakeCollector[] = [];
  afterEach(async () => {
    for (const r of running.splice(0)) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    for (const c of collectors.splice(0)) await c.close();
  });
  return {
    /** a fake collector answering `status` to every batch */
    collector: async (status = 200): Promise<FakeCollector> => {
      const c = await new FakeCollector().start();
      c.status = status;
      collectors.push(c);
      return c;
    },
    sensor: (args: string[], opts?: Parameters<typeof startSensor>[1]): Running => {
      const r = startSensor([...args, ...always], opts);
      running.push(r);
      return r;
    },
  };
}

/** A new empty directory per call, under one temporary directory (`prefix`). */
export function freshDirs(prefix: string): (name?: string) => string {
  const root = mkdtempSync(join(tmpdir(), prefix));
  let n = 0;
  return (name = 'dir') => {
    const d = join(root, `${name}-${++n}`);
    mkdirSync(d, { recursive: true });
    return d;
  };
}

/** A spooled batch body of one flow event `flow:i`, padded by `pad` bytes. */
export const batchBody = (i: number, pad = 0): string =>
  JSON.stringify({ batch_id: `b${i}`, sensor: { name: 's', version: '1', lag_s: null }, events: [{ kind: 'flow', key: `flow:${i}`, data: { pad: 'x'.repeat(pad) } }] });

/** pino lines of a sensor's stderr. */
export function logLines(stderr: string): Record<string, unknown>[] {
  return stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 50));
  }
}

export const jsonl = <T>(file: string): T[] => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);

/** What `phonehome analyze --out DIR` writes for these captures: the sensor's oracle. */
export function analyzed(out: string, captures: string[]): { flows: FlowRecord[]; alerts: AlertRecord[] } {
  const r = phonehome(['analyze', ...captures, '--out', out]);
  if (r.code !== 0) throw new Error(`analyze exited ${r.code}: ${r.stderr}`);
  return { flows: jsonl<FlowRecord>(join(out, 'flows.jsonl')), alerts: jsonl<AlertRecord>(join(out, 'alerts.jsonl')) };
}

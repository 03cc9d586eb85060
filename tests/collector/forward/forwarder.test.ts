// The collector's SIEM forwarder end to end: real alerts from the bundled
// captures ingested by the collector (SQLite and a real PostgreSQL), sent to
// a real rsyslogd and a local HTTP server. Receivers down at first, stopped
// mid-way and back, a collector restarted with alerts still waiting, two
// collectors sharing a database: every alert arrives, none is lost, and in
// normal operation none is sent twice.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULTS, type CollectorConfig } from '../../../collector/config.js';
import { buildCollector } from '../../../collector/server.js';
import { openStore } from '../../../collector/store/open.js';
import type { Store } from '../../../collector/store/store.js';
import type { AlertRecord, IngestEvent } from '../../../contract/types.js';
import { SENSOR_TOKEN, startCollector } from '../../helpers/collector.js';
import { fixture } from '../../helpers/corpus.js';
import { batch, eventsOf, realEvents, type RealEvents } from '../../helpers/events.js';
import { startPostgres, type TestPostgres } from '../../helpers/postgres.js';
import { rsyslogAvailable, startRsyslog, type Rsyslog } from '../../helpers/rsyslog.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-forward-'));
let ev: RealEvents;
let pg: TestPostgres | null = null;

beforeAll(async () => {
  ev = await realEvents([fixture('TP-LinkPlugHS110'), fixture('HueBridge'), fixture('WeMoSwitch')], { watchCountries: ['US', 'IE', 'CN'] });
  expect(ev.alerts.length).toBeGreaterThan(3);
  pg = await startPostgres();
}, 120_000);
afterAll(async () => {
  await pg?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** A webhook receiver that refuses (503) while `up` is false, and keeps every document it took. */
class Webhook {
  up = false;
  readonly docs: Record<string, unknown>[] = [];
  private server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (!this.up) return void res.writeHead(503).end('down');
      this.docs.push(...(JSON.parse(body) as Record<string, unknown>[]));
      res.writeHead(200).end();
    });
  });
  url = '';
  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/siem`;
    return this;
  }
  ids = (): string[] => this.docs.map((d) => (d.phonehome as AlertRecord).id);
  close = (): Promise<void> => new Promise((r) => (this.server.closeAllConnections(), this.server.close(() => r())));
}

const waitUntil = async (what: string, ok: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> => {
  const until = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

/** The fixtures' alerts under new ids: another batch of new alerts. */
const renamed = (suffix: string): IngestEvent[] => ev.alerts.map((a, i) => ({ kind: 'alert', key: `${suffix}-${i}`, data: { ...a, id: `${a.id}-${suffix}` } }));

async function ingest(app: FastifyInstance, events: IngestEvent[], id: string): Promise<number> {
  const t0 = Date.now();
  const r = await app.inject({ method: 'POST', url: '/api/v1/events', headers: { authorization: `Bearer ${SENSOR_TOKEN}` }, payload: batch(events, id) });
  expect(r.statusCode, r.body).toBe(200);
  return Date.now() - t0;
}

const config = (db: string, over: Partial<CollectorConfig>): CollectorConfig => ({
  ...DEFAULTS, db, sensorTokens: [{ name: 'lab', secret: SENSOR_TOKEN }], apiToken: 'analyst-secret-0123456789', logLevel: 'silent', forwardRetryMaxS: 1, ...over,
});

const sqliteUrl = () => `sqlite:${join(tmp, `f-${Date.now()}-${Math.random()}.db`)}`;
const backends: [string, () => Promise<string>][] = [
  ['sqlite', async () => sqliteUrl()],
  ['postgres', async () => pg!.createDatabase()],
];

describe.skipIf(!rsyslogAvailable()).each(backends)('forwarder on %s', (_name, dbUrl) => {
  it('receivers down at first and stopped mid-way: every alert reaches rsyslog and the webhook once they are back', async () => {
    const rs: Rsyslog = await startRsyslog();
    await rs.stop();
    const hook = await new Webhook().start();
    const store: Store = await openStore(await dbUrl());
    const app = await buildCollector(config('unused', { forwardSyslog: `tcp://127.0.0.1:${rs.port}`, forwardWebhook: hook.url, forwardFormat: 'eve' }), store, { logger: false });
    try {
      await app.ready();
      await ingest(app, eventsOf(ev), 'b1');
      const n1 = ev.alerts.length;
      await waitUntil('failures to be counted', async () => /phonehome_collector_forward_failures_total\{target="webhook"\} [1-9]/.test((await app.inject('/metrics')).body));
      const metrics = (await app.inject('/metrics')).body;
      expect(metrics).toContain(`phonehome_collector_forward_outbox_depth{target="syslog"} ${n1}`);
      expect(metrics).toContain(`phonehome_collector_forward_outbox_depth{target="webhook"} ${n1}`);

      await rs.restart();
      hook.up = true;
      await rs.waitFor(n1);
      await waitUntil('the webhook to take the first batch', () => hook.docs.length >= n1);

      // Stopped mid-way: new alerts arrive while the receivers are down, and go once they are back.
      await rs.stop();
      hook.up = false;
      await ingest(app, renamed('second'), 'b2');
      await new Promise((r) => setTimeout(r, 1500));
      await rs.restart();
      hook.up = true;
      const all = [...ev.alerts.map((a) => a.id), ...ev.alerts.map((a) => `${a.id}-second`)].sort();
      await waitUntil('rsyslog to have every alert', () => new Set(rs.messages().map((m) => JSON.parse(m.msg).phonehome.id)).size === all.length);
      await waitUntil('the webhook to have every alert', () => new Set(hook.ids()).size === all.length);
      expect([...new Set(rs.messages().map((m) => JSON.parse(m.msg).phonehome.id as string))].sort()).toEqual(all);
      expect([...new Set(hook.ids())].sort()).toEqual(all);
      await waitUntil('the outbox to empty', async () => (await store.outbox.depth()).every((d) => d.rows === 0));
      const after = (await app.inject('/metrics')).body;
      expect(after).toMatch(new RegExp(`phonehome_collector_forward_sent_total\\{target="syslog"\\} (\\d+)`));
      expect(Number(/forward_sent_total\{target="webhook"\} (\d+)/.exec(after)![1])).toBeGreaterThanOrEqual(all.length);

      // What arrived is each alert in EVE shape, with its first flow's Community ID.
      const eve = rs.messages().map((m) => JSON.parse(m.msg));
      for (const a of ev.alerts) {
        const rec = eve.find((e) => e.phonehome.id === a.id);
        const flow = ev.flows.find((f) => f.uid === a.evidence.uids[0]);
        expect(rec.event_type).toBe('alert');
        expect(rec.host).toBe('lab');
        if (flow?.community_id) expect(rec.community_id).toBe(flow.community_id);
      }
    } finally {
      await app.close();
      await store.close();
      await rs.stop();
      rs.remove();
      await hook.close();
    }
  }, 90_000);

  it('a receiver that never answers does not hold up ingest', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const store = await openStore(await dbUrl());
    const app = await buildCollector(config('unused', { forwardWebhook: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/` }), store, { logger: false });
    try {
      await app.ready();
      await ingest(app, eventsOf(ev), 'b1');
      await new Promise((r) => setTimeout(r, 300));
      // The forwarder's request is now hanging; batches are stored as fast as without it.
      for (let i = 0; i < 5; i++) expect(await ingest(app, renamed(`slow${i}`), `s${i}`)).toBeLessThan(2000);
      expect((await store.outbox.depth()).find((d) => d.target === 'webhook')?.rows).toBe(ev.alerts.length * 6);
    } finally {
      silent.closeAllConnections();
      silent.close();
      await app.close();
      await store.close();
    }
  }, 60_000);
});

describe('a collector restarted with alerts in its outbox', () => {
  it('sends them after the restart: nothing is lost', async () => {
    const hook = await new Webhook().start();
    const file = join(tmp, 'restart.db');
    const conf = join(tmp, 'forward.yaml');
    writeFileSync(conf, `forward_webhook: ${hook.url}\nforward_format: ecs\nforward_retry_max_s: 1\n`);
    let c = await startCollector(`sqlite:${file}`, ['--config', conf]);
    try {
      const r = await fetch(`${c.url}/api/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${SENSOR_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(batch(eventsOf(ev), 'b1')) });
      expect(r.status).toBe(200);
      await new Promise((r) => setTimeout(r, 1000));
      expect(await c.stop()).toBe(0);
      const db = new Database(file, { readonly: true });
      const rows = db.prepare(`SELECT COUNT(*) AS n FROM forward_outbox WHERE target = 'webhook' AND claimed_by IS NULL`).get() as { n: number };
      db.close();
      expect(rows.n).toBe(ev.alerts.length);
      expect(hook.docs).toHaveLength(0);

      hook.up = true;
      c = await startCollector(`sqlite:${file}`, ['--config', conf]);
      await waitUntil('the webhook to have every alert', () => hook.docs.length >= ev.alerts.length);
      expect([...new Set(hook.ids())].sort()).toEqual(ev.alerts.map((a) => a.id).sort());
      // ECS as configured.
      expect(hook.docs.every((d) => (d.event as { kind: string }).kind === 'alert' && (d.ecs as { version: string }).version)).toBe(true);
    } finally {
      await c.stop();
      await hook.close();
    }
  }, 60_000);
});

describe('two collectors sharing one PostgreSQL database', () => {
  it('send each alert once', async () => {
    const hook = await new Webhook().start();
    hook.up = true;
    const url = await pg!.createDatabase();
    const stores = [await openStore(url), await openStore(url)];
    const apps = await Promise.all(stores.map((s) => buildCollector(config('unused', { forwardWebhook: hook.url }), s, { logger: false })));
    try {
      await Promise.all(apps.map((a) => a.ready()));
      const batches = Array.from({ length: 6 }, (_, i) => renamed(`c${i}`));
      await Promise.all(batches.map((b, i) => ingest(apps[i % 2], b, `b${i}`)));
      const total = batches.length * ev.alerts.length;
      await waitUntil('the webhook to have every alert', () => hook.docs.length >= total);
      await new Promise((r) => setTimeout(r, 1500));
      expect(hook.docs).toHaveLength(total);
      expect(new Set(hook.ids()).size).toBe(total);
    } finally {
      await Promise.all(apps.map((a) => a.close()));
      await Promise.all(stores.map((s) => s.close()));
      await hook.close();
    }
  }, 60_000);
});

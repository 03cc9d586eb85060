// The collector's error catalogue and its one error handler, over real HTTP
// on loopback: the collector's own Fastify server (buildCollector) on a real
// SQLite store. Every catalogue error answers with its status and body; the
// bodies below are the ones the collector has always sent, byte for byte.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode, isPhonehomeError, type PhonehomeError } from '../../contract/errors.js';
import { DEFAULTS } from '../../collector/config.js';
import {
  BadTimeError,
  ClientCertificateError,
  CollectorConfigError,
  DatabaseNotReadyError,
  ForbiddenError,
  NotFoundError,
  StoreError,
  UnauthorizedError,
} from '../../collector/errors.js';
import { buildCollector } from '../../collector/server.js';
import { openStore } from '../../collector/store/open.js';
import type { Store } from '../../collector/store/store.js';

const SENSOR = 'lab-sensor-secret-0123456789';
const ANALYST = 'analyst-secret-0123456789';
const SCRAPER = 'metrics-secret-0123456789';
const INTERNAL = { error: 'Error', message: 'internal error (logged)' };

interface Expected {
  error: PhonehomeError;
  code: string;
  exitCode: number;
  status: number;
  body: object;
  headers?: Record<string, string>;
}

/** Every class of the catalogue (every code of StoreError), with what a client receives when a route throws it. */
const CATALOGUE: Expected[] = [
  { error: new CollectorConfigError('--api-token must be at least 16 characters'), code: 'COLLECTOR_CONFIG', exitCode: 2, status: 500, body: { statusCode: 500, ...INTERNAL } },
  { error: new StoreError('BAD_URL', "database URL must be sqlite:PATH or postgres://..., got 'x'"), code: 'BAD_URL', exitCode: 2, status: 500, body: { statusCode: 500, ...INTERNAL } },
  { error: new StoreError('UNREACHABLE', 'cannot connect to PostgreSQL at db:5432/p: refused'), code: 'UNREACHABLE', exitCode: 2, status: 503, body: { statusCode: 503, ...INTERNAL } },
  { error: new StoreError('MIGRATION', 'cannot migrate SQLite database x.db: disk full'), code: 'MIGRATION', exitCode: 2, status: 500, body: { statusCode: 500, ...INTERNAL } },
  {
    error: new StoreError('BAD_CURSOR', "cursor 'zz' was not issued by this collector"), code: 'BAD_CURSOR', exitCode: 2, status: 400,
    body: { statusCode: 400, error: 'Bad Request', message: "cursor 'zz' was not issued by this collector" },
  },
  {
    error: new StoreError('BAD_EVENT', 'event 0 (flow k): uid must be a non-empty string; nothing of the batch was stored'), code: 'BAD_EVENT', exitCode: 2, status: 400,
    body: { statusCode: 400, error: 'Bad Request', message: 'event 0 (flow k): uid must be a non-empty string; nothing of the batch was stored' },
  },
  {
    error: new UnauthorizedError('API'), code: 'UNAUTHORIZED', exitCode: 2, status: 401,
    body: { statusCode: 401, error: 'Unauthorized', message: 'a valid API token is required (Authorization: Bearer <token>)' },
    headers: { 'www-authenticate': 'Bearer' },
  },
  {
    error: new BadTimeError('from', 'yesterday'), code: 'BAD_TIME', exitCode: 2, status: 400,
    body: { statusCode: 400, error: 'Bad Request', message: "querystring/from must be epoch seconds or an ISO 8601 time, got 'yesterday'" },
  },
  {
    error: new ForbiddenError('ro', 'viewer', 'analyst', 'changing an alert'), code: 'FORBIDDEN', exitCode: 2, status: 403,
    body: { statusCode: 403, error: 'Forbidden', message: "API token 'ro' has role viewer; changing an alert needs analyst" },
  },
  {
    error: new ClientCertificateError('none was presented'), code: 'CLIENT_CERT_REQUIRED', exitCode: 2, status: 403,
    body: { statusCode: 403, error: 'Forbidden', message: "sensors must present a client certificate signed by the collector's --tls-client-ca (none was presented)" },
  },
  { error: new NotFoundError('alert', 'a-1'), code: 'ALERT_NOT_FOUND', exitCode: 2, status: 404, body: { statusCode: 404, error: 'Not Found', message: 'no alert a-1' } },
  {
    error: new NotFoundError('evidence', 'a-1'), code: 'EVIDENCE_NOT_FOUND', exitCode: 2, status: 404,
    body: { statusCode: 404, error: 'Not Found', message: 'no evidence capture for alert a-1' },
  },
  { error: new NotFoundError('device', 'AA:BB'), code: 'DEVICE_NOT_FOUND', exitCode: 2, status: 404, body: { statusCode: 404, error: 'Not Found', message: 'no device AA:BB' } },
  {
    error: new DatabaseNotReadyError('postgres', 'Connection terminated'), code: 'DB_NOT_READY', exitCode: 2, status: 503,
    body: { status: 'unavailable', db: 'postgres', message: 'Connection terminated' },
  },
];

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-errors-'));
let store: Store;
let app: FastifyInstance;
let url = '';

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

async function call(path: string, init: RequestInit & { token?: string | null } = {}): Promise<Answer> {
  const headers = new Headers(init.headers);
  if (init.token !== null) headers.set('authorization', `Bearer ${init.token ?? ANALYST}`);
  if (init.body && !headers.has('content-type')) headers.set('content-type', 'application/json');
  const r = await fetch(`${url}${path}`, { ...init, headers });
  return { status: r.status, headers: r.headers, text: await r.text() };
}

const ingest = (events: unknown[], token: string | null = SENSOR, id = 'b') =>
  call('/api/v1/events', { method: 'POST', body: JSON.stringify({ batch_id: id, sensor: { name: 'lab', version: 't' }, events }), token });

beforeAll(async () => {
  store = await openStore(`sqlite:${join(tmp, 'errors.db')}`);
  const config = { ...DEFAULTS, sensorTokens: [{ name: 'lab', secret: SENSOR }], apiToken: ANALYST, metricsToken: SCRAPER, bodyLimitBytes: 4000, rateLimitPerMinute: 8 };
  app = await buildCollector(config, store, { logger: false });
  // Routes that only throw, so that errors no real route can raise (a config or migration error) still go through the handler.
  app.get<{ Params: { i: string } }>('/throw/:i', async (req) => {
    throw CATALOGUE[Number(req.params.i)].error;
  });
  app.get('/throw-bug', async () => {
    throw new TypeError("Cannot read properties of undefined (reading 'x')");
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await app?.close();
  await store?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('the error catalogue', () => {
  it('every error is a PhonehomeError with its stable code, exit code and HTTP status', () => {
    for (const x of CATALOGUE) {
      expect(isPhonehomeError(x.error), x.code).toBe(true);
      expect({ code: x.error.code, exitCode: x.error.exitCode, httpStatus: x.error.httpStatus }, x.code).toEqual({ code: x.code, exitCode: x.exitCode, httpStatus: x.status });
      expect(x.error.name, x.code).toBe(x.error.constructor.name);
    }
    expect(new Set(CATALOGUE.map((x) => x.code)).size).toBe(CATALOGUE.length);
    expect(new CollectorConfigError('x').exitCode).toBe(ExitCode.USAGE);
  });

  it('messages are made from the fields', () => {
    expect(new StoreError('BAD_EVENT', 'detail text')).toMatchObject({ message: 'detail text', detail: 'detail text' });
    expect(new UnauthorizedError('metrics').message).toBe('a valid metrics token is required (Authorization: Bearer <token>)');
    expect(new BadTimeError('to', 'x y')).toMatchObject({ parameter: 'to', value: 'x y', message: "querystring/to must be epoch seconds or an ISO 8601 time, got 'x y'" });
  });
});

describe('the error handler, over HTTP', () => {
  it.each(CATALOGUE.map((x, i) => [x.code, i] as const))('%s: its status and body', async (_code, i) => {
    const want = CATALOGUE[i];
    const r = await call(`/throw/${i}`);
    expect(r.status).toBe(want.status);
    expect(r.text).toBe(JSON.stringify(want.body));
    expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(r.headers.get('www-authenticate')).toBe(want.headers?.['www-authenticate'] ?? null);
  });

  it('anything else is a 500 that tells the client nothing', async () => {
    const r = await call('/throw-bug');
    expect(r.status).toBe(500);
    expect(r.text).toBe('{"statusCode":500,"error":"Error","message":"internal error (logged)"}');
  });

  it('the routes raise catalogue errors: tokens, unknown ids, bad times and cursors, refused events', async () => {
    const want = (status: number, error: string, message: string) => ({ status, text: JSON.stringify({ statusCode: status, error, message }) });
    const got = async (p: Promise<Answer>) => {
      const r = await p;
      return { status: r.status, text: r.text };
    };
    const unauthorized = (kind: string) => want(401, 'Unauthorized', `a valid ${kind} token is required (Authorization: Bearer <token>)`);
    expect(await got(ingest([], null))).toEqual(unauthorized('sensor'));
    expect(await got(ingest([], ANALYST))).toEqual(unauthorized('sensor'));
    expect(await got(call('/api/v1/alerts', { token: SENSOR }))).toEqual(unauthorized('API'));
    expect(await got(call('/metrics', { token: null }))).toEqual(unauthorized('metrics'));
    expect((await call('/api/v1/devices', { token: null })).headers.get('www-authenticate')).toBe('Bearer');
    expect(await got(call('/api/v1/alerts/nope'))).toEqual(want(404, 'Not Found', 'no alert nope'));
    expect(await got(call('/api/v1/alerts/nope', { method: 'PATCH', body: JSON.stringify({ status: 'acknowledged', who: 'x' }) }))).toEqual(want(404, 'Not Found', 'no alert nope'));
    expect(await got(call('/api/v1/alerts/nope/pcap'))).toEqual(want(404, 'Not Found', 'no evidence capture for alert nope'));
    expect(await got(call('/api/v1/devices/AA:BB:CC'))).toEqual(want(404, 'Not Found', 'no device AA:BB:CC'));
    expect(await got(call('/api/v1/alerts?from=yesterday'))).toEqual(want(400, 'Bad Request', "querystring/from must be epoch seconds or an ISO 8601 time, got 'yesterday'"));
    expect(await got(call('/api/v1/alerts?to=x%20y'))).toEqual(want(400, 'Bad Request', "querystring/to must be epoch seconds or an ISO 8601 time, got 'x y'"));
    expect(await got(call('/api/v1/alerts?cursor=garbage'))).toEqual(want(400, 'Bad Request', "cursor 'garbage' was not issued by this collector"));
    const badPcap = [{ kind: 'evidence', key: 'e1', data: { alert_id: 'a', pcap_base64: 'not base64!' } }];
    // A bad event is not an error of the request: it is refused on its own in the 200 answer.
    expect(await got(ingest(badPcap))).toEqual({
      status: 200,
      text: JSON.stringify({ accepted: 0, duplicates: 0, refused: [{ index: 0, key: 'e1', code: 'invalid_event', reason: 'data.pcap_base64 must be base64' }] }),
    });
  });

  it("Fastify's own errors keep their shape: validation, bad JSON, body limit", async () => {
    const body = async (p: Promise<Answer>) => (await p).text;
    expect(await body(call('/api/v1/alerts?severity=urgent'))).toBe('{"statusCode":400,"error":"Bad Request","message":"querystring/severity must be equal to one of the allowed values"}');
    expect(await body(call('/api/v1/alerts?limit=0'))).toBe('{"statusCode":400,"error":"Bad Request","message":"querystring/limit must be >= 1"}');
    expect(await body(call('/api/v1/alerts/x', { method: 'PATCH', body: JSON.stringify({ status: 'gone', who: 'x' }) }))).toBe(
      '{"statusCode":400,"error":"Bad Request","message":"body/status must be equal to one of the allowed values"}',
    );
    expect(await body(call('/api/v1/events', { method: 'POST', body: JSON.stringify({ batch_id: 'x' }), token: SENSOR }))).toBe(
      `{"statusCode":400,"error":"Bad Request","message":"body must have required property 'sensor'"}`,
    );
    expect(await body(call('/api/v1/events', { method: 'POST', body: '{"batch_id": ', token: SENSOR }))).toBe(
      `{"statusCode":400,"error":"Bad Request","message":"Body is not valid JSON but content-type is set to 'application/json'"}`,
    );
    const big = await ingest([{ kind: 'evidence', key: 'e2', data: { alert_id: 'a', pcap_base64: 'A'.repeat(5000) } }]);
    expect(big).toMatchObject({ status: 413, text: '{"statusCode":413,"error":"Payload Too Large","message":"Request body is too large"}' });
  });

  it('a sensor over its rate limit gets 429; every refused delivery is counted by reason', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await ingest([], SENSOR, `ok-${i}`)).status);
    const limited = await ingest([], SENSOR, 'over');
    expect(statuses).toContain(429);
    expect(limited.text).toBe('{"statusCode":429,"error":"Too Many Requests","message":"Rate limit exceeded, retry in 1 minute"}');
    const metrics = (await call('/metrics', { token: SCRAPER })).text;
    const rejected = Object.fromEntries([...metrics.matchAll(/^phonehome_ingest_rejected_total\{reason="(\w+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
    // From the tests above: 2 unauthorized; invalid: missing sensor, bad JSON; 1 too large.
    expect(rejected).toEqual({ unauthorized: 2, invalid: 2, too_large: 1, rate_limited: statuses.filter((s) => s === 429).length + 1 });
  });

  it('readiness answers 503 with a report naming the database once it is gone', async () => {
    expect(await call('/readyz', { token: null })).toMatchObject({ status: 200, text: '{"status":"ready","db":"sqlite"}' });
    await store.close();
    expect(await call('/readyz', { token: null })).toMatchObject({ status: 503, text: '{"status":"unavailable","db":"sqlite","message":"The database connection is not open"}' });
    expect(await call('/api/v1/alerts')).toMatchObject({ status: 500, text: '{"statusCode":500,"error":"Error","message":"internal error (logged)"}' });
  });
});

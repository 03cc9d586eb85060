import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { isPhonehomeError } from '../contract/errors.js';
import { AlertmanagerClient } from './alertmanager.js';
import { forwarderOf } from './forward/forwarder.js';
import { requireClientCertificate, TokenSet } from './auth.js';
import { apiTokensOf, type CollectorConfig, type TlsMaterial } from './config.js';
import type { CollectorContext } from './context.js';
import { DatabaseNotReadyError, UnauthorizedError } from './errors.js';
import { CollectorMetrics } from './metrics/registry.js';
import { RetentionJob } from './retention.js';
import { alertRoutes } from './routes/alerts.js';
import { deadLetterRoutes } from './routes/dead-letters.js';
import { auditRoutes } from './routes/audit.js';
import { deviceRoutes } from './routes/devices.js';
import { healthRoutes } from './routes/health.js';
import { ingestRoutes } from './routes/ingest.js';
import { flowRoutes } from './routes/flows.js';
import { muteRoutes } from './routes/mutes.js';
import { registerUi } from './ui/index.js';
import { Sessions } from './ui/session.js';
import type { Store } from './store/store.js';
import { jsonSafe } from '../contract/escape.js';

export const VERSION = '0.1.0';

/**
 * Where secrets could reach a log line: request headers, and settings logged
 * whole. Nothing logs them today; this keeps it so.
 */
export const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'config.apiToken',
  'config.metricsToken',
  'config.apiTokens[*].secret',
  'config.sensorTokens[*].secret',
];

/** HTTPS options: with a client CA, every client is asked for a certificate, and the ingest route requires one. */
function httpsOptions(tls: TlsMaterial): object {
  return { cert: tls.cert, key: tls.key, ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: false } : {}) };
}

/** The collector's HTTP(S) server, ready to listen; `app.retention` is started by the caller once it listens. */
export async function buildCollector(config: CollectorConfig, store: Store, opts: { logger?: boolean | object; tls?: TlsMaterial | null } = {}): Promise<FastifyInstance> {
  const app = Fastify({
    // Log lines quote what sensors and clients sent: C1 and DEL escaped too (pino leaves them raw).
    logger: opts.logger ?? { level: config.logLevel, redact: { paths: REDACT, censor: '[redacted]' }, hooks: { streamWrite: jsonSafe } },
    bodyLimit: config.bodyLimitBytes,
    // Deep nesting is an attack, not an event.
    ajv: { customOptions: { allErrors: false } },
    ...(opts.tls ? { https: httpsOptions(opts.tls) } : {}),
  });
  const metrics = new CollectorMetrics(store);
  const sessions = new Sessions();
  const ctx: CollectorContext = {
    config,
    store,
    metrics,
    sensors: new TokenSet(config.sensorTokens),
    analysts: new TokenSet(apiTokensOf(config)),
    alertmanager: config.alertmanager ? new AlertmanagerClient(config.alertmanager, config.publicUrl, app.log, store) : null,
    forwarder: forwarderOf(config, store, VERSION, metrics.registry, app.log),
    clientCertificates: Boolean(opts.tls?.ca),
    sessions,
  };
  const forwarder = ctx.forwarder;
  if (forwarder) {
    app.addHook('onReady', async () => forwarder.start());
    app.addHook('onClose', () => forwarder.stop());
  }
  const retention = new RetentionJob(store, config.retentionDays, metrics.registry, app.log);
  app.decorate('retention', retention);
  app.addHook('onClose', () => retention.stop());
  // Mutual TLS guards what sensors send; analysts and dashboards authenticate with their tokens alone.
  if (ctx.clientCertificates) {
    const check = requireClientCertificate();
    app.addHook('onRequest', async (req) => {
      if (req.routeOptions.url === '/api/v1/events') await check(req);
    });
  }
  app.setErrorHandler(errorHandler(metrics));

  await app.register(swagger, {
    openapi: {
      info: { title: 'phonehome collector', version: VERSION, description: 'Devices, flows and alerts from phonehome sensors.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(rateLimit, { global: false });

  await app.register(async (scope) => ingestRoutes(scope, ctx));
  await app.register(async (scope) => alertRoutes(scope, ctx));
  await app.register(async (scope) => deviceRoutes(scope, ctx));
  await app.register(async (scope) => deadLetterRoutes(scope, ctx));
  await app.register(async (scope) => healthRoutes(scope, ctx));
  await app.register(async (scope) => auditRoutes(scope, ctx));
  await app.register(async (scope) => flowRoutes(scope, ctx));
  await app.register(async (scope) => muteRoutes(scope, ctx));
  await registerUi(app, ctx, sessions, Boolean(opts.tls));
  return app;
}

/** Reason phrases of error bodies; a status not listed says 'Error'. */
const REASONS: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 413: 'Payload Too Large', 429: 'Too Many Requests' };

/** Why the collector refused an ingest request, by the status it answered with. */
const REJECTED: Record<number, string> = { 400: 'invalid', 401: 'unauthorized', 403: 'unauthorized', 413: 'too_large', 429: 'rate_limited' };

/** What routes, hooks, Fastify and its plugins throw: catalogue errors, or errors with a statusCode (validation, body limit, rate limit). */
type ThrownError = Error & { statusCode?: number };

/**
 * The one place errors become responses: {statusCode, error, message}, or a
 * readiness report for /readyz. What a 5xx does not tell the client is logged.
 */
function errorHandler(metrics: CollectorMetrics) {
  return (err: ThrownError, req: FastifyRequest, reply: FastifyReply): void => {
    const status = isPhonehomeError(err) ? err.httpStatus : (err.statusCode ?? 500);
    const rejected = req.routeOptions.url === '/api/v1/events' ? REJECTED[status] : undefined;
    if (rejected) metrics.rejected.inc({ reason: rejected });
    if (err instanceof DatabaseNotReadyError) {
      void reply.code(status).send({ status: 'unavailable', db: err.db, message: err.message });
      return;
    }
    if (err instanceof UnauthorizedError) void reply.header('www-authenticate', err.challenge);
    if (status >= 500) req.log.error({ err }, 'request failed');
    void reply.code(status).send({ statusCode: status, error: REASONS[status] ?? 'Error', message: status >= 500 ? 'internal error (logged)' : err.message });
  };
}

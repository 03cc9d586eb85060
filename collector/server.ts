import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { isPhonehomeError } from '../contract/errors.js';
import { AlertmanagerClient } from './alertmanager.js';
import { TokenSet } from './auth.js';
import type { CollectorConfig } from './config.js';
import type { CollectorContext } from './context.js';
import { DatabaseNotReadyError, UnauthorizedError } from './errors.js';
import { CollectorMetrics } from './metrics/registry.js';
import { alertRoutes } from './routes/alerts.js';
import { deadLetterRoutes } from './routes/dead-letters.js';
import { deviceRoutes } from './routes/devices.js';
import { healthRoutes } from './routes/health.js';
import { ingestRoutes } from './routes/ingest.js';
import type { Store } from './store/store.js';

export const VERSION = '0.1.0';

/** The collector's HTTP server, ready to listen. */
export async function buildCollector(config: CollectorConfig, store: Store, opts: { logger?: boolean | object } = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? { level: config.logLevel },
    bodyLimit: config.bodyLimitBytes,
    // Deep nesting is an attack, not an event.
    ajv: { customOptions: { allErrors: false } },
  });
  const metrics = new CollectorMetrics(store);
  const ctx: CollectorContext = {
    config,
    store,
    metrics,
    sensors: new TokenSet(config.sensorTokens),
    analysts: new TokenSet(config.apiToken ? [{ name: 'analyst', secret: config.apiToken }] : []),
    alertmanager: config.alertmanager ? new AlertmanagerClient(config.alertmanager, config.publicUrl, app.log) : null,
  };
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
  return app;
}

/** Reason phrases of error bodies; a status not listed says 'Error'. */
const REASONS: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 413: 'Payload Too Large', 429: 'Too Many Requests' };

/** Why the collector refused an ingest request, by the status it answered with. */
const REJECTED: Record<number, string> = { 400: 'invalid', 401: 'unauthorized', 413: 'too_large', 429: 'rate_limited' };

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

import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { AlertmanagerClient } from './alertmanager.js';
import { TokenSet } from './auth.js';
import type { CollectorConfig } from './config.js';
import { CollectorMetrics } from './metrics/registry.js';
import { alertRoutes } from './routes/alerts.js';
import { deviceRoutes } from './routes/devices.js';
import { healthRoutes } from './routes/health.js';
import { ingestRoutes } from './routes/ingest.js';
import type { Store } from './store/store.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** the sensor an ingest token belongs to */
    sensorName?: string;
  }
}

export interface CollectorContext {
  config: CollectorConfig;
  store: Store;
  metrics: CollectorMetrics;
  sensors: TokenSet;
  analysts: TokenSet;
  alertmanager: AlertmanagerClient | null;
  /** Rejects with 401 unless the request carries a token of the set. */
  requireToken(set: TokenSet, what: string): (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
}

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
  const sensors = new TokenSet(config.sensorTokens);
  const analysts = new TokenSet(config.apiToken ? [{ name: 'analyst', secret: config.apiToken }] : []);
  const ctx: CollectorContext = {
    config,
    store,
    metrics,
    sensors,
    analysts,
    alertmanager: config.alertmanager ? new AlertmanagerClient(config.alertmanager, config.publicUrl, app.log) : null,
    requireToken: (set, what) => async (req, reply) => {
      const name = set.verify(req.headers.authorization);
      if (name === null) {
        if (set === sensors) metrics.rejected.inc({ reason: 'unauthorized' });
        await reply.code(401).header('www-authenticate', 'Bearer').send({ statusCode: 401, error: 'Unauthorized', message: `a valid ${what} token is required (Authorization: Bearer <token>)` });
        return reply;
      }
      req.sensorName = name;
    },
  };

  app.setErrorHandler((err: { statusCode?: number; validation?: unknown; message: string; code?: string }, req, reply) => {
    const status = err.statusCode ?? 500;
    if (req.routeOptions.url === '/api/v1/events') {
      if (status === 400) metrics.rejected.inc({ reason: 'invalid' });
      if (status === 413) metrics.rejected.inc({ reason: 'too_large' });
    }
    if (status >= 500) req.log.error({ err }, 'request failed');
    void reply.code(status).send({ statusCode: status, error: status === 400 ? 'Bad Request' : status === 413 ? 'Payload Too Large' : status === 429 ? 'Too Many Requests' : 'Error', message: status >= 500 ? 'internal error (logged)' : err.message });
  });

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
  await app.register(async (scope) => healthRoutes(scope, ctx));
  return app;
}

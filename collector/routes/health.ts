import type { FastifyInstance } from 'fastify';
import { TokenSet } from '../auth.js';
import type { CollectorContext } from '../server.js';

export async function healthRoutes(app: FastifyInstance, ctx: CollectorContext): Promise<void> {
  app.get('/healthz', { schema: { summary: 'The process is up' } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { summary: 'The database is reachable' } }, async (req, reply) => {
    try {
      await ctx.store.ping();
      return { status: 'ready', db: ctx.store.kind };
    } catch (e) {
      req.log.warn({ err: (e as Error).message }, 'database unreachable');
      return reply.code(503).send({ status: 'unavailable', db: ctx.store.kind, message: (e as Error).message });
    }
  });
  const scrapers = ctx.config.metricsToken ? new TokenSet([{ name: 'metrics', secret: ctx.config.metricsToken }]) : null;
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', hide: true }, onRequest: scrapers ? ctx.requireToken(scrapers, 'metrics') : undefined }, async (_req, reply) => {
    const body = await ctx.metrics.registry.metrics();
    return reply.header('content-type', ctx.metrics.registry.contentType).send(body);
  });
}

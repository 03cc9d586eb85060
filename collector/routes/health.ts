import type { FastifyInstance } from 'fastify';
import { requireToken, TokenSet } from '../auth.js';
import { DatabaseNotReadyError } from '../errors.js';
import type { CollectorContext } from '../context.js';

export async function healthRoutes(app: FastifyInstance, ctx: CollectorContext): Promise<void> {
  app.get('/healthz', { schema: { summary: 'The process is up' } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { summary: 'The database is reachable' } }, async (req) => {
    try {
      await ctx.store.ping();
    } catch (e) {
      req.log.warn({ err: (e as Error).message }, 'database unreachable');
      throw new DatabaseNotReadyError(ctx.store.kind, (e as Error).message);
    }
    return { status: 'ready', db: ctx.store.kind };
  });
  const scrapers = ctx.config.metricsToken ? new TokenSet([{ name: 'metrics', secret: ctx.config.metricsToken }]) : null;
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', hide: true }, onRequest: scrapers ? requireToken(scrapers, 'metrics') : undefined }, async (_req, reply) => {
    const body = await ctx.metrics.registry.metrics();
    return reply.header('content-type', ctx.metrics.registry.contentType).send(body);
  });
}

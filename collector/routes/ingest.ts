import type { FastifyInstance } from 'fastify';
import type { IngestBatch } from '../../contract/types.js';
import { ingestBatchSchema } from '../../contract/schemas.js';
import { requireToken } from '../auth.js';
import type { CollectorContext } from '../context.js';

export async function ingestRoutes(app: FastifyInstance, ctx: CollectorContext): Promise<void> {
  app.post<{ Body: IngestBatch }>(
    '/api/v1/events',
    {
      onRequest: requireToken(ctx.sensors, 'sensor'),
      schema: {
        summary: 'Deliver a batch of flows, alerts, device updates and evidence (sensors only)',
        security: [{ bearer: [] }],
        body: ingestBatchSchema,
        response: { 200: { type: 'object', properties: { accepted: { type: 'integer' }, duplicates: { type: 'integer' } } } },
      },
      config: {
        rateLimit: {
          max: ctx.config.rateLimitPerMinute,
          timeWindow: '1 minute',
          // after authentication, so the limit is per sensor and not per address
          hook: 'preHandler',
          keyGenerator: (req) => req.sensorName ?? req.ip,
        },
      },
    },
    async (req) => {
      const sensor = req.sensorName!;
      const b = req.body;
      // The token names the sensor: a batch cannot write in another sensor's name.
      const result = await ctx.store.ingest({ name: sensor, version: b.sensor.version, lag_s: b.sensor.lag_s ?? null }, b.events, Date.now() / 1000);
      req.log.info({ sensor, batch: b.batch_id, accepted: result.accepted, duplicates: result.duplicates }, 'batch stored');
      if (ctx.alertmanager && result.newAlerts.length) void ctx.alertmanager.push(result.newAlerts);
      return { accepted: result.accepted, duplicates: result.duplicates };
    },
  );
}

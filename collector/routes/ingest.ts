import { errorCodes, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import { SPOOL_HEADERS, type IngestBatch } from '../../contract/types.js';
import { ingestEnvelopeSchema } from '../../contract/schemas.js';
import { requireToken } from '../auth.js';
import type { CollectorContext } from '../context.js';
import { strictAjv } from '../store/checks.js';

const INGEST_RESULT = {
  type: 'object',
  required: ['accepted', 'duplicates', 'refused'],
  properties: {
    accepted: { type: 'integer' },
    duplicates: { type: 'integer' },
    refused: {
      type: 'array',
      description: 'events not stored (kept as dead letters), each with its index in the batch, its key, a stable code and the reason',
      items: {
        type: 'object',
        required: ['index', 'key', 'code', 'reason'],
        properties: { index: { type: 'integer' }, key: { type: ['string', 'null'] }, code: { type: 'string' }, reason: { type: 'string' } },
      },
    },
  },
};

/** How long a client may go on sending the rest of a refused oversized body before its connection is closed. */
const DRAIN_MS = 30_000;

/**
 * Answers 413 from Content-Length before any of the body is read. Fastify's
 * own check answers with `Connection: close`, and Node then resets the
 * socket under a client still writing, which sees EPIPE or ECONNRESET
 * instead of the 413 (and would retry). Refused here, the connection stays
 * open and Node reads the rest of the body off the wire and drops it.
 */
function refuseOversized(limit: number) {
  return async (req: FastifyRequest): Promise<void> => {
    if (Number(req.headers['content-length']) > limit) throw new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE();
  };
}

/**
 * A chunked body over the limit is refused by Fastify while the client is
 * still sending: keep the connection open so the 413 reaches it, read and
 * drop the rest, and close a connection that goes on sending too long.
 */
async function drainTooLarge(req: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  if (reply.statusCode !== 413 || req.raw.complete) return payload;
  reply.removeHeader('connection');
  const timer = setTimeout(() => req.raw.socket?.destroy(), DRAIN_MS).unref();
  req.raw.once('end', () => clearTimeout(timer));
  req.raw.resume();
  return payload;
}

export async function ingestRoutes(app: FastifyInstance, ctx: CollectorContext): Promise<void> {
  // The envelope is checked as sent: no type coercion, no fields removed. Events are checked one by one by the store.
  const ajv = strictAjv();
  app.post<{ Body: IngestBatch }>(
    '/api/v1/events',
    {
      onRequest: [requireToken(ctx.sensors, 'sensor'), refuseOversized(ctx.config.bodyLimitBytes)],
      onSend: drainTooLarge,
      validatorCompiler: ({ schema }) => ajv.compile(schema),
      schema: {
        summary: 'Deliver a batch of flows, alerts, device updates and evidence (sensors only); each event is stored or refused on its own',
        security: [{ bearer: [] }],
        body: ingestEnvelopeSchema,
        response: { 200: INGEST_RESULT },
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
      const report = { name: sensor, version: b.sensor.version, lag_s: b.sensor.lag_s ?? null, ...spoolDepth(req.headers) };
      const result = await ctx.store.ingest(report, b.events, Date.now() / 1000, ctx.forwarder?.targets);
      const { accepted, duplicates, refused } = result;
      req.log.info({ sensor, batch: b.batch_id, accepted, duplicates, refused: refused.length, spool_batches: report.spool_batches }, 'batch stored');
      for (const r of refused) ctx.metrics.refused.inc({ reason: r.code });
      if (refused.length) req.log.warn({ sensor, batch: b.batch_id, refused: refused.length, first: refused[0] }, 'events refused; kept as dead letters');
      if (ctx.alertmanager && result.newAlerts.length) void ctx.alertmanager.push(result.newAlerts);
      if (ctx.forwarder && result.newAlerts.length) ctx.forwarder.wake();
      return { accepted, duplicates, refused };
    },
  );
}

/** The spool headers of a batch (SPOOL_HEADERS); a value that is not a whole number is taken as absent. */
function spoolDepth(h: IncomingHttpHeaders): { spool_batches: number | null; spool_bytes: number | null } {
  const whole = (v: string | string[] | undefined): number | null => (typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : null);
  return { spool_batches: whole(h[SPOOL_HEADERS.batches]), spool_bytes: whole(h[SPOOL_HEADERS.bytes]) };
}

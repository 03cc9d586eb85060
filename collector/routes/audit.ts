import type { FastifyInstance } from 'fastify';
import { requireRole } from '../auth.js';
import type { CollectorContext } from '../context.js';
import { parseTime } from './query-time.js';

interface AuditQuery {
  from?: string;
  to?: string;
  actor?: string;
  target?: string;
  limit?: number;
  cursor?: string;
}

export async function auditRoutes(app: FastifyInstance, ctx: CollectorContext): Promise<void> {
  app.get<{ Querystring: AuditQuery }>(
    '/api/v1/audit',
    {
      onRequest: requireRole(ctx.analysts, 'admin', 'reading the audit log'),
      schema: {
        summary: 'The audit log: every change made through the API and by retention, newest first (admin)',
        security: [{ bearer: [] }],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            from: { type: 'string', description: 'epoch seconds or ISO 8601' },
            to: { type: 'string' },
            actor: { type: 'string', maxLength: 200, description: "the API token's name, or retention" },
            target: { type: 'string', maxLength: 200, description: 'an alert id' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            cursor: { type: 'string', maxLength: 200 },
          },
        },
      },
    },
    async (req) => {
      const q = req.query;
      return ctx.store.listAudit({ from: parseTime(q.from, 'from'), to: parseTime(q.to, 'to'), actor: q.actor, target: q.target, limit: q.limit ?? 100, cursor: q.cursor });
    },
  );
}

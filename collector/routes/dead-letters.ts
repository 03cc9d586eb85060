import type { FastifyInstance } from 'fastify';
import { requireToken } from '../auth.js';
import type { CollectorContext } from '../context.js';
import { REFUSAL_CODES } from '../store/checks.js';
import { parseTime } from './query-time.js';

const DEAD_LETTERS_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    from: { type: 'string', description: 'received at or after: epoch seconds or ISO 8601' },
    to: { type: 'string', description: 'received at or before: epoch seconds or ISO 8601' },
    sensor: { type: 'string', maxLength: 200 },
    code: { enum: [...REFUSAL_CODES] },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    cursor: { type: 'string', maxLength: 200 },
  },
};

interface DeadLettersQuery {
  from?: string;
  to?: string;
  sensor?: string;
  code?: string;
  limit?: number;
  cursor?: string;
}

export async function deadLetterRoutes(app: FastifyInstance, ctx: CollectorContext): Promise<void> {
  app.get<{ Querystring: DeadLettersQuery }>(
    '/api/v1/dead-letters',
    {
      onRequest: requireToken(ctx.analysts, 'API'),
      schema: { summary: 'Events the collector refused, with why, newest first', security: [{ bearer: [] }], querystring: DEAD_LETTERS_QUERY },
    },
    async (req) => {
      const q = req.query;
      return ctx.store.listDeadLetters({
        from: parseTime(q.from, 'from'), to: parseTime(q.to, 'to'), sensor: q.sensor, code: q.code, limit: q.limit ?? 100, cursor: q.cursor,
      });
    },
  );
}

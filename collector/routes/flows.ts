import type { FastifyInstance } from 'fastify';
import { requireRole } from '../auth.js';
import type { CollectorContext } from '../context.js';
import { NotFoundError } from '../errors.js';
import { MAX_UIDS } from '../store/flows.js';
import type { StoredFlow } from '../store/store.js';
import { parseTime } from './query-time.js';

interface FlowsQuery {
  uid?: string;
  sensor?: string;
  device?: string;
  dst?: string;
  from?: string;
  to?: string;
  limit?: number;
  cursor?: string;
}

const FLOWS_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    uid: { type: 'string', maxLength: 64_000, description: `flow uids, comma-separated (at most ${MAX_UIDS})` },
    sensor: { type: 'string', maxLength: 200, description: 'the sensor that delivered them' },
    device: { type: 'string', maxLength: 200, description: 'source device MAC (its IP for MAC-less devices)' },
    dst: { type: 'string', maxLength: 100, description: 'destination IP' },
    from: { type: 'string', description: 'epoch seconds or ISO 8601, of the first packet' },
    to: { type: 'string' },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    cursor: { type: 'string', maxLength: 400 },
  },
};

/** An alert's evidence flows: those its evidence names that the collector holds, and the uids it does not. */
export interface EvidenceFlows {
  items: StoredFlow[];
  /** uids the evidence names that no stored flow of the alert's sensor has (not delivered, or removed by retention) */
  missing: string[];
  /** flows the evidence counts; its uids list names the first 100 */
  counted: number;
}

/** The flows of an alert's evidence, from the sensor that raised it. */
export async function evidenceFlows(ctx: CollectorContext, id: string): Promise<EvidenceFlows | null> {
  const a = await ctx.store.getAlert(id);
  if (!a) return null;
  const uids = a.evidence.uids ?? [];
  const { items } = await ctx.store.listFlows({ uids, sensor: a.sensor, limit: 1000 });
  const found = new Set(items.map((f) => f.uid));
  return { items, missing: uids.filter((u) => !found.has(u)), counted: a.evidence.flows };
}

export async function flowRoutes(app: FastifyInstance, ctx: CollectorContext): Promise<void> {
  const auth = requireRole(ctx.analysts, 'viewer', 'reading flows', ctx.sessions);
  const security = [{ bearer: [] }];
  app.get<{ Querystring: FlowsQuery }>(
    '/api/v1/flows',
    { onRequest: auth, schema: { summary: 'Flows, newest first, by uid, device, destination and time, paginated', security, querystring: FLOWS_QUERY } },
    async (req) => {
      const q = req.query;
      const uids = q.uid === undefined ? undefined : q.uid.split(',').map((u) => u.trim()).filter(Boolean);
      return ctx.store.listFlows({
        uids, sensor: q.sensor, device: q.device?.toLowerCase(), dst: q.dst,
        from: parseTime(q.from, 'from'), to: parseTime(q.to, 'to'), limit: q.limit ?? 100, cursor: q.cursor,
      });
    },
  );
  app.get<{ Params: { id: string } }>(
    '/api/v1/alerts/:id/flows',
    { onRequest: auth, schema: { summary: "The alert's evidence flows, and the uids of its evidence the collector does not hold", security } },
    async (req) => {
      const r = await evidenceFlows(ctx, req.params.id);
      if (!r) throw new NotFoundError('alert', req.params.id);
      return r;
    },
  );
}

import type { FastifyInstance } from 'fastify';
import type { AlertState } from '../../contract/types.js';
import { requireRole } from '../auth.js';
import { NotFoundError } from '../errors.js';
import type { AlertFilter } from '../store/store.js';
import type { CollectorContext } from '../context.js';
import { parseTime } from './query-time.js';

const STATUSES = ['open', 'acknowledged', 'resolved'];

const ALERTS_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    from: { type: 'string', description: 'epoch seconds or ISO 8601' },
    to: { type: 'string' },
    rule: { type: 'string' },
    severity: { enum: ['info', 'low', 'medium', 'high', 'critical'] },
    device: { type: 'string', description: 'device MAC' },
    country: { type: 'string', pattern: '^[A-Za-z]{2}$' },
    status: { enum: STATUSES },
    sensor: { type: 'string', maxLength: 200 },
    destination: { type: 'string', maxLength: 300, description: 'destination address or name' },
    operator: { type: 'string', maxLength: 300, description: "the destination's AS organisation, or its AS number (AS16509)" },
    muted: { enum: ['hide', 'only'], description: 'hide: leave out alerts a mute in force covers; only: those alone' },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    cursor: { type: 'string', maxLength: 200 },
  },
};

interface AlertsQuery {
  from?: string;
  to?: string;
  rule?: string;
  severity?: string;
  device?: string;
  country?: string;
  status?: AlertState['status'];
  sensor?: string;
  destination?: string;
  operator?: string;
  muted?: 'hide' | 'only';
  limit?: number;
  cursor?: string;
}

export function filterOf(q: AlertsQuery): AlertFilter {
  return {
    from: parseTime(q.from, 'from'), to: parseTime(q.to, 'to'), rule: q.rule, severity: q.severity, device: q.device?.toLowerCase(),
    country: q.country?.toUpperCase(), status: q.status, sensor: q.sensor, destination: q.destination, operator: q.operator, muted: q.muted, limit: q.limit ?? 100, cursor: q.cursor,
  };
}

export async function alertRoutes(app: FastifyInstance, ctx: CollectorContext): Promise<void> {
  const auth = requireRole(ctx.analysts, 'viewer', 'reading alerts');
  const change = requireRole(ctx.analysts, 'analyst', 'changing an alert');
  const security = [{ bearer: [] }];
  // The UI's download link sends the session cookie instead of a token.
  const download = requireRole(ctx.analysts, 'viewer', 'reading alerts', ctx.sessions);

  app.get<{ Querystring: AlertsQuery }>(
    '/api/v1/alerts',
    {
      onRequest: auth,
      schema: {
        summary: 'Alerts, newest first, filtered and paginated',
        security,
        querystring: ALERTS_QUERY,
      },
    },
    async (req) => ctx.store.listAlerts(filterOf(req.query)),
  );

  app.get<{ Params: { id: string } }>('/api/v1/alerts/:id', { onRequest: auth, schema: { summary: 'One alert with its full evidence', security } }, async (req) => {
    const a = await ctx.store.getAlert(req.params.id);
    if (!a) throw new NotFoundError('alert', req.params.id);
    return a;
  });

  app.patch<{ Params: { id: string }; Body: { status: AlertState['status']; note?: string; who?: string } }>(
    '/api/v1/alerts/:id',
    {
      onRequest: change,
      schema: {
        summary: 'Acknowledge or resolve an alert, with a note and who did it (analyst or admin; recorded in the audit log)',
        security,
        body: {
          type: 'object',
          required: ['status'],
          additionalProperties: false,
          properties: {
            status: { enum: STATUSES },
            note: { type: 'string', maxLength: 4000 },
            who: { type: 'string', minLength: 1, maxLength: 200, description: "the person, when a token is shared; the token's name by default" },
          },
        },
      },
    },
    async (req) => {
      const token = req.apiToken!;
      const who = req.body.who ?? token.name;
      const by = { actor: token.name, role: token.role, action: `PATCH ${req.routeOptions.url}` };
      const a = await ctx.store.changeAlert(req.params.id, { status: req.body.status, note: req.body.note ?? null, who }, Date.now() / 1000, by);
      if (!a) throw new NotFoundError('alert', req.params.id);
      req.log.info({ alert: a.id, status: a.state.status, who, token: token.name }, 'alert updated');
      return a;
    },
  );

  app.get<{ Params: { id: string } }>('/api/v1/alerts/:id/pcap', { onRequest: download, schema: { summary: "The alert's evidence capture (pcap)", security } }, async (req, reply) => {
    const pcap = await ctx.store.getEvidence(req.params.id);
    if (!pcap) throw new NotFoundError('evidence', req.params.id);
    return reply
      .header('content-type', 'application/vnd.tcpdump.pcap')
      .header('content-disposition', `attachment; filename="${req.params.id.replace(/[^A-Za-z0-9_-]/g, '')}.pcap"`)
      .send(pcap);
  });
}

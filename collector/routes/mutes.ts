import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requireRole } from '../auth.js';
import type { CollectorContext } from '../context.js';
import { NotFoundError } from '../errors.js';
import type { AuditActor, Mute } from '../store/store.js';

/** A mute as a client asks for it: at least one of rule, device, destination; for `hours`. */
export interface MuteRequest {
  rule?: string;
  device?: string;
  destination?: string;
  reason: string;
  hours: number;
  who?: string;
}

/** The longest a mute may last: a year. Forever is a profile entry or a rule setting, not a mute. */
export const MAX_MUTE_HOURS = 24 * 366;

const MUTE_BODY = {
  type: 'object',
  required: ['reason', 'hours'],
  additionalProperties: false,
  anyOf: [{ required: ['rule'] }, { required: ['device'] }, { required: ['destination'] }],
  properties: {
    rule: { type: 'string', minLength: 1, maxLength: 100 },
    device: { type: 'string', minLength: 1, maxLength: 100, description: 'device MAC (its IP for MAC-less devices)' },
    destination: { type: 'string', minLength: 1, maxLength: 300, description: 'destination address or name' },
    reason: { type: 'string', minLength: 1, maxLength: 1000 },
    hours: { type: 'number', exclusiveMinimum: 0, maximum: MAX_MUTE_HOURS },
    who: { type: 'string', minLength: 1, maxLength: 200 },
  },
};

/** Stores a mute with its audit entry; `who` defaults to the token's name. */
export function addMute(ctx: CollectorContext, m: MuteRequest, by: AuditActor, now = Date.now() / 1000): Promise<Mute> {
  const device = m.device?.trim().toLowerCase() || null;
  return ctx.store.createMute(
    { rule: m.rule?.trim() || null, device, destination: m.destination?.trim() || null, reason: m.reason, expires_at: now + m.hours * 3600 },
    m.who ?? by.actor,
    now,
    by,
  );
}

const actorOf = (req: FastifyRequest): AuditActor => ({ actor: req.apiToken!.name, role: req.apiToken!.role, action: `${req.method} ${req.routeOptions.url}` });

export async function muteRoutes(app: FastifyInstance, ctx: CollectorContext): Promise<void> {
  const read = requireRole(ctx.analysts, 'viewer', 'reading mutes');
  const change = requireRole(ctx.analysts, 'analyst', 'muting alerts');
  const security = [{ bearer: [] }];
  app.get<{ Querystring: { all?: boolean } }>(
    '/api/v1/mutes',
    {
      onRequest: read,
      schema: {
        summary: 'Mutes in force (all=true: every mute ever made, lifted and expired too), newest first',
        security,
        querystring: { type: 'object', additionalProperties: false, properties: { all: { type: 'boolean', default: false } } },
      },
    },
    async (req) => ({ items: await ctx.store.listMutes(req.query.all ? undefined : Date.now() / 1000) }),
  );
  app.post<{ Body: MuteRequest }>(
    '/api/v1/mutes',
    { onRequest: change, schema: { summary: 'Mute a rule, device and/or destination for some hours, with a reason (analyst; audited)', security, body: MUTE_BODY } },
    async (req, reply) => reply.code(201).send(await addMute(ctx, req.body, actorOf(req))),
  );
  app.delete<{ Params: { id: string } }>(
    '/api/v1/mutes/:id',
    { onRequest: change, schema: { summary: 'Lift a mute now (analyst; audited)', security } },
    async (req) => {
      const m = await ctx.store.liftMute(req.params.id, req.apiToken!.name, Date.now() / 1000, actorOf(req));
      if (!m) throw new NotFoundError('mute', req.params.id);
      return m;
    },
  );
}

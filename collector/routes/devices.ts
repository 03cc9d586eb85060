import type { FastifyInstance } from 'fastify';
import { requireRole } from '../auth.js';
import { NotFoundError } from '../errors.js';
import type { CollectorContext } from '../context.js';

export async function deviceRoutes(app: FastifyInstance, ctx: CollectorContext): Promise<void> {
  const auth = requireRole(ctx.analysts, 'viewer', 'reading devices and sensors');
  const security = [{ bearer: [] }];
  app.get('/api/v1/devices', { onRequest: auth, schema: { summary: 'Device inventory with destinations and countries', security } }, async () => ({ items: await ctx.store.listDevices() }));
  app.get<{ Params: { mac: string } }>('/api/v1/devices/:mac', { onRequest: auth, schema: { summary: 'One device', security } }, async (req) => {
    const d = await ctx.store.getDevice(req.params.mac.toLowerCase());
    if (!d) throw new NotFoundError('device', req.params.mac);
    return d;
  });
  app.get('/api/v1/sensors', { onRequest: auth, schema: { summary: 'Sensors: last seen, version, lag', security } }, async () => ({ items: await ctx.store.listSensors() }));
}

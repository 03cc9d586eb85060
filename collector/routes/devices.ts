import type { FastifyInstance } from 'fastify';
import type { CollectorContext } from '../server.js';

export async function deviceRoutes(app: FastifyInstance, ctx: CollectorContext): Promise<void> {
  const auth = ctx.requireToken(ctx.analysts, 'API');
  const security = [{ bearer: [] }];
  app.get('/api/v1/devices', { onRequest: auth, schema: { summary: 'Device inventory with destinations and countries', security } }, async () => ({ items: await ctx.store.listDevices() }));
  app.get<{ Params: { mac: string } }>('/api/v1/devices/:mac', { onRequest: auth, schema: { summary: 'One device', security } }, async (req, reply) => {
    const d = await ctx.store.getDevice(req.params.mac.toLowerCase());
    return d ?? reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no device ${req.params.mac}` });
  });
  app.get('/api/v1/sensors', { onRequest: auth, schema: { summary: 'Sensors: last seen, version, lag', security } }, async () => ({ items: await ctx.store.listSensors() }));
}

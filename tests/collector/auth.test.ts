// Bearer tokens: which name a presented token belongs to, and the hook that
// refuses a request without one, on a real Fastify server on loopback.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireRole, requireToken, TokenSet } from '../../collector/auth.js';
import { ForbiddenError, UnauthorizedError } from '../../collector/errors.js';

const LAB = 'lab-sensor-secret-0123456789';
const ROOF = 'roof-sensor-secret-0123456789';

describe('TokenSet', () => {
  const set = new TokenSet([
    { name: 'lab', secret: LAB },
    { name: 'roof', secret: ROOF },
  ]);

  it('names the owner of a Bearer token, whatever the scheme case and trailing space', () => {
    expect(set.size).toBe(2);
    expect(set.verify(`Bearer ${LAB}`)).toBe('lab');
    expect(set.verify(`bearer ${ROOF}  `)).toBe('roof');
    expect(set.verify(`BEARER   ${LAB}`)).toBe('lab');
  });

  it('refuses anything else: no header, another scheme, a prefix or extension of a secret, two tokens', () => {
    for (const h of [undefined, '', LAB, `Basic ${LAB}`, `Bearer ${LAB.slice(0, -1)}`, `Bearer ${LAB}x`, `Bearer ${LAB} ${ROOF}`, 'Bearer ']) {
      expect(set.verify(h), String(h)).toBeNull();
    }
  });

  it('an empty set accepts nothing', () => {
    const none = new TokenSet([]);
    expect(none.size).toBe(0);
    expect(none.verify(`Bearer ${LAB}`)).toBeNull();
  });
});

describe('requireToken, over HTTP', () => {
  let app: FastifyInstance;
  let url = '';
  beforeAll(async () => {
    app = Fastify({ logger: false });
    // Reports what the hook threw, so the test sees the error itself rather than a rendering of it.
    app.setErrorHandler((err, _req, reply) => {
      void reply.code(err instanceof UnauthorizedError ? err.httpStatus : 500).send({ name: err.name, code: (err as { code?: string }).code, message: err.message });
    });
    app.get('/who', { onRequest: requireToken(new TokenSet([{ name: 'lab', secret: LAB }]), 'sensor') }, async (req) => ({ name: req.sensorName }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/who`;
  });
  afterAll(() => app?.close());

  it('lets a request with a token of the set through, naming its owner', async () => {
    const r = await fetch(url, { headers: { authorization: `Bearer ${LAB}` } });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ name: 'lab' });
  });

  it('stops any other request with UnauthorizedError naming the kind of token', async () => {
    for (const headers of [{}, { authorization: `Bearer ${ROOF}` }, { authorization: 'Bearer' }]) {
      const r = await fetch(url, { headers });
      expect(r.status).toBe(401);
      expect(await r.json()).toEqual({ name: 'UnauthorizedError', code: 'UNAUTHORIZED', message: 'a valid sensor token is required (Authorization: Bearer <token>)' });
    }
  });
});

describe('requireRole, over HTTP', () => {
  const TOKENS = { viewer: 'viewer-secret-0123456789', analyst: 'analyst-secret-0123456789', admin: 'admin-secret-0123456789' };
  let app: FastifyInstance;
  let url = '';
  beforeAll(async () => {
    app = Fastify({ logger: false });
    app.setErrorHandler((err, _req, reply) => {
      const status = err instanceof UnauthorizedError || err instanceof ForbiddenError ? err.httpStatus : 500;
      void reply.code(status).send({ code: (err as { code?: string }).code, message: err.message });
    });
    const set = new TokenSet([
      { name: 'ro', role: 'viewer', secret: TOKENS.viewer },
      { name: 'soc', role: 'analyst', secret: TOKENS.analyst },
      { name: 'boss', role: 'admin', secret: TOKENS.admin },
    ]);
    for (const needed of ['viewer', 'analyst', 'admin'] as const) {
      app.get(`/${needed}`, { onRequest: requireRole(set, needed, `the ${needed} thing`) }, async (req) => req.apiToken);
    }
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  afterAll(() => app?.close());

  const call = async (path: string, token?: string) => {
    const r = await fetch(`${url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: r.status, body: await r.json() };
  };

  it('each role may do what the roles below it may, and names itself on the request', async () => {
    expect(await call('/viewer', TOKENS.viewer)).toEqual({ status: 200, body: { name: 'ro', role: 'viewer' } });
    expect(await call('/viewer', TOKENS.admin)).toEqual({ status: 200, body: { name: 'boss', role: 'admin' } });
    expect(await call('/analyst', TOKENS.analyst)).toEqual({ status: 200, body: { name: 'soc', role: 'analyst' } });
    expect(await call('/admin', TOKENS.admin)).toEqual({ status: 200, body: { name: 'boss', role: 'admin' } });
  });

  it('a role below the one needed is 403 naming token, role and what was refused; no token is 401', async () => {
    expect(await call('/analyst', TOKENS.viewer)).toEqual({ status: 403, body: { code: 'FORBIDDEN', message: "API token 'ro' has role viewer; the analyst thing needs analyst" } });
    expect(await call('/admin', TOKENS.analyst)).toEqual({ status: 403, body: { code: 'FORBIDDEN', message: "API token 'soc' has role analyst; the admin thing needs admin" } });
    expect((await call('/viewer')).status).toBe(401);
    expect((await call('/viewer', 'not-a-token-0123456789')).status).toBe(401);
  });
});

// The analysts' web UI, served by the collector under /ui: server-rendered
// pages (html.ts escapes every value), htmx and uPlot from the package, a
// strict Content-Security-Policy, server-side sessions in an HttpOnly,
// SameSite=Strict cookie, and a CSRF token on every form that changes
// something.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isPhonehomeError } from '../../contract/errors.js';
import type { CollectorContext } from '../context.js';
import { viewOf, type UiContext } from './view.js';
import { html } from './html.js';
import { page, STYLESHEET, type View } from './layout.js';
import { alertPages } from './pages/alert.js';
import { devicePages } from './pages/device.js';
import { loginPages } from './pages/login.js';
import { mutePages } from './pages/mutes.js';
import { queuePages } from './pages/queue.js';
import { sensorPages } from './pages/sensors.js';
import type { Sessions } from './session.js';

const require = createRequire(import.meta.url);

const CSP = {
  useDefaults: false,
  directives: {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", 'data:'],
    connectSrc: ["'self'"],
    fontSrc: ["'self'"],
    objectSrc: ["'none'"],
    baseUri: ["'none'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
  },
};

/** Registers the UI on the collector; the session cookie is parsed for every route (the API's download links take it too). */
export async function registerUi(app: FastifyInstance, ctx: CollectorContext, sessions: Sessions, secure: boolean): Promise<void> {
  await app.register(cookie);
  await app.register(async (scope) => uiScope(scope, { ctx, sessions, secure }));
}

async function uiScope(app: FastifyInstance, ui: UiContext): Promise<void> {
  await app.register(helmet, { contentSecurityPolicy: CSP, hsts: ui.secure, crossOriginEmbedderPolicy: false });
  await app.register(formbody, { bodyLimit: 256 * 1024 });
  await app.register(csrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: 'phonehome_csrf',
    cookieOpts: { path: '/', httpOnly: true, sameSite: 'strict', secure: ui.secure },
    getUserInfo: (req: FastifyRequest) => ui.sessions.fromRequest(req)?.id ?? 'anonymous',
    // Tokens bind to the session; the key lives as long as the process, as sessions do.
    csrfOpts: { hmacKey: randomBytes(32) },
  });
  await serveAssets(app);
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('cache-control', 'no-store');
    return payload;
  });
  app.setErrorHandler(uiErrors(ui));
  app.get('/', async (_req, reply) => reply.redirect('/ui'));
  for (const pages of [loginPages, queuePages, alertPages, devicePages, sensorPages, mutePages]) await pages(app, ui);
}

async function serveAssets(app: FastifyInstance): Promise<void> {
  await app.register(fastifyStatic, { root: join(import.meta.dirname, 'assets'), prefix: '/ui/assets/', allowedPath: (p) => p.endsWith('.js') });
  await app.register(fastifyStatic, { root: dirname(require.resolve('htmx.org')), prefix: '/ui/vendor/htmx/', decorateReply: false, allowedPath: (p) => p === '/htmx.min.js' });
  await app.register(fastifyStatic, {
    root: dirname(require.resolve('uplot')),
    prefix: '/ui/vendor/uplot/',
    decorateReply: false,
    allowedPath: (p) => p === '/uPlot.iife.min.js' || p === '/uPlot.min.css',
  });
  app.get('/ui/assets/app.css', async (_req, reply) => reply.type('text/css; charset=utf-8').send(STYLESHEET));
}

/** Errors on UI routes answer with a page (the API's handler answers JSON). */
function uiErrors(ui: UiContext) {
  return (err: Error & { statusCode?: number; code?: string }, req: FastifyRequest, reply: FastifyReply): void => {
    const status = isPhonehomeError(err) ? err.httpStatus : (err.statusCode ?? 500);
    if (status >= 500) req.log.error({ err }, 'UI request failed');
    const csrfFailed = err.code === 'FST_CSRF_INVALID_TOKEN' || err.code === 'FST_CSRF_MISSING_SECRET';
    const message = csrfFailed
      ? 'The form had expired or did not come from this page; reload the page and try again.'
      : status >= 500 ? 'internal error (logged)' : err.message;
    let view: View;
    try {
      view = viewOf(ui, req, reply);
    } catch {
      view = { session: null, csrf: '' };
    }
    void reply.code(status).type('text/html; charset=utf-8').send(page(status === 404 ? 'Not found' : 'Error', view, html`<p class="error">${message}</p><p><a href="/ui">Back to the alerts</a></p>`).text);
  };
}


// Logging in with an API token (its role is the session's) and out.
import type { FastifyInstance } from 'fastify';
import { safeNext } from '../guard.js';
import { html } from '../html.js';
import { send, viewOf, type UiContext } from '../view.js';
import { csrfField, page, type View } from '../layout.js';
import { SESSION_COOKIE } from '../session.js';

function loginForm(v: View, next: string, error: string | null) {
  return page(
    'Log in',
    v,
    html`${error ? html`<p class="error" id="login-error">${error}</p>` : ''}
<form method="post" action="/ui/login" class="stack">
  ${csrfField(v)}
  <input type="hidden" name="next" value="${next}">
  <label>API token <input type="password" name="token" id="token" autocomplete="current-password" required autofocus></label>
  <button type="submit" id="login">Log in</button>
</form>
<p>Log in with the API token the collector was started with (<code>--api-token</code>, or a token of <code>api_tokens</code> with its role).
Viewers can read; analysts and admins can also acknowledge, resolve and mute.</p>`,
  );
}

export async function loginPages(app: FastifyInstance, ui: UiContext): Promise<void> {
  app.get<{ Querystring: { next?: string } }>('/ui/login', async (req, reply) => send(reply, loginForm(viewOf(ui, req, reply), safeNext(req.query.next), null)));

  app.post<{ Body: { token?: string; next?: string } }>(
    '/ui/login',
    // Guessing tokens through the form is as slow as through the API.
    { preHandler: app.csrfProtection, config: { rateLimit: { max: 30, timeWindow: '1 minute' } } },
    async (req, reply) => {
      const token = typeof req.body?.token === 'string' ? req.body.token : '';
      const who = token ? ui.ctx.analysts.identify(`Bearer ${token}`) : null;
      if (!who) {
        req.log.warn('UI login refused: unknown token');
        return send(reply, loginForm(viewOf(ui, req, reply), safeNext(req.body?.next), 'That is not an API token of this collector.'), 401);
      }
      ui.sessions.end(req.cookies[SESSION_COOKIE]);
      const s = ui.sessions.create(who.name, who.role ?? 'viewer');
      req.log.info({ token: who.name, role: s.role }, 'UI login');
      reply.setCookie(SESSION_COOKIE, s.id, { path: '/', httpOnly: true, sameSite: 'strict', secure: ui.secure });
      return reply.redirect(safeNext(req.body?.next), 303);
    },
  );

  app.post('/ui/logout', { preHandler: app.csrfProtection }, async (req, reply) => {
    ui.sessions.end(req.cookies[SESSION_COOKIE]);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return reply.redirect('/ui/login', 303);
  });
}

// What every page handler is given and how it answers.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CollectorContext } from '../context.js';
import type { View } from './layout.js';
import type { Sessions } from './session.js';

/** What the UI's pages are registered with. */
export interface UiContext {
  ctx: CollectorContext;
  sessions: Sessions;
  /** the collector serves HTTPS: cookies get Secure */
  secure: boolean;
}

/** The page's view: who is logged in and a CSRF token bound to their session. */
export function viewOf(ui: UiContext, req: FastifyRequest, reply: FastifyReply): View {
  const session = ui.sessions.fromRequest(req);
  return { session, csrf: reply.generateCsrf({ userInfo: session?.id ?? 'anonymous' }) };
}

/** Sends a rendered page. */
export function send(reply: FastifyReply, body: { text: string }, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(body.text);
}

// Who may see and change what in the UI: the roles of the API. A page asked
// for without a session sends the browser to the login page and back.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { roleAllows } from '../auth.js';
import type { Role } from '../config.js';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import type { Session, Sessions } from './session.js';

/** Where to go after logging in: a path of the UI only, never another site. */
export function safeNext(next: unknown): string {
  if (typeof next !== 'string' || !next.startsWith('/ui') || next.startsWith('/ui/login') || /[\\\s]/.test(next) || next.startsWith('//')) return '/ui';
  return next;
}

/**
 * The session of a request to a UI route, with a role of at least `needed`;
 * null after sending a GET without a session to the login page.
 */
export function sessionFor(sessions: Sessions, req: FastifyRequest, reply: FastifyReply, needed: Role, action: string): Session | null {
  const s = sessions.fromRequest(req);
  if (!s) {
    if (req.method === 'GET') {
      void reply.redirect(`/ui/login?next=${encodeURIComponent(safeNext(req.url))}`);
      return null;
    }
    throw new UnauthorizedError('API');
  }
  if (!roleAllows(s.role, needed)) throw new ForbiddenError(s.name, s.role, needed, action);
  return s;
}

// Browser sessions of the web UI, kept server-side: the cookie holds only a
// random id, so logging out (or a restart) ends a session for good, and
// nothing a browser holds can be forged or replayed after it ends.
import { randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Role } from '../config.js';

export const SESSION_COOKIE = 'phonehome_session';

export interface Session {
  id: string;
  /** the API token the analyst logged in with (its name, never the secret) */
  name: string;
  role: Role;
  created: number;
  lastUsed: number;
}

export interface SessionLimits {
  /** a session ends this long after login, in seconds */
  absoluteS: number;
  /** and this long after its last request */
  idleS: number;
  /** sessions kept at most; the least recently used is ended first */
  max: number;
}

export const DEFAULT_LIMITS: SessionLimits = { absoluteS: 12 * 3600, idleS: 2 * 3600, max: 10_000 };

export class Sessions {
  private readonly byId = new Map<string, Session>();

  constructor(
    private readonly limits: SessionLimits = DEFAULT_LIMITS,
    private readonly clock: () => number = () => Date.now() / 1000,
  ) {}

  create(name: string, role: Role): Session {
    const now = this.clock();
    if (this.byId.size >= this.limits.max) this.evictOldest();
    const s: Session = { id: randomBytes(32).toString('base64url'), name, role, created: now, lastUsed: now };
    this.byId.set(s.id, s);
    return s;
  }

  /** The session with this id, if it has not ended; a lookup counts as use. */
  get(id: string | undefined): Session | null {
    if (!id) return null;
    const s = this.byId.get(id);
    if (!s) return null;
    const now = this.clock();
    if (now - s.created > this.limits.absoluteS || now - s.lastUsed > this.limits.idleS) {
      this.byId.delete(id);
      return null;
    }
    s.lastUsed = now;
    // Map order is use order: the first entry is the least recently used.
    this.byId.delete(id);
    this.byId.set(id, s);
    return s;
  }

  end(id: string | undefined): void {
    if (id) this.byId.delete(id);
  }

  /** The session a request's cookie names (@fastify/cookie parses it), or null. */
  fromRequest(req: FastifyRequest): Session | null {
    const cookies = (req as FastifyRequest & { cookies?: Record<string, string | undefined> }).cookies;
    return this.get(cookies?.[SESSION_COOKIE]);
  }

  private evictOldest(): void {
    const first = this.byId.keys().next();
    if (!first.done) this.byId.delete(first.value);
  }
}

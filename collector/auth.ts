import { createHash, timingSafeEqual } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import type { Role } from './config.js';
import { ClientCertificateError, ForbiddenError, UnauthorizedError } from './errors.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Bearer tokens, kept only as SHA-256 digests and compared in constant time
 * (digests have equal length, so timingSafeEqual never short-cuts).
 */
export class TokenSet {
  private readonly entries: { name: string; role: Role | null; hash: Buffer }[];

  constructor(tokens: { name: string; secret: string; role?: Role }[]) {
    this.entries = tokens.map((t) => ({ name: t.name, role: t.role ?? null, hash: digest(t.secret) }));
  }

  get size(): number {
    return this.entries.length;
  }

  /** The token the presented Authorization header is, or null. */
  identify(header: string | undefined): { name: string; role: Role | null } | null {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!m) return null;
    const presented = digest(m[1]);
    let found: { name: string; role: Role | null } | null = null;
    // Every entry is compared, whether or not one already matched.
    for (const e of this.entries) if (timingSafeEqual(presented, e.hash) && found === null) found = { name: e.name, role: e.role };
    return found;
  }

  /** The name the presented Authorization header belongs to, or null. */
  verify(header: string | undefined): string | null {
    return this.identify(header)?.name ?? null;
  }
}

/**
 * An onRequest hook that refuses requests without a token of the set and
 * names the token's owner on the request (the sensor, for ingest).
 * `kind` names the token in the refusal: sensor, API, metrics.
 */
export function requireToken(set: TokenSet, kind: string): (req: FastifyRequest) => Promise<void> {
  return async (req) => {
    const name = set.verify(req.headers.authorization);
    if (name === null) throw new UnauthorizedError(kind);
    req.sensorName = name;
  };
}

/** Each role may do what the roles before it may. */
const RANK: Record<Role, number> = { viewer: 0, analyst: 1, admin: 2 };

/** True when `role` may do what `needed` may. */
export const roleAllows = (role: Role, needed: Role): boolean => RANK[role] >= RANK[needed];

/** Finds the web UI session a request's cookie names. */
export interface SessionLookup {
  fromRequest(req: FastifyRequest): { name: string; role: Role } | null;
}

/**
 * An onRequest hook for the analyst API: 401 without an API token, 403 when
 * the token's role is below `needed`. `action` says what was refused. With
 * `sessions`, a GET without a token may be made with the web UI's session
 * cookie instead (a download link in the UI); changes always need a token.
 */
export function requireRole(set: TokenSet, needed: Role, action: string, sessions?: SessionLookup): (req: FastifyRequest) => Promise<void> {
  return async (req) => {
    const byCookie = sessions && req.headers.authorization === undefined && (req.method === 'GET' || req.method === 'HEAD');
    const who = byCookie ? sessions.fromRequest(req) : set.identify(req.headers.authorization);
    if (who === null) throw new UnauthorizedError('API');
    const role = who.role ?? 'viewer';
    if (RANK[role] < RANK[needed]) {
      req.log.warn({ token: who.name, role, needed, route: `${req.method} ${req.routeOptions.url}` }, 'refused: role too low');
      throw new ForbiddenError(who.name, role, needed, action);
    }
    req.apiToken = { name: who.name, role };
  };
}

/**
 * With a client CA, an onRequest hook that lets through only connections
 * whose client certificate the CA signed. The TLS layer asks every client for
 * a certificate but lets the handshake finish without one, so that routes
 * other than ingest (browsers, Grafana) work with their tokens alone.
 */
export function requireClientCertificate(): (req: FastifyRequest) => Promise<void> {
  return async (req) => {
    const socket = req.raw.socket as TLSSocket;
    if (socket.authorized === true) return;
    const presented = typeof socket.getPeerCertificate === 'function' && Object.keys(socket.getPeerCertificate() ?? {}).length > 0;
    throw new ClientCertificateError(presented ? `the certificate presented was refused: ${socket.authorizationError ?? 'unknown reason'}` : 'none was presented');
  };
}

import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { UnauthorizedError } from './errors.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Bearer tokens, kept only as SHA-256 digests and compared in constant time
 * (digests have equal length, so timingSafeEqual never short-cuts).
 */
export class TokenSet {
  private readonly entries: { name: string; hash: Buffer }[];

  constructor(tokens: { name: string; secret: string }[]) {
    this.entries = tokens.map((t) => ({ name: t.name, hash: digest(t.secret) }));
  }

  get size(): number {
    return this.entries.length;
  }

  /** The name the presented Authorization header belongs to, or null. */
  verify(header: string | undefined): string | null {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!m) return null;
    const presented = digest(m[1]);
    let found: string | null = null;
    // Every entry is compared, whether or not one already matched.
    for (const e of this.entries) if (timingSafeEqual(presented, e.hash) && found === null) found = e.name;
    return found;
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

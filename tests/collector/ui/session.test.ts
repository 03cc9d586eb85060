// UI sessions end after being idle, at their absolute limit, at logout, and
// (the least recently used first) when the collector holds as many as it may.
import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, SESSION_COOKIE, Sessions } from '../../../collector/ui/session.js';

/** A clock the test moves (epoch seconds). */
function clock(start = 1_700_000_000) {
  let now = start;
  return { now: () => now, advance: (s: number) => (now += s) };
}

const limits = { absoluteS: 1000, idleS: 100, max: 3 };

describe('Sessions', () => {
  it('gives each login a new random id, holding the token name and role, never the secret', () => {
    const t = clock();
    const s = new Sessions(limits, t.now);
    const a = s.create('anna', 'viewer');
    const b = s.create('anna', 'viewer');
    expect(a.id).not.toBe(b.id);
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(s.get(a.id)).toMatchObject({ name: 'anna', role: 'viewer', created: t.now() });
    expect(s.get(undefined)).toBeNull();
    expect(s.get('not-a-session')).toBeNull();
  });

  it('ends a session left idle longer than the idle limit, and keeps one in use', () => {
    const t = clock();
    const s = new Sessions(limits, t.now);
    const used = s.create('anna', 'analyst');
    const idle = s.create('bob', 'analyst');
    for (let i = 0; i < 5; i++) {
      t.advance(90);
      expect(s.get(used.id), `use ${i}`).not.toBeNull();
    }
    // 450 s since bob's last request: past the 100 s idle limit, though within the absolute one.
    expect(s.get(idle.id)).toBeNull();
  });

  it('ends a session at exactly its idle limit plus a second, not before', () => {
    const t = clock();
    const s = new Sessions(limits, t.now);
    const a = s.create('anna', 'admin');
    t.advance(100);
    expect(s.get(a.id)).not.toBeNull();
    t.advance(101);
    expect(s.get(a.id)).toBeNull();
  });

  it('ends a session at the absolute limit however much it is used', () => {
    const t = clock();
    const s = new Sessions(limits, t.now);
    const a = s.create('anna', 'analyst');
    for (let elapsed = 0; elapsed + 50 <= 1000; elapsed += 50) {
      t.advance(50);
      expect(s.get(a.id), `after ${elapsed + 50} s`).not.toBeNull();
    }
    t.advance(50);
    expect(s.get(a.id)).toBeNull();
  });

  it('ends a session at logout, and only that one', () => {
    const s = new Sessions(limits, clock().now);
    const a = s.create('anna', 'viewer');
    const b = s.create('anna', 'viewer');
    s.end(a.id);
    s.end(undefined);
    expect(s.get(a.id)).toBeNull();
    expect(s.get(b.id)).not.toBeNull();
  });

  it('at the cap, ends the least recently used session to make room', () => {
    const t = clock();
    const s = new Sessions(limits, t.now);
    const [a, b, c] = ['a', 'b', 'c'].map((n) => {
      t.advance(1);
      return s.create(n, 'viewer');
    });
    t.advance(1);
    // a is used again: b is now the least recently used.
    expect(s.get(a.id)).not.toBeNull();
    const d = s.create('d', 'viewer');
    expect(s.get(b.id)).toBeNull();
    for (const kept of [a, c, d]) expect(s.get(kept.id), kept.name).not.toBeNull();
    // Each new one past the cap ends one more, the least recently used (a, c, d were just used in that order).
    s.create('e', 'viewer');
    expect(s.get(a.id)).toBeNull();
    expect(s.get(c.id)).not.toBeNull();
  });

  it('finds the session of a request by its cookie', () => {
    const s = new Sessions(limits, clock().now);
    const a = s.create('anna', 'viewer');
    const req = (cookies: Record<string, string> | undefined) => ({ cookies }) as unknown as FastifyRequest;
    expect(s.fromRequest(req({ [SESSION_COOKIE]: a.id }))?.name).toBe('anna');
    expect(s.fromRequest(req({ other: a.id }))).toBeNull();
    expect(s.fromRequest(req(undefined))).toBeNull();
  });

  it('defaults to 2 hours idle and 12 hours absolute, as the README says', () => {
    expect(DEFAULT_LIMITS).toMatchObject({ idleS: 2 * 3600, absoluteS: 12 * 3600 });
  });
});

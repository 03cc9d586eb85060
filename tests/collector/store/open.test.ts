// Opening a store from a database URL: every spelling, refusals that name
// the problem without leaking a password.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { StoreError } from '../../../collector/errors.js';
import { openStore, sqlitePath } from '../../../collector/store/open.js';
import { BACKENDS, tmp } from './backends.js';

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test('sqlitePath takes sqlite:PATH, sqlite://PATH and a bare PATH.db, and nothing with another scheme', () => {
  expect(sqlitePath('sqlite:./x.db')).toBe('./x.db');
  expect(sqlitePath('sqlite:///abs/file.db')).toBe('/abs/file.db');
  expect(sqlitePath('SQLITE:data/x')).toBe('data/x');
  expect(sqlitePath('/var/lib/phonehome/p.db')).toBe('/var/lib/phonehome/p.db');
  expect(sqlitePath('http://x/y.db')).toBeNull();
  expect(sqlitePath('phonehome')).toBeNull();
});

describe.each(BACKENDS)('openStore on $name', (backend) => {
  beforeAll(() => backend.setup(), 120_000);
  afterAll(() => backend.teardown(), 60_000);

  test('openStore accepts each URL spelling', async () => {
    for (const u of await backend.urlForms()) {
      const s = await openStore(u);
      expect(s.kind, u).toBe(backend.name);
      await s.close();
    }
  });

  test('openStore refuses a URL it does not know, and names what it could not reach', async () => {
    for (const bad of ['mysql://root:hunter2@db/phonehome', 'phonehome', '', 'sqlite:', 'http://x/y.db']) {
      const e = await openStore(bad).catch((x: unknown) => x);
      expect(e, bad).toBeInstanceOf(StoreError);
      expect(e).toMatchObject({ code: 'BAD_URL' });
      expect((e as Error).message).toContain('database URL must be sqlite:PATH or postgres://..., got');
      expect((e as Error).message).not.toContain('hunter2');
    }
    const { url: down, named } = backend.unreachable();
    const e = await openStore(down).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StoreError);
    expect(e).toMatchObject({ code: 'UNREACHABLE' });
    expect((e as Error).message).toContain(named);
    expect((e as Error).message).not.toContain('secret');
  });
});

// The schema is written once and rendered per dialect.
import { describe, expect, test } from 'vitest';
import { LATEST_VERSION, MIGRATIONS, SCHEMA_MIGRATIONS_DDL, migrationStatements } from '../../../collector/store/schema.js';

describe('schema', () => {
  test('versions run from 1 up without gaps, and the latest is the highest', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(LATEST_VERSION).toBe(MIGRATIONS.length);
  });

  test('both dialects get the same statements, differing only in column types, but for a migration named as PostgreSQL-only, which SQLite skips', () => {
    for (const m of MIGRATIONS) {
      const lite = migrationStatements(m, 'sqlite');
      const pg = migrationStatements(m, 'postgres');
      if (m.name.endsWith('(PostgreSQL)')) {
        expect([lite, pg.length > 0]).toEqual([[], true]);
        continue;
      }
      expect(pg).toHaveLength(lite.length);
      const shape = (sql: string) => sql.replace(/TEXT COLLATE "C"|DOUBLE PRECISION|BIGINT|BYTEA|TEXT|REAL|INTEGER|BLOB/g, 'T');
      expect(pg.map(shape)).toEqual(lite.map(shape));
    }
  });

  test('PostgreSQL text sorts by bytes, as SQLite does, whatever the server locale', () => {
    const pg = MIGRATIONS.flatMap((m) => migrationStatements(m, 'postgres')).join('\n');
    expect(pg).not.toMatch(/\bTEXT\b(?! COLLATE "C")/);
    expect(SCHEMA_MIGRATIONS_DDL('postgres')).toContain('TEXT COLLATE "C"');
    expect(MIGRATIONS.flatMap((m) => migrationStatements(m, 'sqlite')).join('\n')).not.toContain('COLLATE');
  });

  test('no statement contains `?`: the PostgreSQL driver rewrites every one into a placeholder', () => {
    for (const d of ['sqlite', 'postgres'] as const) {
      for (const sql of [SCHEMA_MIGRATIONS_DDL(d), ...MIGRATIONS.flatMap((m) => migrationStatements(m, d))]) expect(sql).not.toContain('?');
    }
  });
});

// The README describes the tree as it is: every folder of the Layout section
// exists and every source folder is in it; the error table lists exactly
// the sensor's error codes.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/repo.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const section = (name: string, text = readme) => text.split(`<!-- ${name}:begin -->`)[1]?.split(`<!-- ${name}:end -->`)[0] ?? '';

/** Codes in an error catalogue's source, and in a README's error table. */
const catalogueCodes = (file: string) => new Set([...readFileSync(join(ROOT, file), 'utf8').matchAll(/'([A-Z][A-Z_]+)'/g)].map((m) => m[1]));
const tableCodes = (text: string) => new Set([...section('errors', text).matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]));

/** Folders a newcomer looks for: the top level, and the stages of the sensor, detection and the collector. */
function folders(): string[] {
  const dirs = (rel: string) => readdirSync(join(ROOT, rel)).filter((n) => statSync(join(ROOT, rel, n)).isDirectory()).map((n) => (rel === '.' ? `${n}/` : `${rel}/${n}/`));
  const top = dirs('.').filter((d) => !['node_modules/', 'dist/', '.git/'].includes(d));
  return [...top, ...dirs('sensor'), ...dirs('sensor/detect'), ...dirs('collector'), ...dirs('rules')];
}

describe('README', () => {
  const listed = section('layout').split('\n').map((l) => l.split(/\s{2,}/)[0]).filter((p) => p.endsWith('/'));

  it('every folder in Layout exists', () => {
    expect(listed.length).toBeGreaterThan(10);
    expect(listed.filter((p) => !existsSync(join(ROOT, p)))).toEqual([]);
  });

  it('every top-level, sensor, detection, collector and rules folder is in Layout', () => {
    expect(folders().filter((f) => !listed.includes(f))).toEqual([]);
  });

  it('the error table lists exactly the error codes of sensor/errors.ts', () => {
    const codes = catalogueCodes('sensor/errors.ts');
    expect(codes.size).toBeGreaterThan(5);
    expect([...tableCodes(readme)].sort()).toEqual([...codes].sort());
  });

  it("collector/README.md's error table lists exactly the codes of collector/errors.ts", () => {
    const codes = catalogueCodes('collector/errors.ts');
    expect(codes.size).toBeGreaterThan(5);
    expect([...tableCodes(readFileSync(join(ROOT, 'collector/README.md'), 'utf8'))].sort()).toEqual([...codes].sort());
  });
});

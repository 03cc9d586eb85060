// Functions short enough to read at once: none in the shipped code runs past
// 80 lines. Measured by the TypeScript compiler's own parse, from a
// function's first line to its last.
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/repo.js';

const MAX_LINES = 80;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/** Every function, method, accessor, constructor and arrow function with a body, and its length in lines. */
function functionLengths(file: string): { name: string; lines: number }[] {
  const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: { name: string; lines: number }[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isFunctionLike(n) && 'body' in n && n.body) {
      const first = src.getLineAndCharacterOfPosition(n.getStart(src)).line;
      const last = src.getLineAndCharacterOfPosition(n.getEnd()).line;
      const name = n.name && ts.isIdentifier(n.name) ? n.name.text : '(anonymous)';
      out.push({ name: `${relative(ROOT, file)}:${first + 1} ${name}`, lines: last - first + 1 });
    }
    ts.forEachChild(n, visit);
  };
  visit(src);
  return out;
}

describe('functions', () => {
  it('the parse finds functions, methods and arrows, and counts their lines', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'phonehome-fn-')), 'sample.ts');
    writeFileSync(file, 'export function three() {\n  return 3;\n}\nclass C {\n  m(): number {\n    const f = () => 1;\n    return f();\n  }\n}\n');
    expect(functionLengths(file).map((f) => [f.name.replace(/^.*sample\.ts:/, ''), f.lines])).toEqual([['1 three', 3], ['5 m', 4], ['6 (anonymous)', 1]]);
  });

  it(`no function in sensor/, collector/ or contract/ is longer than ${MAX_LINES} lines`, () => {
    const long = ['sensor', 'collector', 'contract']
      .flatMap((d) => sources(join(ROOT, d)))
      .flatMap(functionLengths)
      .filter((f) => f.lines > MAX_LINES)
      .map((f) => `${f.name}: ${f.lines} lines`);
    expect(long).toEqual([]);
  });
});

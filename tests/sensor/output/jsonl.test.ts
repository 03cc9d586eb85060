// JsonlWriter writes one JSON document per line, in order, whatever the
// records hold (newlines, U+2028, astral characters) and however large they
// are; Python's json module, an independent parser, reads every line back.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JsonlWriter } from '../../../sensor/output/jsonl.js';

const tmp = mkdtempSync(join(tmpdir(), 'phonehome-jsonl-'));
let n = 0;
const file = () => join(tmp, `out-${n++}.jsonl`);

/** Python's reading of a JSON Lines file: the number of lines, and each line re-serialised with sorted keys. */
function python(path: string): { lines: number; canonical: string[] } {
  const out = execFileSync('python3', ['-c', `
import json, sys
lines = open(sys.argv[1], encoding='utf-8', newline='\\n').read().split('\\n')
assert lines[-1] == '', 'no newline after the last record'
docs = [json.loads(l) for l in lines[:-1]]
print(json.dumps({'lines': len(docs), 'canonical': [json.dumps(d, sort_keys=True, ensure_ascii=True, separators=(',', ':')) for d in docs]}))
`, path], { maxBuffer: 1 << 28 });
  return JSON.parse(out.toString());
}

/** Python's key order: by code point (JavaScript's default sort is by UTF-16 unit). */
function byCodePoint(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0)!);
  const y = Array.from(b, (c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/** The same canonical form in JavaScript: keys sorted, everything outside ASCII space..~ escaped as Python does. */
function canonical(v: unknown): string {
  const text = (x: unknown): string => {
    if (Array.isArray(x)) return `[${x.map(text).join(',')}]`;
    if (x && typeof x === 'object') {
      const o = x as Record<string, unknown>;
      return `{${Object.keys(o).sort(byCodePoint).map((k) => `${JSON.stringify(k)}:${text(o[k])}`).join(',')}}`;
    }
    return JSON.stringify(x);
  };
  return text(v).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

describe('JsonlWriter', () => {
  it('random records: one line each, in order, each parsed by Python to the same value', () => {
    // numbers as integers: float text differs between Python and JavaScript, not the value
    const rec = fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue({ maxDepth: 3 }).filter((v) => !/\d[.eE]/.test(JSON.stringify(v))));
    const records = fc.sample(rec, { numRuns: 600, seed: 3 });
    const f = file();
    const w = new JsonlWriter(f);
    for (const r of records) w.write(r);
    w.close();
    expect(w.count).toBe(records.length);
    const py = python(f);
    expect(py.lines).toBe(records.length);
    expect(py.canonical).toEqual(records.map(canonical));
  });

  it('strings with newlines, carriage returns, U+2028/U+2029 and astral characters stay on their line', () => {
    const f = file();
    const w = new JsonlWriter(f);
    const tricky = ['a\nb', 'c\r\nd', 'e\u2028f\u2029g', '😀 \u0000 \t "quoted" \\', 'lone surrogate \ud800'];
    for (const s of tricky) w.write({ s });
    w.close();
    const lines = readFileSync(f, 'utf8').split('\n');
    expect(lines).toHaveLength(tricky.length + 1);
    expect(lines.slice(0, -1).map((l) => JSON.parse(l).s)).toEqual(tricky);
    expect(python(f).lines).toBe(tricky.length);
  });

  it('a 40 MB record between small ones is written whole and in its place', () => {
    const f = file();
    const w = new JsonlWriter(f);
    const huge = { kind: 'huge', blob: 'x'.repeat(20 << 20), more: '€'.repeat(5 << 20) };
    w.write({ i: 0 });
    w.write(huge);
    w.write({ i: 2 });
    w.close();
    const text = readFileSync(f, 'utf8');
    const lines = text.split('\n');
    expect(lines).toHaveLength(4);
    expect(JSON.parse(lines[0])).toEqual({ i: 0 });
    expect(JSON.parse(lines[1])).toEqual(huge);
    expect(JSON.parse(lines[2])).toEqual({ i: 2 });
    // 20 MiB of 'x' and 5 Mi three-byte euro signs, plus the framing
    expect(statSync(f).size).toBe(Buffer.byteLength(text));
    expect(statSync(f).size).toBeGreaterThan((20 << 20) + 3 * (5 << 20));
  });

  it('thousands of records across many 1 MiB flushes keep their order; writeLine takes ready-made JSON', () => {
    const f = file();
    const w = new JsonlWriter(f);
    const pad = 'p'.repeat(700);
    for (let i = 0; i < 6000; i++) {
      if (i % 3 === 0) w.writeLine(JSON.stringify({ i, pad }));
      else w.write({ i, pad });
    }
    w.close();
    const lines = readFileSync(f, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l).i)).toEqual(Array.from({ length: 6000 }, (_, i) => i));
    expect(w.count).toBe(6000);
  });

  it('lines of multi-byte characters across many flushes are the UTF-8 of the JSON text, byte for byte, with C1 and DEL escaped', () => {
    const f = file();
    const w = new JsonlWriter(f);
    const expected: string[] = [];
    for (let i = 0; i < 3000; i++) {
      // 3-byte euro signs and 4-byte emoji push lines across the 1 MiB flush points at every offset
      const rec = { i, s: '€'.repeat(i % 701), e: '😀'.repeat(i % 97), c1: i % 5 === 0 ? 'a\u009bb\u007f' : 'plain' };
      w.write(rec);
      expected.push(JSON.stringify(rec).replace('\u009b', '\\u009b').replace('\u007f', '\\u007f'));
    }
    w.close();
    expect(readFileSync(f).equals(Buffer.from(`${expected.join('\n')}\n`, 'utf8'))).toBe(true);
    expect(statSync(f).size).toBeGreaterThan(3 << 20);
  });

  it('records are batched until flush or close; the file is replaced, not appended to', () => {
    const f = file();
    writeFileSync(f, 'old content\n');
    const w = new JsonlWriter(f);
    expect(statSync(f).size).toBe(0);
    w.write({ a: 1 });
    w.write({ b: 2 });
    expect(statSync(f).size).toBe(0);
    w.flush();
    expect(readFileSync(f, 'utf8')).toBe('{"a":1}\n{"b":2}\n');
    w.flush();
    w.write({ c: 3 });
    w.close();
    expect(readFileSync(f, 'utf8')).toBe('{"a":1}\n{"b":2}\n{"c":3}\n');
  });
});

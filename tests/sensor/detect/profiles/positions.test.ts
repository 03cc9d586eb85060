// The JSON position scanner on its own: where a syntax error is, and where a
// value starts. The MUD tests check the messages built from these.
import { describe, expect, it } from 'vitest';
import { JsonLines, jsonSyntaxError, lineAt } from '../../../../sensor/detect/profiles/positions.js';

describe('jsonSyntaxError', () => {
  it('finds nothing wrong with valid JSON', () => {
    for (const text of ['{}', '[]', ' 1 ', '"a\\u00e9\\n"', '{"a": [1, -2.5e3, true, false, null, {"b": "c"}]}\n']) {
      expect(jsonSyntaxError(text), text).toBeNull();
    }
  });

  it('gives the line and what is wrong', () => {
    expect(jsonSyntaxError('{\n  "a": 1,\n}')).toEqual({ line: 3, detail: 'expected a property name in double quotes, found "}"' });
    expect(jsonSyntaxError('[1\n 2]')).toEqual({ line: 2, detail: 'expected "," or "]" after an array element, found "2"' });
    expect(jsonSyntaxError('{"a" 1}')).toEqual({ line: 1, detail: 'expected ":" after property name, found "1"' });
    expect(jsonSyntaxError('\n\n"a\\x"')).toEqual({ line: 3, detail: 'invalid escape sequence in a string' });
    // an unclosed string is reported where it opens, not at the end of the text
    expect(jsonSyntaxError('[\n"abc')).toEqual({ line: 2, detail: 'string is never closed' });
  });

  it('gives up without a verdict on nesting too deep for it', () => {
    expect(jsonSyntaxError('['.repeat(100_000))).toBeNull();
  });
});

describe('JsonLines', () => {
  const text = JSON.stringify({ a: { 'b.c': [10, { d: null }] }, e: 'x' }, null, 2);

  it('gives the line where the value at a path starts', () => {
    const lines = new JsonLines(text);
    expect(lines.line([])).toBe(1);
    expect(lines.line(['a'])).toBe(2);
    expect(lines.line(['a', 'b.c'])).toBe(3);
    expect(lines.line(['a', 'b.c', 0])).toBe(4);
    expect(lines.line(['a', 'b.c', 1, 'd'])).toBe(6);
    expect(lines.line(['e'])).toBe(10);
  });

  it('gives null for a path the document does not have', () => {
    const lines = new JsonLines(text);
    expect(lines.line(['a', 'b'])).toBeNull();
    expect(lines.line(['a', 'b.c', 2])).toBeNull();
    expect(lines.line(['a', 'b.c', '0'])).toBeNull();
  });

  it('counts lines by line feeds', () => {
    expect(lineAt('a\nb\r\nc', 0)).toBe(1);
    expect(lineAt('a\nb\r\nc', 2)).toBe(2);
    expect(lineAt('a\nb\r\nc', 5)).toBe(3);
    expect(lineAt('a\n', 99)).toBe(2);
  });
});

// Wire strings made inert: terminalSafe writes every control character (C0,
// DEL, C1), bidirectional control, line separator and lone surrogate as an
// escape and leaves all other text as it is; jsonSafe gives JSON text that
// parses to the same value and holds none of them raw.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasUnsafeText, jsonSafe, terminalSafe, terminalSafeLines } from '../../contract/escape.js';

/** What a terminal or a reader could act on, as characters of a JS string. */
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069]|[\ud800-\udfff]/u;

describe('terminalSafe', () => {
  it('writes ESC, BEL and the other C0 characters, and DEL, as \\xNN', () => {
    expect(terminalSafe('\x1b]0;owned\x07\x1b[2J')).toBe('\\x1b]0;owned\\x07\\x1b[2J');
    expect(terminalSafe('a\tb\nc\rd\x00e\x7f')).toBe('a\\x09b\\x0ac\\x0dd\\x00e\\x7f');
  });

  it('writes C1 characters (CSI U+009B, NEL U+0085) as \\u00NN', () => {
    expect(terminalSafe('x\u009b2Jy\u0085z\u0080\u009f')).toBe('x\\u009b2Jy\\u0085z\\u0080\\u009f');
  });

  it('writes bidirectional controls, U+2028/U+2029 and lone surrogates as \\uNNNN', () => {
    expect(terminalSafe('a\u202eb\u2066c\u200fd\u2028e\u2029')).toBe('a\\u202eb\\u2066c\\u200fd\\u2028e\\u2029');
    expect(terminalSafe('lone \ud800 and \udc00')).toBe('lone \\ud800 and \\udc00');
  });

  it('leaves printable text alone: ASCII, Latin-1 letters, CJK, emoji (surrogate pairs), the backslash', () => {
    for (const s of ['cam-01.local', 'ÿþ Ã© café', '摄像头', 'hub 🙂', 'C:\\path', '\u00a0nbsp']) {
      expect(terminalSafe(s)).toBe(s);
      expect(hasUnsafeText(s)).toBe(false);
    }
  });

  it('never leaves an unsafe character, and changes only the unsafe ones', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const out = terminalSafe(s);
        expect(UNSAFE.test(out)).toBe(false);
        expect(hasUnsafeText(s)).toBe(out !== s);
      }),
      { numRuns: 2000 },
    );
  });

  it('terminalSafeLines keeps the line breaks between lines and escapes the rest', () => {
    expect(terminalSafeLines('one\x1b[2J\ntwo\r')).toBe('one\\x1b[2J\ntwo\\x0d');
  });
});

describe('jsonSafe', () => {
  it('escapes what JSON.stringify leaves raw: DEL, C1, bidirectional controls, U+2028/U+2029', () => {
    expect(jsonSafe(JSON.stringify('a\x7fb\u009bc\u202ed\u2028'))).toBe('"a\\u007fb\\u009bc\\u202ed\\u2028"');
  });

  it('gives JSON that parses to the same value, with no unsafe character left raw', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string({ unit: 'binary' }), (v, s) => {
        for (const value of [v, { s, v }]) {
          const text = jsonSafe(JSON.stringify(value));
          expect(UNSAFE.test(text)).toBe(false);
          expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
        }
      }),
      { numRuns: 1000 },
    );
  });
});

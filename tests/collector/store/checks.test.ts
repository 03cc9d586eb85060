// The value checks that make SQLite refuse what PostgreSQL's column types
// refuse, so both backends refuse the same events.
import { describe, expect, test } from 'vitest';
import { base64, int, Invalid, num, obj, optStr, str } from '../../../collector/store/checks.js';

describe('value checks', () => {
  test('strings: non-empty where required; a NUL becomes U+FFFD', () => {
    expect(str('a', 'x')).toBe('a');
    expect(str('dns\u0000name', 'x')).toBe('dns\ufffdname');
    expect(() => str('', 'uid')).toThrow(new Invalid('uid must be a non-empty string'));
    expect(() => str(1, 'uid')).toThrow(Invalid);
    expect(optStr(null, 'x')).toBeNull();
    expect(optStr(undefined, 'x')).toBeNull();
    expect(optStr('', 'x')).toBe('');
    expect(() => optStr(5, 'src_mac')).toThrow(new Invalid('src_mac must be a string or null'));
  });

  test('numbers: finite; integers safe and non-negative (SQLite would keep 1.5 in an INTEGER column)', () => {
    expect(num(1.5, 'ts')).toBe(1.5);
    for (const bad of [NaN, Infinity, '1', null]) expect(() => num(bad, 'ts'), String(bad)).toThrow(new Invalid('ts must be a finite number'));
    expect(int(0, 'n')).toBe(0);
    for (const bad of [1.5, -1, 2 ** 53, '3']) expect(() => int(bad, 'src_bytes'), String(bad)).toThrow(new Invalid('src_bytes must be a non-negative integer'));
  });

  test('objects: not null, not arrays', () => {
    expect(obj({ a: 1 }, 'data')).toEqual({ a: 1 });
    for (const bad of [null, [], 'x', 1]) expect(() => obj(bad, 'data')).toThrow(new Invalid('data must be an object'));
  });

  test('base64: whitespace ignored, anything Buffer.from would silently skip refused', () => {
    expect(base64('aGVs\nbG8=', 'pcap_base64')).toEqual(Buffer.from('hello'));
    expect(base64('', 'pcap_base64')).toEqual(Buffer.alloc(0));
    for (const bad of ['not base64!', 'aGVsbG8', 'aGVs-G8=', 42]) expect(() => base64(bad, 'pcap_base64'), String(bad)).toThrow(new Invalid('pcap_base64 must be base64'));
  });
});

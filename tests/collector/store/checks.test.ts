// What makes the store refuse one event: the contract's schema checked
// strictly, and the value checks that make SQLite refuse what PostgreSQL's
// column types refuse, so both backends refuse the same events.
import { describe, expect, test } from 'vitest';
import { base64, checkEvent, int, Invalid, num, obj, optStr, Refusal, str, strictAjv } from '../../../collector/store/checks.js';

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

describe('event checks', () => {
  const refusal = (ev: unknown): [string, string] | null => {
    try {
      checkEvent(ev);
      return null;
    } catch (e) {
      expect(e).toBeInstanceOf(Refusal);
      return [(e as Refusal).code, (e as Refusal).reason];
    }
  };
  const evidence = { kind: 'evidence', key: 'e1', data: { alert_id: 'a1', pcap_base64: 'AAAA' } };

  test('a valid event passes and names its kind and key', () => {
    expect(checkEvent(evidence)).toEqual({ kind: 'evidence', key: 'e1' });
  });

  test('no coercion: a number as text, a boolean as a number, a list for a string are refused at their path', () => {
    expect(refusal({ ...evidence, data: { ...evidence.data, alert_id: 5 } })).toEqual(['invalid_event', 'data.alert_id must be string, got number']);
    expect(refusal({ ...evidence, key: ['e1'] })).toEqual(['invalid_event', 'key must be string, got an array']);
    expect(refusal({ ...evidence, data: { alert_id: 'a1' } })).toEqual(['invalid_event', 'data.pcap_base64 is required']);
    expect(refusal({ ...evidence, kind: 'Evidence' })).toEqual(['unknown_kind', 'kind "Evidence" is not one of flow, alert, device, evidence']);
    expect(refusal({ ...evidence, kind: 'x'.repeat(100) })?.[1]).toBe(`kind "${'x'.repeat(39)}… is not one of flow, alert, device, evidence`);
  });

  test("the collector's Ajv leaves values as sent (Fastify's default would turn true into 1)", () => {
    const data = { n: true };
    expect(strictAjv().compile({ type: 'object', properties: { n: { type: 'number' } } })(data)).toBe(false);
    expect(data.n).toBe(true);
  });
});

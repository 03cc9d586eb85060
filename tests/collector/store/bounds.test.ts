// The bounds on an event's JSON, and serialising and reading records back
// without recursion, on values nested far deeper than any stack allows.
import { describe, expect, test } from 'vitest';
import { boundedJson, checkBounds, LIMITS, parseRecord } from '../../../collector/store/bounds.js';

/** An array nested n levels deep, built without recursion. */
function nested(n: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = [v];
  return v;
}

describe('checkBounds', () => {
  test('32 levels pass, 33 are too deep, named by path; 1,000,000 levels are walked without overflowing', () => {
    expect(checkBounds({ data: nested(31) })).toBeNull();
    expect(checkBounds({ data: [nested(31)] })).toEqual({ code: 'too_deep', reason: `data${'[0]'.repeat(31)} nests deeper than 32 levels` });
    expect(checkBounds(nested(1_000_000))?.code).toBe('too_deep');
  });

  test('strings, field names, arrays and objects over their bounds are too large; the exempt path is not', () => {
    const long = 'x'.repeat(LIMITS.stringChars + 1);
    expect(checkBounds({ data: { name: 'x'.repeat(LIMITS.stringChars) } })).toBeNull();
    expect(checkBounds({ data: { 'odd key': long } })).toEqual({ code: 'too_large', reason: `data["odd key"] is ${long.length} characters long; at most ${LIMITS.stringChars} are taken` });
    expect(checkBounds({ data: { [long]: 1 } })?.reason).toBe(`a field name in data is ${long.length} characters long; at most ${LIMITS.stringChars} are taken`);
    expect(checkBounds({ data: { list: Array(LIMITS.arrayItems + 1).fill(0) } })?.reason).toBe(`data.list has ${LIMITS.arrayItems + 1} items; at most ${LIMITS.arrayItems} are taken`);
    expect(checkBounds({ data: Object.fromEntries(Array.from({ length: LIMITS.objectFields + 1 }, (_, i) => [`f${i}`, i])) })?.code).toBe('too_large');
    expect(checkBounds({ data: { pcap_base64: long } }, 'data.pcap_base64')).toBeNull();
    expect(checkBounds({ data: { other: long } }, 'data.pcap_base64')?.code).toBe('too_large');
  });
});

describe('boundedJson', () => {
  test('is JSON.stringify when the text fits', () => {
    const v = { a: [1, 'two', null, true, { 'x"y': -0.5 }], b: {}, c: [], d: 'é\u0000\u001b' };
    expect(boundedJson(v, 1000)).toEqual({ text: JSON.stringify(v), truncated: false });
  });

  test('cuts at the bound, at any depth', () => {
    expect(boundedJson({ s: 'abcdef' }, 8)).toEqual({ text: '{"s":"ab', truncated: true });
    expect(boundedJson(nested(2_000_000), 100)).toEqual({ text: '['.repeat(100), truncated: true });
  });
});

describe('parseRecord', () => {
  test('parses as JSON.parse does within the bound, and replaces what lies deeper with null', () => {
    const text = '{"a":[{"b":1}],"c":"d"}';
    expect(parseRecord(text)).toEqual(JSON.parse(text));
    const deep = parseRecord<unknown[]>(`${'['.repeat(100_000)}${']'.repeat(100_000)}`);
    expect(JSON.stringify(deep)).toBe(`${'['.repeat(LIMITS.depth)}null${']'.repeat(LIMITS.depth)}`);
  });
});

// Decode warnings are counts by kind, and any string is a kind: names that
// are also Object.prototype members count like any other.
import { describe, expect, it } from 'vitest';
import { DecodeWarnings } from '../../../sensor/decode/warnings.js';

describe('DecodeWarnings', () => {
  it('counts each kind and totals them', () => {
    const w = new DecodeWarnings();
    expect(w.total).toBe(0);
    const kinds = ['tcp_truncated', 'ipv4_fragment', 'tcp_truncated', 'unsupported_linktype_147', 'tcp_truncated'];
    for (const k of kinds) w.add(k);
    expect({ ...w.counts }).toEqual({ tcp_truncated: 3, ipv4_fragment: 1, unsupported_linktype_147: 1 });
    expect(w.total).toBe(kinds.length);
  });

  it('kinds named like Object.prototype members count from zero', () => {
    const w = new DecodeWarnings();
    for (const k of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'constructor']) w.add(k);
    expect(w.counts.constructor).toBe(2);
    expect(w.counts.toString).toBe(1);
    expect(w.counts.hasOwnProperty).toBe(1);
    expect(Object.getOwnPropertyDescriptor(w.counts, '__proto__')?.value).toBe(1);
    expect(w.total).toBe(5);
    // and the counts still serialise as plain data
    expect(JSON.stringify(w.counts)).toBe('{"constructor":2,"toString":1,"__proto__":1,"hasOwnProperty":1}');
  });
});

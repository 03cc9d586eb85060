// grouped() writes numbers exactly as toLocaleString('en-US') does (the
// oracle), for whole numbers of every size and sign and for the rest.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { grouped } from '../../../sensor/util/format.js';

describe('grouped', () => {
  it("writes whole numbers as toLocaleString('en-US') does", () => {
    for (const n of [0, 7, 999, 1000, 12_345, 999_999, 1_000_000, 1_934_210, -1, -1000, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER]) {
      expect(grouped(n), String(n)).toBe(n.toLocaleString('en-US'));
    }
    fc.assert(fc.property(fc.maxSafeInteger(), (n) => grouped(n) === n.toLocaleString('en-US')), { numRuns: 5000 });
  });

  it('leaves other numbers to toLocaleString', () => {
    for (const n of [0.5, 1234.5678, 1e21, Number.NaN, Number.POSITIVE_INFINITY]) expect(grouped(n)).toBe(n.toLocaleString('en-US'));
  });
});

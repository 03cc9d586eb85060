// The unchecked integer readers give what Buffer's own (checked) readers give,
// at every offset of random data.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { u16, u32, u32le } from '../../../sensor/util/bytes.js';

const data = fc.uint8Array({ minLength: 4, maxLength: 64 }).map((a) => Buffer.from(a));

describe('bytes', () => {
  it('u16 is readUInt16BE, u32 is readUInt32BE and u32le is readUInt32LE at every in-bounds offset', () => {
    fc.assert(
      fc.property(data, (b) => {
        for (let o = 0; o + 2 <= b.length; o++) expect(u16(b, o)).toBe(b.readUInt16BE(o));
        for (let o = 0; o + 4 <= b.length; o++) {
          expect(u32(b, o)).toBe(b.readUInt32BE(o));
          expect(u32le(b, o)).toBe(b.readUInt32LE(o));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('32-bit values with the top bit set come back unsigned', () => {
    const b = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 0]);
    expect(u32(b, 0)).toBe(0xffffffff);
    expect(u32(b, 4)).toBe(0x80000000);
    expect(u32le(b, 1)).toBe(0x80ffffff);
    expect(u32le(b, 4)).toBe(0x80);
  });

  it('reads inside a Buffer that is a view into a larger ArrayBuffer', () => {
    const whole = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const view = whole.subarray(5, 13);
    expect(u16(view, 0)).toBe(0x5566);
    expect(u32(view, 4)).toBe(0x99aabbcc);
    expect(u32le(view, 4)).toBe(0xccbbaa99);
  });
});

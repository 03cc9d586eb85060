// Hostile input for the payload-fact parsers: mutations of real messages
// (bit flips, truncation, inserted and deleted bytes, zeroed length fields),
// the same bytes at different offsets of a bigger buffer, and ranges that
// lie outside the buffer. A parser must never throw, read outside its slice
// or give a different answer for the same bytes elsewhere.
import fc from 'fast-check';
import { expect } from 'vitest';

export type SliceParser = (b: Buffer, off: number, len: number) => unknown;

function mutate(seed: Buffer, muts: [number, number, number][]): Buffer {
  const out = [...seed];
  for (const [kind, pos, value] of muts) {
    const at = out.length === 0 ? 0 : pos % (out.length + 1);
    if (kind === 0 && at < out.length) out[at] ^= 1 << (value & 7);
    else if (kind === 1 && at < out.length) out[at] = value;
    else if (kind === 2) out.length = at;
    else if (kind === 3) out.splice(at, 0, value, value ^ 0xc0);
    else if (kind === 4) out.splice(at, 1 + (value & 7));
    else if (kind === 5 && at + 1 < out.length) [out[at], out[at + 1]] = [0xff, value];
  }
  return Buffer.from(out);
}

/** Runs `parse` over mutated seeds, every prefix of each seed, and bad ranges. */
export function checkHostile(parse: SliceParser, seeds: Buffer[], runs = 3000): void {
  for (const s of seeds) {
    for (let n = 0; n <= s.length; n++) expect(() => parse(s, 0, n)).not.toThrow();
  }
  const bad = seeds[0];
  for (const [off, len] of [[-1, 4], [0, bad.length + 1], [bad.length, 1], [1.5, 2], [0, -3], [Number.NaN, 1]]) {
    const r = parse(bad, off, len);
    expect(r === null || (Array.isArray(r) && r.length === 0), `${off}, ${len}`).toBe(true);
  }
  fc.assert(
    fc.property(
      fc.nat(seeds.length - 1),
      fc.array(fc.tuple(fc.nat(5), fc.nat(10_000), fc.nat(255)), { minLength: 1, maxLength: 6 }),
      fc.uint8Array({ maxLength: 40 }),
      fc.uint8Array({ maxLength: 40 }),
      (i, muts, before, after) => {
        const m = mutate(seeds[i], muts);
        const alone = JSON.stringify(parse(m, 0, m.length));
        const inside = Buffer.concat([before, m, after]);
        // Surrounded by copies of itself, an over-read finds plausible bytes rather than noise.
        const copies = Buffer.concat([m, m, m]);
        expect(JSON.stringify(parse(inside, before.length, m.length))).toBe(alone);
        expect(JSON.stringify(parse(copies, m.length, m.length))).toBe(alone);
      },
    ),
    { numRuns: runs, seed: 1313 },
  );
}

// The alpha-2 code of every country world-atlas draws, checked against the
// maintained ISO 3166-1 list the table was generated from (Debian's
// iso-codes) where it is installed.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { alpha2Of } from '../../../collector/ui/countries.js';

const require = createRequire(import.meta.url);
const ISO_CODES = '/usr/share/iso-codes/json/iso_3166-1.json';
const atlas = JSON.parse(readFileSync(require.resolve('world-atlas/countries-110m.json'), 'utf8')) as {
  objects: { countries: { geometries: { id?: string; properties: { name: string } }[] } };
};
const shapes = atlas.objects.countries.geometries;

describe('alpha2Of', () => {
  it('gives every country of the atlas a two-letter code, each code once but for the regions GeoIP files under a country', () => {
    const codes = shapes.map((g) => alpha2Of(g.id, g.properties.name));
    expect(codes.filter((c) => c === null)).toEqual([]);
    expect(codes.every((c) => /^[A-Z]{2}$/.test(c!))).toBe(true);
    const twice = codes.filter((c, i) => codes.indexOf(c) !== i).sort();
    expect(twice).toEqual(['CY', 'SO']);
    expect(alpha2Of('156', 'China')).toBe('CN');
    expect(alpha2Of(840, 'United States of America')).toBe('US');
    expect(alpha2Of(undefined, 'Kosovo')).toBe('XK');
    expect(alpha2Of('999', 'Nowhere')).toBeNull();
  });

  it.skipIf(!existsSync(ISO_CODES))('agrees with the ISO 3166-1 list of iso-codes for every numeric id', () => {
    const iso = (JSON.parse(readFileSync(ISO_CODES, 'utf8')) as { '3166-1': { numeric: string; alpha_2: string }[] })['3166-1'];
    const byNumeric = new Map(iso.map((c) => [c.numeric, c.alpha_2]));
    const numbered = shapes.filter((g) => g.id !== undefined);
    expect(numbered.length).toBeGreaterThan(170);
    for (const g of numbered) expect(alpha2Of(g.id, g.properties.name), `${g.id} ${g.properties.name}`).toBe(byNumeric.get(g.id!));
  });
});

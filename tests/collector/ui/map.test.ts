// The world map of destination countries: every atlas country drawn, each
// country of the data shaded on a log scale by flows or bytes, a legend
// whose ranges follow each other, and names and codes escaped.
import { describe, expect, it } from 'vitest';
import { countryName, MAP_HEIGHT, MAP_WIDTH, SHADES, shadeOf, shadeUpper, worldMap, worldShapes } from '../../../collector/ui/map.js';

const paths = (svg: string) => [...svg.matchAll(/<path class="shade-(\d)" d="([^"]*)" data-country="([^"]*)"><title>([^<]*)<\/title><\/path>/g)].map((m) => ({ shade: Number(m[1]), d: m[2], country: m[3], title: m[4] }));

describe('worldMap', () => {
  it('draws every country of the atlas inside the view box', () => {
    const shapes = worldShapes();
    expect(shapes.length).toBe(177);
    for (const s of shapes) {
      expect(s.d, s.name).toMatch(/^M[\d.,-]+/);
      const nums = s.d.match(/-?\d+(\.\d+)?/g)!.map(Number);
      const xs = nums.filter((_, i) => i % 2 === 0);
      const ys = nums.filter((_, i) => i % 2 === 1);
      expect(Math.min(...xs), s.name).toBeGreaterThanOrEqual(-1);
      expect(Math.max(...xs), s.name).toBeLessThanOrEqual(MAP_WIDTH + 1);
      expect(Math.max(...ys), s.name).toBeLessThanOrEqual(MAP_HEIGHT + 1);
    }
    expect(countryName('CN')).toBe('China');
    expect(countryName('SG'), 'too small at 1:110m').toBeNull();
  });

  it('shades the countries of the data by flows, the others not at all, each with its numbers in its title', () => {
    const svg = worldMap([{ country: 'CN', flows: 1000, bytes: 10 }, { country: 'US', flows: 1, bytes: 5_000_000 }, { country: 'SG', flows: 7, bytes: 1 }], 'flows').text;
    const ps = paths(svg);
    expect(ps.length).toBe(177);
    const shaded = ps.filter((p) => p.shade > 0).map((p) => [p.country, p.shade, p.title]);
    expect(shaded.sort()).toEqual([
      ['CN', 5, 'China (CN): 1000 flows, 10 B out'],
      ['US', 1, 'United States of America (US): 1 flow, 5.0 MB out'],
    ]);
    expect(ps.find((p) => p.country === 'FR')).toMatchObject({ shade: 0, title: 'France' });
    // By bytes the order turns round.
    const byBytes = paths(worldMap([{ country: 'CN', flows: 1000, bytes: 10 }, { country: 'US', flows: 1, bytes: 5_000_000 }], 'bytes').text);
    expect(byBytes.find((p) => p.country === 'US')!.shade).toBe(5);
    expect(byBytes.find((p) => p.country === 'CN')!.shade).toBe(1);
  });

  it('puts values on a log scale: one flow is seen next to a million', () => {
    expect(shadeOf(0, 1e6)).toBe(0);
    expect(shadeOf(1, 1e6)).toBe(1);
    expect(shadeOf(1e6, 1e6)).toBe(SHADES);
    expect(shadeOf(1000, 1e6)).toBe(3);
    let last = 0;
    for (let v = 1; v <= 1e6; v *= 3) {
      const s = shadeOf(v, 1e6);
      expect(s).toBeGreaterThanOrEqual(last);
      last = s;
    }
  });

  it('has a legend whose ranges follow each other up to the largest value, and agree with the shades', () => {
    for (const max of [1, 2, 5, 37, 1000, 123_456]) {
      let lo = 1;
      for (let s = 1; s <= SHADES; s++) {
        const hi = shadeUpper(s, max);
        if (hi < lo) continue;
        expect(shadeOf(lo, max), `max ${max} shade ${s} from ${lo}`).toBe(s);
        expect(shadeOf(hi, max), `max ${max} shade ${s} to ${hi}`).toBe(s);
        lo = hi + 1;
      }
      expect(lo, `max ${max}`).toBe(max + 1);
    }
    const legend = worldMap([{ country: 'CN', flows: 5, bytes: 1 }], 'flows').text.match(/<ul class="map-legend".*<\/ul>/s)![0];
    expect(legend.replace(/<[^>]+>/g, '|').split('|').filter((x) => x.trim())).toEqual(['1 flow', '2 to 3 flows', '4 to 5 flows', 'none']);
  });

  it('escapes a country code that is not one', () => {
    const svg = worldMap([{ country: '"><script>x</script>', flows: 1, bytes: 1 }], 'flows').text;
    expect(svg).not.toContain('<script>');
    expect(paths(svg).every((p) => p.shade === 0)).toBe(true);
  });
});

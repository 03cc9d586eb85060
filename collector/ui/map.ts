// A world map of destination countries, drawn on the server as SVG from
// world-atlas (Natural Earth 1:110m) with d3-geo: no script in the browser,
// and the shading is by class (the CSP allows no inline style). The map is
// decoration; the table next to it carries the numbers, including countries
// too small to be drawn at this scale.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { geoNaturalEarth1, geoPath } from 'd3-geo';
import { feature } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';
import { alpha2Of } from './countries.js';
import { bytes as fmtBytes, html, type Html } from './html.js';

const require = createRequire(import.meta.url);

export const MAP_WIDTH = 960;
export const MAP_HEIGHT = 500;
/** Shade classes shade-1 (least) to shade-SHADES (most). */
export const SHADES = 5;

interface Shape {
  alpha2: string | null;
  name: string;
  d: string;
}

let shapes: Shape[] | null = null;

/** Every country of the atlas as an SVG path, projected once on first use. */
export function worldShapes(): Shape[] {
  if (shapes) return shapes;
  const topo = JSON.parse(readFileSync(require.resolve('world-atlas/countries-110m.json'), 'utf8')) as Topology<{ countries: GeometryCollection<{ name: string }> }>;
  const countries = feature(topo, topo.objects.countries);
  const projection = geoNaturalEarth1().fitSize([MAP_WIDTH, MAP_HEIGHT], countries);
  // Whole pixels of a 960-wide box: finer adds bytes to every device page, not detail.
  const path = geoPath(projection).digits(0);
  shapes = countries.features.map((f) => ({ alpha2: alpha2Of(f.id, f.properties.name), name: f.properties.name, d: path(f) ?? '' }));
  return shapes;
}

/** The atlas's name of a country, by its alpha-2 code (null when the atlas does not draw it). */
export function countryName(alpha2: string): string | null {
  return worldShapes().find((s) => s.alpha2 === alpha2)?.name ?? null;
}

export interface CountryValue {
  country: string;
  flows: number;
  bytes: number;
}

/**
 * The shade (1..SHADES) of a value on a logarithmic scale up to `max`: a
 * country with one flow is still seen next to one with a million.
 */
export function shadeOf(value: number, max: number): number {
  if (value <= 0 || max <= 0) return 0;
  return Math.min(SHADES, Math.max(1, Math.ceil((SHADES * Math.log1p(value)) / Math.log1p(max))));
}

/** The largest value shade `s` stands for. */
export function shadeUpper(s: number, max: number): number {
  return s >= SHADES ? max : Math.floor(Math.expm1((s * Math.log1p(max)) / SHADES));
}

const measure = (by: 'flows' | 'bytes') => (r: CountryValue) => (by === 'flows' ? r.flows : r.bytes);
const amount = (by: 'flows' | 'bytes', n: number): string => (by === 'flows' ? `${n} flow${n === 1 ? '' : 's'}` : `${fmtBytes(n)} out`);

function legend(by: 'flows' | 'bytes', max: number): Html {
  const steps = Array.from({ length: SHADES }, (_, i) => i + 1)
    .map((s) => ({ s, lo: s === 1 ? 1 : shadeUpper(s - 1, max) + 1, hi: shadeUpper(s, max) }))
    .filter((x) => x.hi >= x.lo);
  return html`<ul class="map-legend" id="map-legend">${steps.map((x) => html`<li><span class="swatch shade-${x.s}"></span>${x.lo === x.hi ? amount(by, x.hi) : `${by === 'flows' ? x.lo : fmtBytes(x.lo)} to ${amount(by, x.hi)}`}</li>`)}
<li><span class="swatch shade-0"></span>none</li></ul>`;
}

/** The map of `rows` (one per alpha-2 country code) shaded by flows or bytes, with its legend. */
export function worldMap(rows: readonly CountryValue[], by: 'flows' | 'bytes'): Html {
  const value = measure(by);
  const byCountry = new Map(rows.map((r) => [r.country, r]));
  const max = Math.max(0, ...rows.map(value));
  const paths = worldShapes().map((s) => {
    const r = s.alpha2 ? byCountry.get(s.alpha2) : undefined;
    const shade = r ? shadeOf(value(r), max) : 0;
    const title = r ? `${s.name} (${s.alpha2}): ${amount('flows', r.flows)}, ${amount('bytes', r.bytes)}` : s.name;
    return html`<path class="shade-${shade}" d="${s.d}" data-country="${s.alpha2 ?? ''}"><title>${title}</title></path>`;
  });
  return html`<figure class="world-map"><svg id="country-map" viewBox="0 0 ${MAP_WIDTH} ${MAP_HEIGHT}" role="img" aria-label="Destination countries shaded by ${by}">${paths}</svg>
<figcaption>Shaded by ${by === 'flows' ? 'flows' : 'bytes sent'}.</figcaption>${legend(by, max)}</figure>`;
}

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export interface Manufacturer {
  vendor: string;
  /** ISO 3166-1 alpha-2, from the last line of the registered address */
  country: string | null;
}

let registry: Record<string, string> | null = null;
// Withdrawn codes that CLDR still names like their successors (FX "France", SU "Russia", ...).
const WITHDRAWN = new Set(['AN', 'BU', 'CS', 'DD', 'DY', 'FX', 'HV', 'NH', 'RH', 'SU', 'TP', 'UK', 'VD', 'YD', 'YU', 'ZR']);
let countryCodes: Map<string, string> | null = null;

function load(): Record<string, string> {
  // oui-data is a 5 MB JSON file: loaded once, and only when a device needs naming.
  if (!registry) {
    const require = createRequire(import.meta.url);
    registry = JSON.parse(readFileSync(require.resolve('oui-data'), 'utf8')) as Record<string, string>;
  }
  return registry;
}

/** English country name (as the IEEE registry spells it, CLDR names) to its ISO code. */
function countryCode(name: string): string | null {
  if (!countryCodes) {
    countryCodes = new Map();
    const names = new Intl.DisplayNames(['en'], { type: 'region' });
    for (let a = 65; a <= 90; a++) {
      for (let b = 65; b <= 90; b++) {
        const code = String.fromCharCode(a, b);
        if (WITHDRAWN.has(code)) continue;
        let n: string | undefined;
        try {
          n = names.of(code);
        } catch {
          continue;
        }
        if (n && n !== code) countryCodes.set(n.toLowerCase(), code);
      }
    }
  }
  return countryCodes.get(name.trim().toLowerCase()) ?? null;
}

/** Manufacturer of a MAC (48-bit number) from the IEEE registry; null for unregistered and locally administered addresses. */
export function lookupManufacturer(mac: number): Manufacturer | null {
  const hex = mac.toString(16).padStart(12, '0').toUpperCase();
  // Locally administered (randomised) addresses belong to no manufacturer.
  if (parseInt(hex.slice(0, 2), 16) & 0x02) return null;
  const db = load();
  // MA-L is keyed by 24 bits; MA-M (28) and MA-S (36) blocks take precedence when present.
  const entry = db[hex.slice(0, 9)] ?? db[hex.slice(0, 7)] ?? db[hex.slice(0, 6)];
  if (!entry) return null;
  const lines = entry.split('\n');
  return { vendor: lines[0].trim(), country: lines.length > 1 ? countryCode(lines[lines.length - 1]) : null };
}
